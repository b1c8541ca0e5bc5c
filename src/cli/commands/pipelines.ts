/** run, logs, cancel, retry: pipeline commands. */
import type { Command } from "commander";
import type { ForjaClient } from "../../client/client.ts";
import { InvalidInputError } from "../../platform/errors.ts";
import type { NodeStatus, PipelineRunStatus } from "../../pipelines/kinds.ts";
import type { Resource } from "../../resources/model.ts";
import type { CliContext } from "../context.ts";
import { duration, toJson, toYaml } from "../output.ts";
import { parseOutput } from "./resources.ts";

type Run = (p: Promise<number>) => void;
type RunResource = Resource<{ pipelineRef?: { name: string }; retry?: number }, PipelineRunStatus>;

/** "run/etl-x1y2z", "pipelinerun/etl-x1y2z" or "etl-x1y2z" → "etl-x1y2z". */
export function runName(arg: string): string {
  const m = arg.match(/^(?:runs?|pr|pipelineruns?)\/(.+)$/i);
  const name = m ? m[1]! : arg;
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(name)) throw InvalidInputError.field("run", `"${arg}" is not a run name (e.g. run/etl-x1y2z)`);
  return name;
}

export function parseParams(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf("=");
    if (eq <= 0) throw InvalidInputError.field("--param", `"${v}" must be name=value`);
    out[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return out;
}

const runPath = (project: string, name: string) => `/api/v1/projects/${encodeURIComponent(project)}/pipelineruns/${encodeURIComponent(name)}`;

const symbols: Record<NodeStatus["phase"], string> = {
  Pending: "·",
  Running: "▶",
  Retrying: "↻",
  Succeeded: "✔",
  Failed: "✘",
  Skipped: "−",
  Cancelled: "■",
};

function nodeLine(id: string, n: NodeStatus, now: number): string {
  const started = n.startedAt ? Date.parse(n.startedAt) : undefined;
  const ended = n.finishedAt ? Date.parse(n.finishedAt) : undefined;
  const took = started !== undefined ? duration((ended ?? now) - started) : "";
  const extra = [
    n.cachedFrom ? "cached" : "",
    n.attempts && n.attempts.length > 1 ? `attempt ${n.attempts.length}` : "",
    n.iterations !== undefined ? `${n.iterations} iterations` : "",
    n.phase === "Failed" || n.phase === "Retrying" || n.phase === "Skipped" ? (n.message ?? n.reason ?? "") : "",
  ].filter(Boolean);
  return `${symbols[n.phase]} ${id.padEnd(24)} ${n.phase.padEnd(10)} ${took.padStart(7)}${extra.length ? `  ${extra.join(", ")}` : ""}`;
}

/** Follows a run until it ends; returns its final state. TTY: a live table; otherwise one line per change. */
export async function watchRun(ctx: CliContext, client: ForjaClient, project: string, name: string): Promise<RunResource> {
  const seen = new Map<string, string>();
  let drawn = 0;
  let lastPhase = "";
  for (;;) {
    const run = await client.request<RunResource>("GET", runPath(project, name));
    const now = Date.now();
    const entries = Object.entries(run.status.nodes).filter(([, n]) => !(n.index !== undefined && ctx.io.isTTY && Object.keys(run.status.nodes).length > 40));
    if (ctx.io.isTTY) {
      const lines = [`run ${name}: ${run.status.phase} ${run.status.progress ?? ""}`, ...entries.map(([id, n]) => nodeLine(id, n, now))];
      if (drawn) process.stdout.write(`\x1b[${drawn}A\x1b[J`);
      ctx.io.out(lines.join("\n"));
      drawn = lines.length;
    } else {
      const terminal = ["Succeeded", "Failed", "Cancelled"].includes(run.status.phase);
      if (run.status.phase !== lastPhase && !terminal) ctx.io.out(`run ${name}: ${run.status.phase}`);
      for (const [id, n] of entries) {
        const key = `${n.phase}|${n.attempts?.length ?? 0}`;
        if (seen.get(id) !== key && n.phase !== "Pending") {
          seen.set(id, key);
          ctx.io.out(nodeLine(id, n, now));
        }
      }
      if (terminal) ctx.io.out(`run ${name}: ${run.status.phase}`);
    }
    lastPhase = run.status.phase;
    if (["Succeeded", "Failed", "Cancelled"].includes(run.status.phase)) return run;
    await new Promise((r) => setTimeout(r, ctx.io.isTTY ? 250 : 300));
  }
}

function finish(ctx: CliContext, run: RunResource): number {
  const s = run.status;
  const took = s.startedAt && s.finishedAt ? ` in ${duration(Date.parse(s.finishedAt) - Date.parse(s.startedAt))}` : "";
  if (s.phase === "Succeeded") {
    const cached = Object.values(s.nodes).filter((n) => n.cachedFrom).length;
    ctx.io.err(`run ${run.metadata.name} succeeded${took}${cached ? ` (${cached} cached)` : ""}`);
    return 0;
  }
  ctx.io.err(`error: run ${run.metadata.name} ${s.phase.toLowerCase()}${took}: ${s.message ?? s.reason ?? ""}`);
  return 1;
}

export function registerPipelineCommands(program: Command, ctx: CliContext, run: Run): void {
  program
    .command("run")
    .description("start a run of a pipeline")
    .argument("<pipeline>")
    .option("--param <name=value...>", "a parameter (repeatable)", (v: string, prev: string[] = []) => [...prev, v])
    .option("-p, --project <project>", "project (default from config)")
    .option("-w, --watch", "follow the run; exit non-zero if it fails")
    .option("--no-cache", "run every step even if cached")
    .option("--timeout <seconds>", "run timeout in seconds")
    .option("--name <name>", "run name (default <pipeline>-<random>)")
    .option("-o, --output <format>", "name|json|yaml", "name")
    .action((pipeline: string, opts: { param?: string[]; project?: string; watch?: boolean; cache: boolean; timeout?: string; name?: string; output: string }) =>
      run(
        (async () => {
          const format = parseOutput(opts.output);
          const client = ctx.client();
          const project = ctx.project(opts.project);
          const timeout = opts.timeout !== undefined ? Number(opts.timeout) : undefined;
          if (timeout !== undefined && !(timeout > 0)) throw InvalidInputError.field("--timeout", "must be a positive number of seconds");
          const created = await client.request<RunResource>("POST", `/api/v1/projects/${encodeURIComponent(project)}/pipelines/${encodeURIComponent(pipeline)}/runs`, {
            body: {
              params: parseParams(opts.param ?? []),
              cache: opts.cache,
              ...(timeout !== undefined ? { timeoutSeconds: timeout } : {}),
              ...(opts.name ? { name: opts.name } : {}),
            },
          });
          if (!opts.watch) {
            if (format === "json") ctx.io.out(toJson(created));
            else if (format === "yaml") ctx.io.out(toYaml(created));
            else ctx.io.out(`run/${created.metadata.name}`);
            return 0;
          }
          ctx.io.err(`run/${created.metadata.name} started`);
          return finish(ctx, await watchRun(ctx, client, project, created.metadata.name));
        })(),
      ),
    );

  program
    .command("logs")
    .description("print the logs of a run's steps")
    .argument("<run>", "run/<name>")
    .option("-s, --step <step>", "only this step (or iteration, e.g. train[2])")
    .option("-f, --follow", "keep streaming until the run ends")
    .option("--attempt <n>", "only this attempt")
    .option("-p, --project <project>", "project (default from config)")
    .action((arg: string, opts: { step?: string; follow?: boolean; attempt?: string; project?: string }) =>
      run(
        (async () => {
          const client = ctx.client();
          const res = await client.raw("GET", `${runPath(ctx.project(opts.project), runName(arg))}/logs`, {
            query: { step: opts.step, follow: opts.follow ? true : undefined, attempt: opts.attempt },
            signal: AbortSignal.timeout(24 * 3600 * 1000),
          });
          if (res.body) for await (const chunk of res.body as AsyncIterable<Uint8Array>) process.stdout.write(chunk);
          return 0;
        })(),
      ),
    );

  program
    .command("cancel")
    .description("cancel a run: its running steps are stopped")
    .argument("<run>", "run/<name>")
    .option("-p, --project <project>", "project (default from config)")
    .option("-w, --watch", "wait until it has stopped")
    .action((arg: string, opts: { project?: string; watch?: boolean }) =>
      run(
        (async () => {
          const client = ctx.client();
          const project = ctx.project(opts.project);
          const name = runName(arg);
          await client.request("POST", `${runPath(project, name)}/cancel`);
          ctx.io.out(`run/${name} cancelling`);
          if (opts.watch) {
            const r = await watchRun(ctx, client, project, name);
            ctx.io.out(`run/${name} ${r.status.phase}`);
          }
          return 0;
        })(),
      ),
    );

  program
    .command("retry")
    .description("re-run the failed steps of a failed or cancelled run, reusing the outputs of the steps that succeeded")
    .argument("<run>", "run/<name>")
    .option("-p, --project <project>", "project (default from config)")
    .option("-w, --watch", "follow the run; exit non-zero if it fails")
    .action((arg: string, opts: { project?: string; watch?: boolean }) =>
      run(
        (async () => {
          const client = ctx.client();
          const project = ctx.project(opts.project);
          const name = runName(arg);
          const retried = await client.request<RunResource>("POST", `${runPath(project, name)}/retry`);
          ctx.io.err(`run/${name} retrying`);
          if (!opts.watch) return 0;
          // Wait for the controller to pick the retry up before watching for the end (the
          // retry may already have ended again, Failed, by the time we look).
          for (let i = 0; i < 100; i++) {
            const r = await client.request<RunResource>("GET", runPath(project, name));
            if ((r.status.observedRetry ?? 0) >= (retried.spec.retry ?? 0)) break;
            await new Promise((res) => setTimeout(res, 100));
          }
          return finish(ctx, await watchRun(ctx, client, project, name));
        })(),
      ),
    );
}
