/**
 * The latency histogram observed on every inference gives the registry exactly what prom-client's
 * own Histogram gives for the same observations: same series, same exposition text.
 */
import { Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { LATENCY_BUCKETS, LatencyHistogram } from "./metrics.ts";

describe("LatencyHistogram", () => {
  it("exposes the same text as prom-client's Histogram, bucket bounds and reset included", async () => {
    const theirs = new Registry();
    const ours = new Registry();
    const name = "forja_inference_request_duration_seconds";
    const help = "Inference latency.";
    const ref = new Histogram({ name, help, labelNames: ["project", "deployment", "version"], buckets: LATENCY_BUCKETS, registers: [theirs] });
    const mine = new LatencyHistogram({ name, help, labelNames: ["project", "deployment", "version"], buckets: LATENCY_BUCKETS, registers: [ours] });
    const sets = [
      { project: "default", deployment: "iris", version: "1" },
      { project: "default", deployment: "iris", version: "2" },
      { project: "other", deployment: 'we"ird\\name', version: "7" },
    ];
    // Every bound exactly, between bounds, below the first, above the last.
    const values = [0, 0.00005, ...LATENCY_BUCKETS, ...LATENCY_BUCKETS.map((b) => b * 1.5), 42];
    values.forEach((v, i) => {
      const labels = sets[i % sets.length] as (typeof sets)[number];
      ref.labels(labels).observe(v);
      mine.labels(labels).observe(v);
    });
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.metrics()).toContain(`${name}_bucket{le="0.0005",project="default",deployment="iris",version="1"}`);
    ours.resetMetrics();
    theirs.resetMetrics();
    mine.labels(sets[0] as (typeof sets)[number]).observe(0.0003);
    ref.labels(sets[0] as (typeof sets)[number]).observe(0.0003);
    expect(await ours.metrics()).toContain(`${name}_count{project="default",deployment="iris",version="1"} 1`);
    expect((await ours.getMetricsAsJSON())[0]?.values.length).toBe(3 * (LATENCY_BUCKETS.length + 3));
  });
});
