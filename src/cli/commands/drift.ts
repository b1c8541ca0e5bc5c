/** forja drift <deployment>: the deployment's data drift against its model version's reference dataset. */
import type { Command } from "commander";
import type { DriftReport } from "../../monitoring/drift-service.ts";
import { InvalidInputError } from "../../platform/errors.ts";
import type { CliContext } from "../context.ts";
import { table, toJson, toYaml } from "../output.ts";

const num = (x: number) => (x === 0 ? "0" : Math.abs(x) < 1e-3 ? x.toExponential(2) : x.toFixed(4));

/** The report as text: a verdict line, then one line per feature. */
export function formatDriftReport(r: DriftReport): string {
  const head =
    r.status === "Drift" || r.status === "NoDrift"
      ? `deployment/${r.deployment} (model ${r.model} v${r.version}): ${r.datasetDrift ? "DATASET DRIFT" : "no dataset drift"} — ${r.message}; ${r.window.rows} logged rows ${r.window.spec.startsWith("since") ? r.window.spec : `in the last ${r.window.spec}`} vs ${r.reference?.rows ?? 0} reference rows`
      : `deployment/${r.deployment} (model ${r.model}${r.version !== null ? ` v${r.version}` : ""}): ${r.status} — ${r.message}`;
  if (!r.features.length) return head;
  const rows = r.features.map((f) => [f.feature, f.type, f.method, num(f.score), `${f.method === "ks" || f.method === "chisquare" || f.method === "z" ? "p <" : "≥"} ${f.threshold}`, f.drifted ? "DRIFT" : "ok"]);
  const preds = Object.entries(r.predictions)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  return [head, table(["FEATURE", "TYPE", "METHOD", "SCORE", "DRIFT WHEN", "VERDICT"], rows), ...(preds ? [`predictions in the window: ${preds}`] : [])].join("\n");
}

export function registerDriftCommand(program: Command, ctx: CliContext, run: (p: Promise<number>) => void): void {
  program
    .command("drift <deployment>")
    .description("data drift of a deployment's logged requests against the served model version's reference (training) data")
    .option("-p, --project <project>", "project (default from config)")
    .option("-w, --window <duration>", "how far back: 30s, 15m, 1h, 7d", "24h")
    .option("--since <time>", "only requests logged since this time (ISO 8601 or ms since the epoch; overrides --window)")
    .option("--version <n>", "model version (default: the primary being served)")
    .option("-o, --output <format>", "table|json|yaml", "table")
    .option("--fail-on-drift", "exit 1 when the dataset drifts")
    .action((deployment: string, opts: { project?: string; window: string; since?: string; version?: string; output: string; failOnDrift?: boolean }) =>
      run(
        (async () => {
          if (!["table", "json", "yaml"].includes(opts.output)) throw InvalidInputError.field("-o", "must be one of table, json, yaml");
          if (opts.version !== undefined && !/^[1-9]\d*$/.test(opts.version)) throw InvalidInputError.field("--version", `"${opts.version}" is not a version number`);
          const project = ctx.project(opts.project);
          const r = await ctx.client().request<DriftReport>("GET", `/api/v1/projects/${encodeURIComponent(project)}/deployments/${encodeURIComponent(deployment)}/drift`, {
            query: { window: opts.window, since: opts.since, version: opts.version },
          });
          ctx.io.out(opts.output === "json" ? toJson(r) : opts.output === "yaml" ? toYaml(r) : formatDriftReport(r));
          return opts.failOnDrift && r.datasetDrift ? 1 : 0;
        })(),
      ),
    );
}
