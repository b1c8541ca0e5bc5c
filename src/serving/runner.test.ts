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

describe("inline runtime (the native session, called synchronously)", () => {
  it("takes the fast path with the installed onnxruntime-node, with the public API's metadata and outputs", async () => {
    const r = await createRunner(BYTES, { mode: "inline" });
    runner = r;
    // If a new onnxruntime-node release moves its binding, the runner falls back to the public
    // API (slower): this test is what notices.
    expect(r.runSync).toBeTypeOf("function");
    const pub = await ort.InferenceSession.create(BYTES);
    try {
      expect(r.inputs).toEqual(pub.inputMetadata);
      expect(r.outputs).toEqual(pub.outputMetadata);
      const rows = rowsOf(5);
      const mine = r.runSync?.(feedsOf(rows)) ?? {};
      const theirs = await pub.run(feedsOf(rows));
      for (const name of ["label", "probabilities"]) {
        expect(mine[name]).toBeInstanceOf(ort.Tensor);
        expect(mine[name]?.dims).toEqual(theirs[name]?.dims);
        expect(Array.from(mine[name]?.data as ArrayLike<number | bigint>)).toEqual(Array.from(theirs[name]?.data as ArrayLike<number | bigint>));
      }
      expect(Array.from(mine["label"]?.data as BigInt64Array, Number)).toEqual(predictLogisticRegression(MODEL, rows).labels);
    } finally {
      await pub.release();
    }
  });

  it("a tensor that is a view into a larger buffer is read at its offset", async () => {
    const r = await createRunner(BYTES, { mode: "inline" });
    runner = r;
    const rows = rowsOf(2);
    const backing = new Float32Array(64).fill(99);
    backing.set(rows.flat(), 16);
    const view = backing.subarray(16, 24);
    const out = await r.run({ input: new ort.Tensor("float32", view, [2, 4]) });
    expect(Array.from(out["label"]?.data as BigInt64Array, Number)).toEqual(predictLogisticRegression(MODEL, rows).labels);
  });

  it("a bad feed throws the model's error (the promise form rejects); a closed runner refuses", async () => {
    const r = await createRunner(BYTES, { mode: "inline" });
    runner = r;
    const bad = { input: new ort.Tensor("float32", new Float32Array(3), [1, 3]) };
    expect(() => r.runSync?.(bad)).toThrow(/input|dimension|shape/i);
    await expect(r.run(bad)).rejects.toThrow(/input|dimension|shape/i);
    await r.close();
    expect(() => r.runSync?.(feedsOf(rowsOf(1)))).toThrow("runner closed");
    runner = undefined;
  });

  it("a file that is not an ONNX model fails to load with onnxruntime's reason", async () => {
    await expect(createRunner(new Uint8Array([1, 2, 3, 4]), { mode: "inline" })).rejects.toThrow(/protobuf|parse|model/i);
  });
});
