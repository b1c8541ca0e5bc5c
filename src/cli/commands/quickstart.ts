/**
 * `forja quickstart`: the main job on the embedded default, in one command. Starts the
 * platform (SQLite, local processes, files under the data dir), applies the example
 * pipelines, runs `etl` and follows it, then prints where to look next and keeps serving
 * (or stops with --exit).
 */
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { ForjaClient } from "../../client/client.ts";
import { readClientConfig } from "../../client/config.ts";
import { loadServerConfig } from "../../platform/config.ts";
import { ensureLocalClientConfig } from "../../server/bootstrap.ts";
import { createPlatform } from "../../server/platform.ts";
import type { CliContext } from "../context.ts";
import { watchRun } from "./pipelines.ts";
import { readManifests } from "./resources.ts";

const EXAMPLES = fileURLToPath(new URL("../../../examples/pipelines/", import.meta.url));

export function registerQuickstart(program: Command, ctx: CliContext, run: (p: Promise<number>) => void): void {
  program
    .command("quickstart")
    .description("start the embedded platform, run the example pipeline end to end, and show where to look")
    .option("--data-dir <dir>", "where data lives (default ./.forja)")
    .option("--port <port>", "port (default 8080)")
    .option("--rows <n>", "rows for the etl example", "5000")
    .option("--exit", "stop the platform when done instead of serving")
    .action((opts: { dataDir?: string; port?: string; rows: string; exit?: boolean }) => run(quickstart(ctx, opts)));
}

async function quickstart(ctx: CliContext, opts: { dataDir?: string; port?: string; rows: string; exit?: boolean }): Promise<number> {
  const config = loadServerConfig(ctx.env, {
    ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
    ...(opts.port !== undefined ? { port: Number(opts.port) } : {}),
    logLevel: "warn",
  });
  const platform = await createPlatform(config);
  const url = await platform.start();
  const say = (s: string) => ctx.io.out(s);
  try {
    if (!config.clientConfigPath) throw new Error("no client config path");
    await ensureLocalClientConfig(platform.ctx, config.clientConfigPath);
    const token = readClientConfig(config.clientConfigPath)?.token;
    const client = new ForjaClient({ server: url, ...(token ? { token } : {}) });
    say(`1/3  platform up at ${url} (data: ${config.dataDir})`);

    const docs = readManifests([EXAMPLES], false, () => "").map(({ doc }) => {
      const d = doc as { metadata?: { project?: string } };
      if (d.metadata && d.metadata.project === undefined) d.metadata.project = "default";
      return doc;
    });
    const applied = await client.apply(docs);
    say(`2/3  applied ${applied.items.map((i) => `${i.resource.kind.toLowerCase()}/${i.resource.metadata.name}`).join(", ")}`);

    const created = await client.request<{ metadata: { name: string } }>("POST", "/api/v1/projects/default/pipelines/etl/runs", {
      body: { params: { rows: opts.rows } },
    });
    const name = created.metadata.name;
    say(`3/3  running pipeline etl as run/${name}`);
    const final = await watchRun(ctx, client, "default", name);
    const ok = final.status.phase === "Succeeded";
    say("");
    say(ok ? `run/${name} succeeded.` : `run/${name} ${final.status.phase}: ${final.status.message ?? ""}`);
    say("Where to look next:");
    say(`  npx forja get pipelineruns                 # every run, its phase and progress`);
    say(`  npx forja describe run/${name}    # per-step status, outputs, cache hits`);
    say(`  npx forja logs run/${name} --step load`);
    say(`  npx forja run etl --param rows=${opts.rows} --watch    # again: steps come from the cache`);
    say(`  curl -H "Authorization: Bearer $(grep token ${config.clientConfigPath} | cut -d' ' -f2)" ${url}/api/v1/openapi.json`);
    if (opts.exit) return ok ? 0 : 1;
    say(`\nforja is serving at ${url} — Ctrl-C to stop.`);
    return await new Promise<number>((resolve) => {
      const stop = () => resolve(ok ? 0 : 1);
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
  } finally {
    await platform.stop();
  }
}
