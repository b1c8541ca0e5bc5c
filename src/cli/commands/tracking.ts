/** forja experiments list|get|create|delete, forja runs list|get|compare: the tracking commands. */
import type { Command } from "commander";
import { InvalidInputError } from "../../platform/errors.ts";
import type { CliContext } from "../context.ts";
import { table, toJson, toYaml } from "../output.ts";

type Run = (p: Promise<number>) => void;
type Format = "table" | "json" | "yaml";

interface Experiment {
  experiment_id: string;
  name: string;
  lifecycle_stage: string;
  creation_time: number;
  tags?: { key: string; value: string }[];
}
interface TrackingRun {
  info: { run_id: string; run_name: string; experiment_id: string; status: string; start_time: number; end_time?: number; user_id: string; lifecycle_stage: string };
  data: { metrics?: { key: string; value: number | string; step: number }[]; params?: { key: string; value: string }[]; tags?: { key: string; value: string }[] };
}

function format(v: string): Format {
  if (v !== "table" && v !== "json" && v !== "yaml") throw InvalidInputError.field("-o", "must be one of table, json, yaml");
  return v;
}

function emit(ctx: CliContext, f: Format, value: unknown, tableText: () => string): void {
  ctx.io.out(f === "json" ? toJson(value) : f === "yaml" ? toYaml(value) : tableText());
}

const base = (project: string) => `/api/v1/projects/${encodeURIComponent(project)}`;
const time = (ms: number | undefined) => (ms ? new Date(ms).toISOString().replace(/\.\d+Z$/, "Z") : "");
const num = (v: number | string | undefined) => (v === undefined ? "" : typeof v === "number" ? String(Number(v.toPrecision(6))) : v);

/** Params and latest metrics of runs side by side: one row per key, one column per run. */
export function compareTable(runs: readonly TrackingRun[]): string {
  const header = ["", ...runs.map((r) => r.info.run_name || r.info.run_id.slice(0, 8))];
  const rows: string[][] = [["run_id", ...runs.map((r) => r.info.run_id.slice(0, 12))], ["status", ...runs.map((r) => r.info.status)]];
  const keys = (pick: (r: TrackingRun) => { key: string }[] | undefined) => [...new Set(runs.flatMap((r) => (pick(r) ?? []).map((x) => x.key)))].sort();
  for (const k of keys((r) => r.data.params)) rows.push([`param ${k}`, ...runs.map((r) => r.data.params?.find((p) => p.key === k)?.value ?? "")]);
  for (const k of keys((r) => r.data.metrics)) rows.push([`metric ${k}`, ...runs.map((r) => num(r.data.metrics?.find((m) => m.key === k)?.value))]);
  return table(header, rows);
}

export function registerTrackingCommands(program: Command, ctx: CliContext, run: Run): void {
  const exps = program.command("experiments").alias("experiment").description("tracking experiments (MLflow-compatible)");
  exps
    .command("list")
    .option("-p, --project <project>", "project (default from config)")
    .option("--all", "include deleted experiments")
    .option("-o, --output <format>", "table|json|yaml", "table")
    .action((opts: { project?: string; all?: boolean; output: string }) =>
      run(
        (async () => {
          const f = format(opts.output);
          const res = await ctx.client().request<{ items: Experiment[] }>("GET", `${base(ctx.project(opts.project))}/experiments`, { query: { view: opts.all ? "ALL" : undefined } });
          emit(ctx, f, res.items, () => table(["ID", "NAME", "STAGE", "CREATED"], res.items.map((e) => [e.experiment_id, e.name, e.lifecycle_stage, time(e.creation_time)])));
          return 0;
        })(),
      ),
    );
  exps
    .command("get")
    .argument("<experiment>", "id or name")
    .option("-p, --project <project>", "project (default from config)")
    .option("-o, --output <format>", "table|json|yaml", "yaml")
    .action((id: string, opts: { project?: string; output: string }) =>
      run(
        (async () => {
          const f = format(opts.output);
          const e = await ctx.client().request<Experiment>("GET", `${base(ctx.project(opts.project))}/experiments/${encodeURIComponent(id)}`);
          emit(ctx, f, e, () => table(["ID", "NAME", "STAGE", "CREATED"], [[e.experiment_id, e.name, e.lifecycle_stage, time(e.creation_time)]]));
          return 0;
        })(),
      ),
    );
  exps
    .command("create")
    .argument("<name>")
    .option("-p, --project <project>", "project (default from config)")
    .option("--tag <key=value...>", "a tag (repeatable)", (v: string, prev: string[] = []) => [...prev, v])
    .action((name: string, opts: { project?: string; tag?: string[] }) =>
      run(
        (async () => {
          const tags: Record<string, string> = {};
          for (const t of opts.tag ?? []) {
            const eq = t.indexOf("=");
            if (eq <= 0) throw InvalidInputError.field("--tag", `"${t}" must be key=value`);
            tags[t.slice(0, eq)] = t.slice(eq + 1);
          }
          const e = await ctx.client().request<Experiment>("POST", `${base(ctx.project(opts.project))}/experiments`, { body: { name, tags } });
          ctx.io.out(`experiment/${e.experiment_id} (${e.name}) created`);
          return 0;
        })(),
      ),
    );
  exps
    .command("delete")
    .argument("<experiment>", "id or name")
    .option("-p, --project <project>", "project (default from config)")
    .action((id: string, opts: { project?: string }) =>
      run(
        (async () => {
          await ctx.client().request("DELETE", `${base(ctx.project(opts.project))}/experiments/${encodeURIComponent(id)}`);
          ctx.io.out(`experiment ${id} deleted`);
          return 0;
        })(),
      ),
    );

  const runs = program.command("runs").description("tracking runs (MLflow-compatible)");
  runs
    .command("list")
    .option("-p, --project <project>", "project (default from config)")
    .option("-e, --experiment <experiment>", "experiment id or name (default: all of the project)")
    .option("-f, --filter <filter>", "MLflow filter, e.g. \"metrics.acc > 0.9 and params.model = 'lr'\"")
    .option("--order-by <clause...>", "e.g. 'metrics.acc DESC' (repeatable)")
    .option("--limit <n>", "at most this many runs", "100")
    .option("-o, --output <format>", "table|json|yaml", "table")
    .action((opts: { project?: string; experiment?: string; filter?: string; orderBy?: string[]; limit: string; output: string }) =>
      run(
        (async () => {
          const f = format(opts.output);
          const limit = Number(opts.limit);
          if (!Number.isInteger(limit) || limit < 1) throw InvalidInputError.field("--limit", "must be a positive integer");
          const url = new URLSearchParams();
          if (opts.experiment) url.set("experiment", opts.experiment);
          if (opts.filter) url.set("filter", opts.filter);
          for (const o of opts.orderBy ?? []) url.append("orderBy", o);
          url.set("limit", String(limit));
          const res = await ctx.client().request<{ items: TrackingRun[] }>("GET", `${base(ctx.project(opts.project))}/runs?${url.toString()}`);
          emit(ctx, f, res.items, () => {
            const metricKeys = [...new Set(res.items.flatMap((r) => (r.data.metrics ?? []).map((m) => m.key)))].sort().slice(0, 4);
            return table(
              ["RUN ID", "NAME", "EXP", "STATUS", "STARTED", ...metricKeys.map((k) => k.toUpperCase())],
              res.items.map((r) => [r.info.run_id, r.info.run_name, r.info.experiment_id, r.info.status, time(r.info.start_time), ...metricKeys.map((k) => num(r.data.metrics?.find((m) => m.key === k)?.value))]),
            );
          });
          return 0;
        })(),
      ),
    );
  runs
    .command("get")
    .argument("<run-id>")
    .option("-p, --project <project>", "project (default from config)")
    .option("-o, --output <format>", "table|json|yaml", "yaml")
    .action((id: string, opts: { project?: string; output: string }) =>
      run(
        (async () => {
          const f = format(opts.output);
          const r = await ctx.client().request<TrackingRun>("GET", `${base(ctx.project(opts.project))}/runs/${encodeURIComponent(id)}`);
          emit(ctx, f, r, () => compareTable([r]));
          return 0;
        })(),
      ),
    );
  runs
    .command("compare")
    .argument("<run-ids...>")
    .option("-p, --project <project>", "project (default from config)")
    .option("-o, --output <format>", "table|json|yaml", "table")
    .action((ids: string[], opts: { project?: string; output: string }) =>
      run(
        (async () => {
          const f = format(opts.output);
          if (ids.length < 1) throw InvalidInputError.field("run-ids", "give at least one run id");
          const client = ctx.client();
          const list = await Promise.all(ids.map((id) => client.request<TrackingRun>("GET", `${base(ctx.project(opts.project))}/runs/${encodeURIComponent(id)}`)));
          const value = list.map((r) => ({
            run_id: r.info.run_id,
            run_name: r.info.run_name,
            params: Object.fromEntries((r.data.params ?? []).map((p) => [p.key, p.value])),
            metrics: Object.fromEntries((r.data.metrics ?? []).map((m) => [m.key, m.value])),
          }));
          emit(ctx, f, value, () => compareTable(list));
          return 0;
        })(),
      ),
    );
}
