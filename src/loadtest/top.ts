/**
 * `forja top`: the dashboard's figures computed from two scrapes of /metrics — per deployment
 * RPS, error %, p50/p95/p99 (histogram_quantile on the bucket deltas), in-flight; pipeline runs;
 * controller reconcile errors. Without a previous scrape, figures are since the server started.
 */
import { table } from "../cli/output.ts";
import { histogramDelta, histogramQuantile, sumHistogram, sumSamples, type MetricFamily } from "./prometheus.ts";

export interface Scrape {
  /** ms since epoch. */
  readonly at: number;
  readonly families: ReadonlyMap<string, MetricFamily>;
}

export interface DeploymentFigures {
  readonly project: string;
  readonly deployment: string;
  /** Requests per second over the window (null without a window). */
  readonly rps: number | null;
  /** Share of answers with status ≥ 400, in % (null when no request). */
  readonly errorPct: number | null;
  /** Latency quantiles in ms (null when no observation). */
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
  readonly inFlight: number;
  readonly ready: boolean | null;
  /** Requests counted in the window (or since start). */
  readonly requests: number;
  readonly requestsTotal: number;
}

export interface TopSnapshot {
  readonly at: string;
  /** Seconds between the scrapes; null for a single scrape (figures since start). */
  readonly windowSeconds: number | null;
  readonly deployments: DeploymentFigures[];
  readonly pipelines: {
    /** Pending or Running now (from the API; null when not known). */
    active: number | null;
    /** Ended runs by phase: in the window (or since start) and since start. */
    readonly ended: Record<string, number>;
    readonly endedTotal: Record<string, number>;
  };
  readonly controllers: { readonly controller: string; readonly reconciles: number; readonly errors: number; readonly queueDepth: number }[];
}

const REQUESTS = "forja_inference_requests_total";
const LATENCY = "forja_inference_request_duration_seconds";
const IN_FLIGHT = "forja_inference_in_flight_requests";
const READY = "forja_deployment_ready";
const RUNS = "forja_pipeline_runs_total";
const RECONCILES = "forja_controller_reconcile_total";
const QUEUE = "forja_controller_queue_depth";

type Labels = Readonly<Record<string, string>>;

/** prom-client names the counter family with its _total suffix; OpenMetrics without. */
function fam(s: Scrape | undefined, name: string): MetricFamily | undefined {
  return s?.families.get(name) ?? (name.endsWith("_total") ? s?.families.get(name.slice(0, -"_total".length)) : undefined);
}

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const nonNeg = (cur: number, prev: number | undefined) => (prev === undefined || cur < prev ? cur : cur - prev);

export function computeTop(cur: Scrape, prev?: Scrape): TopSnapshot {
  const window = prev ? (cur.at - prev.at) / 1000 : null;
  const keys = new Map<string, { project: string; deployment: string }>();
  for (const name of [REQUESTS, LATENCY, IN_FLIGHT, READY]) {
    for (const s of fam(cur, name)?.samples ?? []) {
      const { project, deployment } = s.labels;
      if (project !== undefined && deployment !== undefined) keys.set(`${project}/${deployment}`, { project, deployment });
    }
  }
  const deployments: DeploymentFigures[] = [];
  for (const { project, deployment } of [...keys.values()].sort((a, b) => a.project.localeCompare(b.project) || a.deployment.localeCompare(b.deployment))) {
    const sel = (l: Labels) => l.project === project && l.deployment === deployment;
    const errSel = (l: Labels) => sel(l) && Number(l.status) >= 400;
    const total = sumSamples(fam(cur, REQUESTS), sel);
    const requests = nonNeg(total, prev ? sumSamples(fam(prev, REQUESTS), sel) : undefined);
    const errors = nonNeg(sumSamples(fam(cur, REQUESTS), errSel), prev ? sumSamples(fam(prev, REQUESTS), errSel) : undefined);
    const h = histogramDelta(sumHistogram(fam(cur, LATENCY), sel), prev ? sumHistogram(fam(prev, LATENCY), sel) : undefined);
    const q = (x: number) => {
      const v = histogramQuantile(x, h);
      return Number.isNaN(v) ? null : round(v * 1000, 3);
    };
    const readyFam = fam(cur, READY);
    deployments.push({
      project,
      deployment,
      rps: window && window > 0 ? round(requests / window) : null,
      errorPct: requests > 0 ? round((errors * 100) / requests) : null,
      p50: q(0.5),
      p95: q(0.95),
      p99: q(0.99),
      inFlight: sumSamples(fam(cur, IN_FLIGHT), sel),
      ready: readyFam?.samples.some((s) => sel(s.labels)) ? sumSamples(readyFam, sel) > 0 : null,
      requests,
      requestsTotal: total,
    });
  }

  const byPhase = (s: Scrape | undefined) => {
    const out: Record<string, number> = {};
    for (const x of fam(s, RUNS)?.samples ?? []) if (!x.name.endsWith("_created")) out[x.labels.phase ?? ""] = (out[x.labels.phase ?? ""] ?? 0) + x.value;
    return out;
  };
  const endedTotal = byPhase(cur);
  const prevPhases = prev ? byPhase(prev) : undefined;
  const ended = Object.fromEntries(Object.entries(endedTotal).map(([p, n]) => [p, nonNeg(n, prevPhases?.[p] ?? (prev ? 0 : undefined))]));

  const controllers = new Map<string, { controller: string; reconciles: number; errors: number; queueDepth: number }>();
  const ctl = (name: string) => {
    let c = controllers.get(name);
    if (!c) controllers.set(name, (c = { controller: name, reconciles: 0, errors: 0, queueDepth: 0 }));
    return c;
  };
  for (const s of fam(cur, RECONCILES)?.samples ?? []) {
    if (s.name.endsWith("_created") || s.labels.controller === undefined) continue;
    const before = prev ? (fam(prev, RECONCILES)?.samples.find((p) => p.name === s.name && p.labels.controller === s.labels.controller && p.labels.result === s.labels.result)?.value ?? 0) : undefined;
    const d = nonNeg(s.value, before);
    const c = ctl(s.labels.controller);
    c.reconciles += d;
    if (s.labels.result === "error") c.errors += d;
  }
  for (const s of fam(cur, QUEUE)?.samples ?? []) if (s.labels.controller !== undefined) ctl(s.labels.controller).queueDepth = s.value;

  return {
    at: new Date(cur.at).toISOString(),
    windowSeconds: window === null ? null : round(window, 3),
    deployments,
    pipelines: { active: null, ended, endedTotal },
    controllers: [...controllers.values()].sort((a, b) => a.controller.localeCompare(b.controller)),
  };
}

const f = (v: number | null, d = 1) => (v === null ? "-" : v.toFixed(d));

export function formatTop(s: TopSnapshot): string {
  const over = s.windowSeconds === null ? "since start" : `last ${s.windowSeconds.toFixed(1)} s`;
  const out = [`forja top — ${s.at} (${over})`, ""];
  if (s.deployments.length === 0) out.push("no deployment has served a request yet");
  else {
    out.push(
      table(
        ["PROJECT", "DEPLOYMENT", "READY", "RPS", "ERR%", "P50 MS", "P95 MS", "P99 MS", "IN-FLIGHT", "REQUESTS"],
        s.deployments.map((d) => [
          d.project,
          d.deployment,
          d.ready === null ? "-" : d.ready ? "yes" : "no",
          f(d.rps),
          f(d.errorPct, 2),
          f(d.p50, 2),
          f(d.p95, 2),
          f(d.p99, 2),
          String(d.inFlight),
          String(d.requestsTotal),
        ]),
      ),
    );
  }
  out.push("");
  const phases = Object.keys(s.pipelines.endedTotal).sort();
  const ended = phases.length ? phases.map((p) => `${p.toLowerCase()} ${s.pipelines.ended[p] ?? 0} (total ${s.pipelines.endedTotal[p]})`).join(", ") : "none ended";
  out.push(`pipeline runs: active ${s.pipelines.active ?? "-"}; ${ended}`);
  const errs = s.controllers.filter((c) => c.errors > 0 || c.queueDepth > 0);
  out.push(
    `controllers: ${s.controllers.length} ${errs.length ? errs.map((c) => `${c.controller}: ${c.errors} reconcile errors, queue ${c.queueDepth}`).join("; ") : "(no reconcile errors, queues empty)"}`,
  );
  return out.join("\n");
}
