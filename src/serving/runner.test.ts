/**
 * The worker-thread runtime: bursts of runs through real worker threads with real onnxruntime
 * sessions — every caller gets its own answer, a bad run fails alone, a worker that dies fails only
 * its runs in flight and is replaced, and a closed pool refuses work.
 */
import * as ort from "onnxruntime-node";
import { afterEach, describe, expect, it } from "vitest";
import { IRIS } from "../../test/serving/support.ts";
import { exportLogisticRegressionOnnx, predictLogisticRegression } from "./onnx/logistic-regression.ts";
import { createRunner, WorkerPool, type ModelRunner } from "./runner.ts";

const MODEL = IRIS;
const BYTES = exportLogisticRegressionOnnx(MODEL);
const rowsOf = (n: number) => Array.from({ length: n }, (_, i) => [4 + (i % 4), 3 - (i % 2), 1 + (i % 6), (i % 3) * 0.9]);
const feedsOf = (rows: number[][]) => ({ input: new ort.Tensor("float32", Float32Array.from(rows.flat()), [rows.length, 4]) });

let runner: ModelRunner | undefined;
afterEach(async () => {
  await runner?.close();
  runner = undefined;
});

const pool = async (workers: number) => {
  const r = await createRunner(BYTES, { mode: "workers", workers });
  runner = r;
  expect(r).toBeInstanceOf(WorkerPool);
  return r as WorkerPool;
};

describe("worker-thread runtime", () => {
  it("answers a burst of concurrent runs, each with its own rows, as the inline session does", async () => {
    const p = await pool(2);
    const requests = Array.from({ length: 60 }, (_, i) => rowsOf(1 + (i % 3)).map((r) => r.map((x) => x + i / 10)));
    const answers = await Promise.all(requests.map((rows) => p.run(feedsOf(rows))));
    answers.forEach((a, i) => {
      const rows = requests[i] as number[][];
      const ref = predictLogisticRegression(MODEL, rows);
      expect(a["label"]?.dims).toEqual([rows.length]);
      expect(Array.from(a["label"]?.data as BigInt64Array, Number)).toEqual(ref.labels);
      expect(a["probabilities"]?.dims).toEqual([rows.length, 3]);
    });
    expect(p.threads).toHaveLength(2);
  });

  it("a run onnxruntime refuses fails alone; the others of its burst are answered", async () => {
    const p = await pool(1);
    const bad = p.run({ input: new ort.Tensor("float32", new Float32Array(6), [2, 3]) });
    const good = p.run(feedsOf(rowsOf(2)));
    await expect(bad).rejects.toThrow(/input/i);
    expect((await good)["label"]?.dims).toEqual([2]);
  });

  it("a worker that dies fails its runs in flight, is replaced, and later runs are answered", async () => {
    const p = await pool(1);
    const before = p.threads[0]?.threadId;
    const big = p.run(feedsOf(rowsOf(200_000)));
    // The burst is sent at the end of the turn; the worker is stopped while it runs the model.
    await new Promise((r) => setImmediate(r));
    void p.threads[0]?.terminate();
    await expect(big).rejects.toThrow(/model execution failed: serving worker exited/);
    // Queued while there is no worker: sent to the replacement once it has loaded.
    const after = await p.run(feedsOf(rowsOf(3)));
    expect(Array.from(after["label"]?.data as BigInt64Array, Number)).toEqual(predictLogisticRegression(MODEL, rowsOf(3)).labels);
    expect(p.threads).toHaveLength(1);
    expect(p.threads[0]?.threadId).not.toBe(before);
  });

  it("close fails what is waiting and refuses new runs", async () => {
    const p = await pool(1);
    const waiting = expect(p.run(feedsOf(rowsOf(1)))).rejects.toThrow(/runner closed/);
    await p.close();
    runner = undefined;
    await waiting;
    await expect(p.run(feedsOf(rowsOf(1)))).rejects.toThrow(/runner closed/);
  });

  it("a model that cannot load is an error at start, with no thread left behind", async () => {
    await expect(WorkerPool.start(new Uint8Array([1, 2, 3]), 2, 1, { inputs: [], outputs: [] })).rejects.toThrow();
  });
});
