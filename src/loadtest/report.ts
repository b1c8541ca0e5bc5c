/** How a load test is shown: the progress line, the final text report, CSV (Locust's stats columns). */
import type { LoadTestProgress, LoadTestReport } from "./engine.ts";
import { PERCENTILES } from "./histogram.ts";
import type { ThresholdResult } from "./thresholds.ts";

const ms = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const pct = (n: number, d: number) => (d ? ((n * 100) / d).toFixed(2) : "0.00");

export function progressLine(p: LoadTestProgress): string {
  return (
    `${(p.elapsedMs / 1000).toFixed(0).padStart(4)}s  users ${p.users}/${p.targetUsers}  ` +
    `${p.rps.toFixed(1)} req/s  p50 ${ms(p.latencyMs.p50)} p95 ${ms(p.latencyMs.p95)} p99 ${ms(p.latencyMs.p99)} ms  ` +
    `requests ${p.requests}  errors ${p.failures} (${pct(p.failures, p.requests)}%)`
  );
}

export function formatReport(r: LoadTestReport, thresholds: readonly ThresholdResult[] = []): string {
  const L = r.latencyMs;
  const lines = [
    `${r.target.method} ${r.target.url}`,
    `  users ${r.config.users} (spawn rate ${r.config.spawnRate}/s)${r.config.rps ? `, rps cap ${r.config.rps}` : ""}, ${(r.elapsedMs / 1000).toFixed(1)} s (stopped by ${r.stoppedBy})`,
    `  requests   ${r.requests}   ${r.rps.toFixed(1)} req/s   ${r.successes} ok   ${r.failures} errors (${(r.errorRate * 100).toFixed(2)}%)${r.cancelled ? `   ${r.cancelled} cancelled at the end` : ""}`,
    `  latency ms min ${ms(L.min)}  mean ${ms(L.mean)}  p50 ${ms(L.p50)}  p90 ${ms(L.p90)}  p95 ${ms(L.p95)}  p99 ${ms(L.p99)}  max ${ms(L.max)}`,
  ];
  const codes = Object.entries(r.statusCodes);
  if (codes.length) lines.push(`  status     ${codes.map(([c, n]) => `${c}: ${n}`).join("   ")}`);
  if (r.errors.length) {
    lines.push("  errors");
    for (const e of r.errors) lines.push(`    ${String(e.count).padStart(8)}  ${e.type}${e.message ? `: ${e.message.slice(0, 160)}` : ""}`);
  }
  if (thresholds.length) {
    lines.push("  thresholds");
    for (const t of thresholds) lines.push(`    ${t.violated ? "FAIL" : "ok  "}  ${t.threshold.source}   (actual ${t.actual})`);
  }
  return lines.join("\n");
}

const CSV_HEADER = [
  "Type",
  "Name",
  "Request Count",
  "Failure Count",
  "Median Response Time",
  "Average Response Time",
  "Min Response Time",
  "Max Response Time",
  "Average Content Size",
  "Requests/s",
  "Failures/s",
  ...PERCENTILES.map((p) => `${p}%`),
];

function csvCell(v: string | number): string {
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * `stats`: Locust's `_stats.csv` columns (times in ms), one row for the target and one
 * "Aggregated". `failures`: Locust's `_failures.csv` (`Method,Name,Error,Occurrences`).
 */
export function toCsv(r: LoadTestReport): { stats: string; failures: string } {
  const L = r.latencyMs;
  const stats = (type: string, name: string) => [
    type,
    name,
    r.requests,
    r.failures,
    L.p50,
    L.mean,
    L.min,
    L.max,
    r.requests ? Math.round(r.bytesReceived / r.requests) : 0,
    r.rps,
    r.failuresPerSecond,
    ...PERCENTILES.map((p) => r.percentilesMs[`${p}%`] ?? 0),
  ];
  const rows: (string | number)[][] = [CSV_HEADER, stats(r.target.method, r.target.name), stats("", "Aggregated")];
  const failures = [["Method", "Name", "Error", "Occurrences"].join(",")];
  for (const e of r.errors) failures.push([r.target.method, r.target.name, e.message ? `${e.type}: ${e.message}` : e.type, e.count].map(csvCell).join(","));
  return { stats: `${rows.map((row) => row.map(csvCell).join(",")).join("\n")}\n`, failures: `${failures.join("\n")}\n` };
}

/** "30s", "500ms", "2m", "1h", "1m30s" or a plain number of seconds → ms. */
export function parseDuration(text: string): number | undefined {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t) * 1000;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  for (let m = re.exec(t); m; m = re.exec(t)) {
    const n = Number(m[1]);
    total += m[2] === "ms" ? n : m[2] === "s" ? n * 1000 : m[2] === "m" ? n * 60_000 : n * 3_600_000;
    pos = re.lastIndex;
  }
  return pos === t.length && pos > 0 ? total : undefined;
}
