/**
 * `forja quickstart`: the whole product on the embedded default, in one command. Starts the
 * platform (SQLite, local processes, files under the data dir) and walks examples/penguins/
 * end to end: the pipeline (ingest and validate the real Palmer penguins data → split → train
 * → evaluate → export ONNX → register, @champion when better), a Deployment of
 * penguins@champion, a smoke test over OIP v2, a short load test, and drift reports of the
 * served traffic against the training data. Prints where to look next and keeps serving (or
 * stops with --exit: exit 0 only when every stage passed).
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { ForjaClient } from "../../client/client.ts";
import { readClientConfig } from "../../client/config.ts";
import { runLoadTest } from "../../loadtest/index.ts";
import type { DriftReport } from "../../monitoring/drift-service.ts";
import { loadServerConfig } from "../../platform/config.ts";
import { errorMessage } from "../../platform/errors.ts";
import type { ModelVersion } from "../../registry/model.ts";
import { ensureLocalClientConfig } from "../../server/bootstrap.ts";
import { createPlatform } from "../../server/platform.ts";
import type { DeploymentStatus } from "../../serving/kinds.ts";
import type { CliContext } from "../context.ts";
import { formatDriftReport } from "./drift.ts";
import { watchRun } from "./pipelines.ts";
import { readManifests } from "./resources.ts";

const EXAMPLE = fileURLToPath(new URL("../../../examples/penguins/", import.meta.url));
const PROJECT = "default";
const FEATURES = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"] as const;

interface Options {
  dataDir?: string;
  port?: string;
  exit?: boolean;
  loadSeconds: string;
  minAccuracy?: string;
}

export function registerQuickstart(program: Command, ctx: CliContext, run: (p: Promise<number>) => void): void {
  program
    .command("quickstart")
    .description("start the embedded platform and run the penguins example end to end: pipeline, registry, deployment, load test, drift")
    .option("--data-dir <dir>", "where data lives (default ./.forja)")
    .option("--port <port>", "port (default 8080; 0 picks a free one)")
    .option("--load-seconds <s>", "duration of the load test", "3")
    .option("--min-accuracy <x>", "the pipeline fails below this test accuracy (default 0.9)")
    .option("--exit", "stop the platform when done instead of serving (exit 0 only if every stage passed)")
    .action((opts: Options) => run(quickstart(ctx, opts)));
}

interface Penguin {
  species: string;
  values: number[];
}

/** The complete rows of the dataset the pipeline trains on (vega-datasets, offline). */
function penguins(): Penguin[] {
  const require = createRequire(import.meta.url);
  const file = join(dirname(require.resolve("vega-datasets")), "..", "data", "penguins.json");
  const raw = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>[];
  const cols = ["Beak Length (mm)", "Beak Depth (mm)", "Flipper Length (mm)", "Body Mass (g)"];
  return raw
    .filter((r) => typeof r.Species === "string" && r.Sex !== null && r.Sex !== undefined && r.Sex !== "." && cols.every((c) => typeof r[c] === "number"))
    .map((r) => ({ species: r.Species as string, values: cols.map((c) => r[c] as number) }));
}

const inferBody = (rows: readonly (readonly number[])[]) => ({
  inputs: [{ name: "input", shape: [rows.length, FEATURES.length], datatype: "FP32", data: rows.flat() }],
});

async function quickstart(ctx: CliContext, opts: Options): Promise<number> {
  const t0 = Date.now();
  const config = loadServerConfig(ctx.env, {
    ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
    ...(opts.port !== undefined ? { port: Number(opts.port) } : {}),
    logLevel: "warn",
  });
  const platform = await createPlatform(config);
  const url = await platform.start();
  const say = (s: string) => ctx.io.out(s);
  const secs = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
  let ok = false;
  try {
    if (!config.clientConfigPath) throw new Error("no client config path");
    await ensureLocalClientConfig(platform.ctx, config.clientConfigPath);
    const token = readClientConfig(config.clientConfigPath)?.token;
    const client = new ForjaClient({ server: url, ...(token ? { token } : {}) });
    say(`1/7  platform up at ${url} (data: ${config.dataDir})`);

    // 2. The pipeline.
    const docs = readManifests([join(EXAMPLE, "pipeline.yaml")], false, () => "").map(({ doc }) => withProject(doc));
    await client.apply(docs);
    const created = await client.request<{ metadata: { name: string } }>("POST", `/api/v1/projects/${PROJECT}/pipelines/penguins/runs`, {
      body: { params: { code: EXAMPLE.replace(/\/$/, ""), ...(opts.minAccuracy !== undefined ? { minAccuracy: Number(opts.minAccuracy) } : {}) } },
    });
    const runName = created.metadata.name;
    say(`2/7  pipeline penguins: ingest → split → train → evaluate → export → register, as run/${runName}`);
    const final = await watchRun(ctx, client, PROJECT, runName);
    if (final.status.phase !== "Succeeded") {
      say(`run/${runName} ${final.status.phase}: ${final.status.message ?? ""}`);
      say(`  npx forja describe run/${runName}   npx forja logs run/${runName}`);
      return await finish(1);
    }
    say(`run/${runName} succeeded (${secs()})`);

    // 3. The registry: the version this run registered, and the champion.
    const versions = await client.request<{ items: ModelVersion[] }>("GET", `/api/v1/projects/${PROJECT}/pipelineruns/${runName}/model-versions`);
    const mine = versions.items[0];
    if (!mine) throw new Error(`run/${runName} registered no model version`);
    const accuracy = mine.tags?.find((t) => t.key === "accuracy")?.value;
    const model = await client.request<{ aliases?: { alias: string; version: string }[] }>("GET", `/api/v1/projects/${PROJECT}/models/penguins`);
    const champion = model.aliases?.find((a) => a.alias === "champion")?.version;
    say(
      `3/7  model version registered: penguins v${mine.version} (source run ${mine.run_id ?? "?"}, test accuracy ${accuracy ? Number(accuracy).toFixed(3) : "?"}); penguins@champion = v${champion ?? "?"}`,
    );

    // 4. Deploy (or roll) penguins@champion and wait until it serves the champion.
    await client.apply(readManifests([join(EXAMPLE, "deployment.yaml")], false, () => "").map(({ doc }) => withProject(doc)));
    const status = await waitReady(client, Number(champion), 90_000);
    say(`4/7  deployment/penguins Ready: serving v${status.serving?.find((s) => s.role === "primary")?.version} at ${url}/serving/${PROJECT}/v2/models/penguins/infer`);

    // 5. Smoke test: one real penguin of each species.
    const data = penguins();
    const infer = `/serving/${PROJECT}/v2/models/penguins/infer`;
    const samples = ["Adelie", "Chinstrap", "Gentoo"].map((s) => data.find((p) => p.species === s) as Penguin);
    const answer = await client.request<{ model_version?: string; outputs: { name: string; data: unknown[] }[] }>("POST", infer, { body: inferBody(samples.map((s) => s.values)) });
    const labels = answer.outputs.find((o) => o.name === "label")?.data ?? [];
    const right = samples.filter((s, i) => labels[i] === s.species).length;
    say(`5/7  predictions over OIP v2: ${samples.map((s, i) => `${s.species} → ${String(labels[i])}`).join(", ")} (${right}/${samples.length} right)`);
    if (right < 2) throw new Error("the smoke test got fewer than 2 of 3 species right");

    // 6. A short load test through the same endpoint.
    const seconds = Math.max(0.5, Number(opts.loadSeconds) || 3);
    const report = await runLoadTest({
      url: `${url}${infer}`,
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(inferBody(samples.map((s) => s.values))),
      users: 8,
      durationMs: seconds * 1000,
      maxRequests: 50_000,
    });
    say(
      `6/7  load test: ${report.requests} requests in ${(report.elapsedMs / 1000).toFixed(1)}s, ${report.rps.toFixed(0)} req/s, p50 ${report.latencyMs.p50.toFixed(2)} ms, p99 ${report.latencyMs.p99.toFixed(2)} ms, errors ${report.failures}`,
    );
    if (report.successes === 0) throw new Error("the load test had no successful request");

    // 7. Drift: replay the dataset as traffic and compare with the training data; then a
    //    simulated shift (heavier penguins, longer flippers) to show a drift verdict.
    const driftOf = async (send: Penguin[], shift: (v: number[]) => number[]) => {
      await new Promise((r) => setTimeout(r, 50));
      const from = Date.now();
      for (let i = 0; i < send.length; i += 8) await client.request("POST", infer, { body: inferBody(send.slice(i, i + 8).map((p) => shift(p.values))) });
      return client.request<DriftReport>("GET", `/api/v1/projects/${PROJECT}/deployments/penguins/drift`, { query: { since: from } });
    };
    const steady = await driftOf(data, (v) => v);
    say(`7/7  drift report (served traffic vs the training data of v${steady.version}):`);
    say(indent(formatDriftReport(steady)));
    const shifted = await driftOf(data, ([bl = 0, bd = 0, fl = 0, bm = 0]) => [bl, bd, fl * 1.08, bm * 1.25]);
    say("     simulated drift (flippers +8%, body mass +25%):");
    say(indent(formatDriftReport(shifted)));
    ok = steady.status === "NoDrift" && shifted.status === "Drift";
    if (!ok) say(`drift verdicts were unexpected: ${steady.status} for the dataset, ${shifted.status} for the shifted traffic`);

    say("");
    say(`quickstart ${ok ? "succeeded" : "FAILED"} in ${secs()}. Where to look next:`);
    say(`  npx forja describe run/${runName}            # the pipeline run: steps, outputs, cache hits`);
    say(`  npx forja logs run/${runName} --step evaluate  # accuracy and the confusion matrix`);
    say(`  npx forja models versions penguins           # versions, aliases, source runs (lineage)`);
    say(`  npx forja get deployments                    # what serves, which version`);
    say(`  npx forja drift penguins --window 5m          # drift of the served traffic`);
    say(`  npx forja run penguins --param code=$PWD/examples/penguins --watch   # train again; @champion moves only if better`);
    say(`  curl -H "Authorization: Bearer $(grep '^token:' ${config.clientConfigPath} | cut -d' ' -f2)" ${url}/metrics | grep -E 'forja_(inference|feature_drift|dataset_drift)'`);
    return await finish(ok ? 0 : 1);
  } catch (e) {
    say(`quickstart failed after ${secs()}: ${errorMessage(e)}`);
    return await finish(1);
  } finally {
    await platform.stop();
  }

  /** Awaited by the caller (`return await`): the `finally` that stops the platform must wait for it. */
  async function finish(code: number): Promise<number> {
    if (opts.exit) return code;
    say(`\nforja is serving at ${url} — Ctrl-C to stop.`);
    return new Promise<number>((resolve) => {
      const stop = () => resolve(code);
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
  }
}

function withProject(doc: unknown): unknown {
  const d = doc as { metadata?: { project?: string } };
  if (d.metadata && d.metadata.project === undefined) d.metadata.project = PROJECT;
  return doc;
}

const indent = (text: string) =>
  text
    .split("\n")
    .map((l) => `     ${l}`)
    .join("\n");

async function waitReady(client: ForjaClient, version: number, timeoutMs: number): Promise<DeploymentStatus> {
  const until = Date.now() + timeoutMs;
  let last: DeploymentStatus | undefined;
  while (Date.now() < until) {
    const d = await client.request<{ status: DeploymentStatus }>("GET", `/api/v1/projects/${PROJECT}/deployments/penguins`);
    last = d.status;
    if (last.phase === "Ready" && last.serving?.some((s) => s.role === "primary" && s.version === version)) return last;
    if (last.phase === "Failed" && last.reason !== "AliasNotFound") throw new Error(`deployment/penguins Failed: ${last.reason ?? ""} ${last.message ?? ""}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`deployment/penguins not Ready with v${version} after ${timeoutMs / 1000}s (${last?.phase ?? "?"} ${last?.reason ?? ""} ${last?.message ?? ""})`);
}
