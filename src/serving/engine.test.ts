/**
 * Adaptive batching with maxDelayMs 0: requests submitted in the same turn of the event loop share
 * one session run (up to maxBatchSize rows) and each gets its own rows back; nothing waits for
 * requests that have not arrived. A real onnxruntime session, counted.
 */
import * as ort from "onnxruntime-node";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { LoadedVersion } from "./engine.ts";
import { ServingMetrics } from "./metrics.ts";
import { IRIS } from "../../test/serving/support.ts";
import { exportLogisticRegressionOnnx, predictLogisticRegression } from "./onnx/logistic-regression.ts";
import { createRunner, type ModelRunner } from "./runner.ts";

const MODEL = IRIS;

async function counted(): Promise<{ runner: ModelRunner; runs: number[] }> {
  const inner = await createRunner(exportLogisticRegressionOnnx(MODEL), { mode: "inline" });
  const runs: number[] = [];
  return {
    runs,
    runner: {
      inputs: inner.inputs,
      outputs: inner.outputs,
      run: (feeds) => {
        runs.push(feeds["input"]?.dims[0] ?? 0);
        return inner.run(feeds);
      },
      close: () => inner.close(),
    },
  };
}

const rowsOf = (n: number) => Array.from({ length: n }, (_, i) => [4 + (i % 4), 3 - (i % 2), 1 + (i % 6), (i % 3) * 0.9]);
const feedsOf = (row: number[]) => ({ input: new ort.Tensor("float32", Float32Array.from(row), [1, 4]) });

describe("batching with maxDelayMs 0", () => {
  it("merges what arrives together, splits the answers back, never waits for more", async () => {
    const { runner, runs } = await counted();
    const v = new LoadedVersion("p", "d", 1, "sha", runner, 0, new ServingMetrics(new Registry()), { maxBatchSize: 4, maxDelayMs: 0 });
    const rows = rowsOf(10);
    const answers = await Promise.all(rows.map((r) => v.run(feedsOf(r))));
    expect(runs).toEqual([4, 4, 2]);
    const ref = predictLogisticRegression(MODEL, rows);
    answers.forEach((a, i) => {
      expect(a["label"]?.dims).toEqual([1]);
      expect(Number(a["label"]?.data[0])).toBe(ref.labels[i]);
    });
    // A lone request runs at once on its own (no timer to wait for).
    const single = await v.run(feedsOf(rows[0] as number[]));
    expect(runs).toEqual([4, 4, 2, 1]);
    expect(Number(single["label"]?.data[0])).toBe(ref.labels[0]);
    await v.close();
  });
});
