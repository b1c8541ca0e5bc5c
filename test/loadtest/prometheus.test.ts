/** The Prometheus text parser, histogram_quantile, and `forja top`'s figures from captured /metrics text. */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { histogramDelta, histogramQuantile, MetricsParseError, parsePrometheusText, sumHistogram } from "../../src/loadtest/prometheus.ts";
import { computeTop, formatTop } from "../../src/loadtest/top.ts";
import { LATENCY_BUCKETS } from "../../src/serving/metrics.ts";

const TEXT = `# HELP forja_inference_requests_total Inference requests by deployment, served version and HTTP status.
# TYPE forja_inference_requests_total counter
forja_inference_requests_total{project="default",deployment="iris",version="1",status="200"} 90
forja_inference_requests_total{project="default",deployment="iris",version="1",status="500"} 10
forja_inference_requests_total{project="p2",deployment="a \\"quoted\\", name",version="",status="429"} 3 1700000000000

# TYPE forja_inference_request_duration_seconds histogram
forja_inference_request_duration_seconds_bucket{le="0.01",project="default",deployment="iris",version="1"} 50
forja_inference_request_duration_seconds_bucket{le="0.02",project="default",deployment="iris",version="1"} 90
forja_inference_request_duration_seconds_bucket{le="+Inf",project="default",deployment="iris",version="1"} 100
forja_inference_request_duration_seconds_sum{project="default",deployment="iris",version="1"} 1.5
forja_inference_request_duration_seconds_count{project="default",deployment="iris",version="1"} 100
# a plain comment
forja_inference_in_flight_requests{project="default",deployment="iris"} 2
weird_untyped 1.5e-3
nan_metric NaN
prom_client_nan Nan
lower_inf -inf
`;

describe("parsePrometheusText", () => {
  it("groups samples into families, with labels, escapes, timestamps and special values", () => {
    const f = parsePrometheusText(TEXT);
    const req = f.get("forja_inference_requests_total")!;
    expect(req.type).toBe("counter");
    expect(req.help).toMatch(/^Inference requests/);
    expect(req.samples).toHaveLength(3);
    expect(req.samples[2]).toEqual({
      name: "forja_inference_requests_total",
      labels: { project: "p2", deployment: 'a "quoted", name', version: "", status: "429" },
      value: 3,
      timestamp: 1700000000000,
    });
    const h = f.get("forja_inference_request_duration_seconds")!;
    expect(h.type).toBe("histogram");
    expect(h.samples.map((s) => s.name)).toEqual([
      ...Array(3).fill("forja_inference_request_duration_seconds_bucket"),
      "forja_inference_request_duration_seconds_sum",
      "forja_inference_request_duration_seconds_count",
    ]);
    expect(f.get("forja_inference_in_flight_requests")!.type).toBe("untyped");
    expect(f.get("weird_untyped")!.samples[0]!.value).toBe(0.0015);
    expect(Number.isNaN(f.get("nan_metric")!.samples[0]!.value)).toBe(true);
    // Special values are case-insensitive, as in Prometheus; prom-client writes NaN as "Nan".
    expect(Number.isNaN(f.get("prom_client_nan")!.samples[0]!.value)).toBe(true);
    expect(f.get("lower_inf")!.samples[0]!.value).toBe(-Infinity);
  });

  it("rejects malformed lines with the line number", () => {
    expect(() => parsePrometheusText('ok 1\nbad{a="x" 1')).toThrow(MetricsParseError);
    expect(() => parsePrometheusText("x notanumber")).toThrow(/line 1: "notanumber" is not a number/);
    expect(() => parsePrometheusText("# TYPE x nonsense")).toThrow(/unknown metric type/);
    expect(() => parsePrometheusText('x{a="1"}')).toThrow(/expected a value/);
  });

  it("parses what prom-client serves (every type, escapes in help and labels)", async () => {
    const reg = new Registry();
    const c = new Counter({ name: "t_total", help: 'a "help"\\ with\nnewline', labelNames: ["l"], registers: [reg] });
    const g = new Gauge({ name: "t_gauge", help: "g", registers: [reg] });
    const h = new Histogram({ name: "t_seconds", help: "h", labelNames: ["l"], buckets: LATENCY_BUCKETS, registers: [reg] });
    c.inc({ l: 'x"y\\z\nw' }, 5);
    g.set(-2.5);
    for (let i = 1; i <= 100; i++) h.observe({ l: "a" }, i / 1000); // 1 … 100 ms
    const f = parsePrometheusText(await reg.metrics());
    expect(f.get("t_total")!.help).toBe('a "help"\\ with\nnewline');
    expect(f.get("t_total")!.samples[0]!.labels.l).toBe('x"y\\z\nw');
    expect(f.get("t_gauge")!.samples[0]!.value).toBe(-2.5);
    const data = sumHistogram(f.get("t_seconds"), (l) => l.l === "a");
    expect(data.count).toBe(100);
    expect(data.sum).toBeCloseTo(5.05, 6);
    // histogram_quantile: 50th of 1..100 ms → rank 50 in bucket (25 ms, 50 ms] holding 26..50.
    expect(histogramQuantile(0.5, data)).toBeCloseTo(0.05, 6);
    expect(histogramQuantile(0.95, data)).toBeCloseTo(0.05 + 0.05 * (45 / 50), 6);
  });
});

describe("histogramQuantile", () => {
  const h = (pairs: [number, number][]) => ({ buckets: new Map(pairs), count: pairs.at(-1)![1], sum: 0 });
  it("interpolates like PromQL, caps at the highest finite bound, NaN when empty", () => {
    expect(histogramQuantile(0.5, h([[1, 0], [2, 10], [Infinity, 10]]))).toBeCloseTo(1.5);
    expect(histogramQuantile(0.25, h([[1, 10], [Infinity, 10]]))).toBeCloseTo(0.25); // lowest bucket starts at 0
    expect(histogramQuantile(0.99, h([[1, 5], [Infinity, 10]]))).toBe(1);
    expect(Number.isNaN(histogramQuantile(0.5, h([[1, 0], [Infinity, 0]])))).toBe(true);
  });
  it("deltas between scrapes, and a counter reset gives the current values", () => {
    const a = h([[1, 5], [Infinity, 10]]);
    const b = h([[1, 8], [Infinity, 20]]);
    expect(histogramDelta(b, a)).toEqual({ buckets: new Map([[1, 3], [Infinity, 10]]), count: 10, sum: 0 });
    expect(histogramDelta(a, b)).toBe(a);
  });
});

describe("computeTop", () => {
  const later = TEXT.replace('status="200"} 90', 'status="200"} 170')
    .replace('status="500"} 10', 'status="500"} 30')
    .replace('le="0.01",project="default",deployment="iris",version="1"} 50', 'le="0.01",project="default",deployment="iris",version="1"} 50')
    .replace('le="0.02",project="default",deployment="iris",version="1"} 90', 'le="0.02",project="default",deployment="iris",version="1"} 190')
    .replace('le="+Inf",project="default",deployment="iris",version="1"} 100', 'le="+Inf",project="default",deployment="iris",version="1"} 200')
    .replace('_count{project="default",deployment="iris",version="1"} 100', '_count{project="default",deployment="iris",version="1"} 200');

  it("rates, error % and quantiles over the window between two scrapes", () => {
    const prev = { at: 1_000_000, families: parsePrometheusText(TEXT) };
    const cur = { at: 1_010_000, families: parsePrometheusText(later) };
    const s = computeTop(cur, prev);
    expect(s.windowSeconds).toBe(10);
    const iris = s.deployments.find((d) => d.deployment === "iris")!;
    // 100 requests in 10 s, 20 of them 500s; all 100 latencies in (10 ms, 20 ms].
    expect(iris).toMatchObject({ project: "default", rps: 10, errorPct: 20, inFlight: 2, requests: 100, requestsTotal: 200 });
    expect(iris.p50).toBeCloseTo(15, 3);
    expect(iris.p95).toBeCloseTo(19.5, 3);
    expect(iris.p99).toBeCloseTo(19.9, 3);
    const other = s.deployments.find((d) => d.project === "p2")!;
    expect(other).toMatchObject({ rps: 0, errorPct: null, p50: null, requestsTotal: 3 });
    expect(formatTop(s)).toMatch(/default\s+iris\s+-\s+10\.0\s+20\.00\s+15\.00\s+19\.50\s+19\.90\s+2\s+200/);
  });

  it("a single scrape gives figures since start", () => {
    const s = computeTop({ at: 0, families: parsePrometheusText(TEXT) });
    const iris = s.deployments.find((d) => d.deployment === "iris")!;
    expect(s.windowSeconds).toBeNull();
    expect(iris).toMatchObject({ rps: null, errorPct: 10, requests: 100 });
    expect(iris.p50).toBeCloseTo(10, 3);
    expect(formatTop(s)).toContain("since start");
  });

  it("pipeline runs and controller reconcile errors", () => {
    const m = (ok: number, failed: number, errs: number) =>
      parsePrometheusText(`# TYPE forja_pipeline_runs_total counter
forja_pipeline_runs_total{project="default",pipeline="etl",phase="Succeeded"} ${ok}
forja_pipeline_runs_total{project="default",pipeline="etl",phase="Failed"} ${failed}
# TYPE forja_controller_reconcile_total counter
forja_controller_reconcile_total{controller="PipelineRun",result="success"} 50
forja_controller_reconcile_total{controller="PipelineRun",result="error"} ${errs}
# TYPE forja_controller_queue_depth gauge
forja_controller_queue_depth{controller="PipelineRun"} 3
`);
    const s = computeTop({ at: 2000, families: m(7, 2, 4) }, { at: 0, families: m(5, 2, 1) });
    expect(s.pipelines.ended).toEqual({ Succeeded: 2, Failed: 0 });
    expect(s.pipelines.endedTotal).toEqual({ Succeeded: 7, Failed: 2 });
    expect(s.controllers).toEqual([{ controller: "PipelineRun", reconciles: 3, errors: 3, queueDepth: 3 }]);
    expect(formatTop(s)).toMatch(/PipelineRun: 3 reconcile errors, queue 3/);
  });
});
