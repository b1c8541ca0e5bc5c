/**
 * A parser of the Prometheus text exposition format (0.0.4) — what prom-client serves on
 * /metrics — and histogram arithmetic (deltas, histogram_quantile).
 */

export type MetricType = "counter" | "gauge" | "histogram" | "summary" | "untyped";

export interface Sample {
  /** The sample's own name (e.g. `x_bucket`, `x_sum`). */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
  readonly timestamp?: number;
}

export interface MetricFamily {
  readonly name: string;
  type: MetricType;
  help: string;
  readonly samples: Sample[];
}

export class MetricsParseError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`metrics line ${line}: ${message}`);
  }
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const SUFFIXES: Readonly<Record<MetricType, readonly string[]>> = {
  histogram: ["_bucket", "_sum", "_count"],
  summary: ["_sum", "_count"],
  counter: ["_total"],
  gauge: [],
  untyped: [],
};

/**
 * A sample value. Like Prometheus's own parser (Go's ParseFloat), the special values are
 * case-insensitive: prom-client writes NaN as "Nan" (e.g. the event-loop lag gauges of a scrape
 * that follows the previous one before any lag was sampled).
 */
function parseValue(s: string, line: number): number {
  switch (s.toLowerCase()) {
    case "+inf":
    case "inf":
    case "+infinity":
    case "infinity":
      return Infinity;
    case "-inf":
    case "-infinity":
      return -Infinity;
    case "nan":
      return NaN;
  }
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new MetricsParseError(line, `"${s}" is not a number`);
  return Number(s);
}

function unescapeHelp(s: string): string {
  return s.replace(/\\(\\|n)/g, (_m, c: string) => (c === "n" ? "\n" : "\\"));
}

/** Parses `{a="x",b="y"}` starting at s[i] === "{"; returns the labels and the index after "}". */
function parseLabels(s: string, i: number, line: number): [Record<string, string>, number] {
  const labels: Record<string, string> = {};
  i++; // {
  for (;;) {
    while (s[i] === " " || s[i] === "\t") i++;
    if (s[i] === "}") return [labels, i + 1];
    const m = LABEL.exec(s.slice(i));
    if (!m) throw new MetricsParseError(line, `bad label name at column ${i + 1}`);
    const key = m[0];
    i += key.length;
    while (s[i] === " ") i++;
    if (s[i] !== "=") throw new MetricsParseError(line, `expected '=' after label ${key}`);
    i++;
    while (s[i] === " ") i++;
    if (s[i] !== '"') throw new MetricsParseError(line, `expected '"' for the value of label ${key}`);
    i++;
    let v = "";
    for (;;) {
      const c = s[i];
      if (c === undefined) throw new MetricsParseError(line, `unterminated value of label ${key}`);
      if (c === "\\") {
        const n = s[i + 1];
        v += n === "n" ? "\n" : n === '"' ? '"' : n === "\\" ? "\\" : `\\${n ?? ""}`;
        i += 2;
        continue;
      }
      if (c === '"') break;
      v += c;
      i++;
    }
    i++; // closing quote
    labels[key] = v;
    while (s[i] === " ") i++;
    if (s[i] === ",") i++;
    else if (s[i] !== "}") throw new MetricsParseError(line, `expected ',' or '}' after label ${key}`);
  }
}

/** Parses the text format into families keyed by family name (TYPE/HELP name). */
export function parsePrometheusText(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>();
  const family = (name: string): MetricFamily => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { name, type: "untyped", help: "", samples: [] }));
    return f;
  };
  /** The family a sample belongs to: its own name, or a typed family it is a suffix of. */
  const familyOf = (sample: string): MetricFamily => {
    const own = families.get(sample);
    if (own && own.type !== "histogram" && own.type !== "summary") return own;
    for (const suffix of ["_bucket", "_sum", "_count", "_total", "_created"]) {
      if (!sample.endsWith(suffix)) continue;
      const base = families.get(sample.slice(0, -suffix.length));
      if (base && SUFFIXES[base.type].includes(suffix)) return base;
    }
    return own ?? family(sample);
  };

  const lines = text.split("\n");
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.replace(/\r$/, "");
    const lineNo = n + 1;
    const t = line.trim();
    if (!t) continue;
    if (t.startsWith("#")) {
      const m = /^#\s*(HELP|TYPE)\s+([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\s+(.*))?$/.exec(t);
      if (!m) continue; // a plain comment
      const f = family(m[2]!);
      if (m[1] === "HELP") f.help = unescapeHelp(m[3] ?? "");
      else {
        const type = (m[3] ?? "").trim();
        if (!["counter", "gauge", "histogram", "summary", "untyped"].includes(type)) throw new MetricsParseError(lineNo, `unknown metric type "${type}"`);
        f.type = type as MetricType;
      }
      continue;
    }
    const nm = NAME.exec(t);
    if (!nm) throw new MetricsParseError(lineNo, "expected a metric name");
    const name = nm[0];
    let i = name.length;
    let labels: Record<string, string> = {};
    while (t[i] === " " || t[i] === "\t") i++;
    if (t[i] === "{") [labels, i] = parseLabels(t, i, lineNo);
    const rest = t.slice(i).trim().split(/\s+/);
    if (rest.length < 1 || rest[0] === "" || rest.length > 2) throw new MetricsParseError(lineNo, "expected a value (and an optional timestamp)");
    const value = parseValue(rest[0]!, lineNo);
    const sample: Sample = rest[1] !== undefined ? { name, labels, value, timestamp: parseValue(rest[1], lineNo) } : { name, labels, value };
    familyOf(name).samples.push(sample);
  }
  return families;
}

// ---- histograms --------------------------------------------------------------------------

/** A histogram's cumulative buckets (upper bound → count), count and sum. */
export interface HistogramData {
  readonly buckets: Map<number, number>;
  count: number;
  sum: number;
}

export const emptyHistogram = (): HistogramData => ({ buckets: new Map(), count: 0, sum: 0 });

/** Sums the series of a histogram family that match `select` (e.g. one deployment, all versions). */
export function sumHistogram(f: MetricFamily | undefined, select: (labels: Readonly<Record<string, string>>) => boolean): HistogramData {
  const h = emptyHistogram();
  if (!f) return h;
  for (const s of f.samples) {
    if (!select(s.labels)) continue;
    if (s.name.endsWith("_bucket")) {
      const le = s.labels.le === undefined ? NaN : parseValue(s.labels.le, 0);
      if (Number.isNaN(le)) continue;
      h.buckets.set(le, (h.buckets.get(le) ?? 0) + s.value);
    } else if (s.name.endsWith("_count")) h.count += s.value;
    else if (s.name.endsWith("_sum")) h.sum += s.value;
  }
  return h;
}

/** cur − prev, per bucket (a reset — a smaller count — yields cur itself, as rate() does). */
export function histogramDelta(cur: HistogramData, prev: HistogramData | undefined): HistogramData {
  if (!prev || cur.count < prev.count) return cur;
  const buckets = new Map<number, number>();
  for (const [le, c] of cur.buckets) buckets.set(le, Math.max(0, c - (prev.buckets.get(le) ?? 0)));
  return { buckets, count: cur.count - prev.count, sum: cur.sum - prev.sum };
}

/**
 * PromQL's histogram_quantile: linear interpolation inside the bucket holding the rank;
 * the lowest bucket starts at 0; a rank in the +Inf bucket gives the highest finite bound.
 * NaN when there are no observations.
 */
export function histogramQuantile(q: number, h: HistogramData): number {
  const bounds = [...h.buckets.entries()].sort((a, b) => a[0] - b[0]);
  if (bounds.length === 0) return NaN;
  const total = bounds[bounds.length - 1]![1];
  if (!(total > 0)) return NaN;
  if (q <= 0) return 0;
  if (q >= 1) q = 1;
  const rank = q * total;
  let prevBound = 0;
  let prevCount = 0;
  for (let i = 0; i < bounds.length; i++) {
    const [le, count] = bounds[i]!;
    if (count >= rank) {
      if (le === Infinity) return i > 0 ? bounds[i - 1]![0] : NaN;
      const lower = i === 0 ? (le > 0 ? 0 : le) : prevBound;
      const inBucket = count - prevCount;
      if (inBucket <= 0) return le;
      return lower + (le - lower) * ((rank - prevCount) / inBucket);
    }
    prevBound = le;
    prevCount = count;
  }
  return bounds[bounds.length - 1]![0];
}

/** Sums the samples of a counter/gauge family that match `select`. */
export function sumSamples(f: MetricFamily | undefined, select: (labels: Readonly<Record<string, string>>) => boolean = () => true): number {
  let total = 0;
  for (const s of f?.samples ?? []) if (select(s.labels) && !s.name.endsWith("_created")) total += s.value;
  return total;
}
