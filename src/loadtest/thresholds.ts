/**
 * CI thresholds: `--fail-on 'p95>50ms,errors>1%,rps<100'`. Each clause names a condition that
 * fails the run: p50|p90|p95|p99|max|mean with ms or s, errors with % (share of requests) or a
 * plain count, rps with a number; operators > >= < <=.
 */
import { InvalidInputError } from "../platform/errors.ts";
import type { LoadTestReport } from "./engine.ts";

export type ThresholdMetric = "p50" | "p90" | "p95" | "p99" | "max" | "mean" | "errors" | "rps";
type Op = ">" | ">=" | "<" | "<=";

export interface Threshold {
  readonly source: string;
  readonly metric: ThresholdMetric;
  readonly op: Op;
  /** In ms for latencies, a fraction (0–1) for errors with %, a count for errors without, req/s for rps. */
  readonly value: number;
  readonly unit: "ms" | "%" | "count" | "rps";
}

export interface ThresholdResult {
  readonly threshold: Threshold;
  readonly actual: string;
  readonly violated: boolean;
}

const LATENCY = new Set(["p50", "p90", "p95", "p99", "max", "mean"]);
const CLAUSE = /^(p50|p90|p95|p99|max|mean|errors|rps)\s*(>=|<=|>|<)\s*(\d+(?:\.\d+)?)\s*(ms|s|%)?$/i;

export function parseThresholds(spec: string): Threshold[] {
  const out: Threshold[] = [];
  for (const raw of spec.split(",")) {
    const source = raw.trim();
    if (!source) continue;
    const m = CLAUSE.exec(source);
    const bad = (why: string) =>
      InvalidInputError.field("--fail-on", `"${source}" ${why} (e.g. 'p95>50ms,errors>1%,rps<100'; metrics p50 p90 p95 p99 max mean with ms|s, errors with % or a count, rps)`);
    if (!m) throw bad("is not a threshold");
    const metric = m[1]!.toLowerCase() as ThresholdMetric;
    const op = m[2] as Op;
    const n = Number(m[3]);
    const unit = m[4]?.toLowerCase();
    if (LATENCY.has(metric)) {
      if (unit !== "ms" && unit !== "s") throw bad("needs a unit, ms or s");
      out.push({ source, metric, op, value: unit === "s" ? n * 1000 : n, unit: "ms" });
    } else if (metric === "errors") {
      if (unit === "%") {
        if (n > 100) throw bad("is above 100%");
        out.push({ source, metric, op, value: n / 100, unit: "%" });
      } else if (unit === undefined) {
        out.push({ source, metric, op, value: n, unit: "count" });
      } else throw bad("takes % or a plain count");
    } else {
      if (unit !== undefined) throw bad("takes a plain number of requests per second");
      out.push({ source, metric, op, value: n, unit: "rps" });
    }
  }
  if (out.length === 0) throw InvalidInputError.field("--fail-on", "no threshold given");
  return out;
}

function compare(a: number, op: Op, b: number): boolean {
  switch (op) {
    case ">":
      return a > b;
    case ">=":
      return a >= b;
    case "<":
      return a < b;
    case "<=":
      return a <= b;
  }
}

const fmtMs = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(3)} s` : `${ms.toFixed(2)} ms`);

export function evaluateThresholds(report: LoadTestReport, thresholds: readonly Threshold[]): ThresholdResult[] {
  return thresholds.map((t) => {
    let actual: number;
    let shown: string;
    switch (t.metric) {
      case "p50":
      case "p90":
      case "p95":
      case "p99":
      case "max":
      case "mean":
        actual = report.latencyMs[t.metric];
        shown = fmtMs(actual);
        break;
      case "errors":
        actual = t.unit === "%" ? report.errorRate : report.failures;
        shown = t.unit === "%" ? `${(report.errorRate * 100).toFixed(2)}% (${report.failures}/${report.requests})` : String(report.failures);
        break;
      case "rps":
        actual = report.rps;
        shown = `${report.rps.toFixed(1)} req/s`;
        break;
    }
    return { threshold: t, actual: shown, violated: compare(actual, t.op, t.value) };
  });
}
