/**
 * Shadow traffic runs after the caller's answer (neither the caller nor the primary's latency
 * waits for it), and Retry-After says when a rate-limited credential will have a token again.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeModel, OnnxType } from "../../src/serving/onnx/model-proto.ts";
import { startTestServer, type TestServer } from "../support/server.ts";
import { call, deploy, inferBody, irisOnnx, publishModel, readyWith, waitFor } from "./support.ts";

let s: TestServer;
const rows = [[5.1, 3.5, 1.4, 0.2]];

beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s?.stop();
});

/**
 * A model with the iris input (["batch", 4] FP32) whose run is slow (Tile to [800, 800], then a chain of 800×800 MatMuls,
 * tens of milliseconds) and whose output depends on the input: a heavy shadow candidate.
 */
const slowOnnx = () => {
  const n = 800;
  const a = new Float32Array(n * n).fill(0.001);
  // Depends on the input, so onnxruntime cannot fold the chain into a constant at load time.
  const nodes = [
    { opType: "MatMul", inputs: ["input", "W"], outputs: ["x"], name: "w" },
    { opType: "Tile", inputs: ["x", "reps"], outputs: ["t"], name: "tile" },
    { opType: "MatMul", inputs: ["t", "A"], outputs: ["c1"], name: "m1" },
  ];
  for (let i = 2; i <= 4; i++) nodes.push({ opType: "MatMul", inputs: [`c${i - 1}`, "A"], outputs: [`c${i}`], name: `m${i}` });
  nodes.push({ opType: "ReduceSum", inputs: ["c4"], outputs: ["s"], name: "sum" });
  nodes.push({ opType: "Mul", inputs: ["input", "s"], outputs: ["slow"], name: "mul" });
  return encodeModel({
    irVersion: 8,
    opset: 13,
    producerName: "forja-test",
    producerVersion: "1",
    graph: {
      name: "slow",
      nodes,
      initializers: [
        { name: "A", dims: [n, n], float: a },
        { name: "W", dims: [4, n], float: new Float32Array(4 * n).fill(0.01) },
        { name: "reps", dims: [2], int64: [BigInt(n), 1n] },
      ],
      inputs: [{ name: "input", elemType: OnnxType.FLOAT, shape: ["batch", 4] }],
      outputs: [{ name: "slow", elemType: OnnxType.FLOAT, shape: ["batch", 4] }],
    },
  });
};

const metricSum = (text: string, name: string, labels: string) => Number(new RegExp(`${name}_sum\\{${labels}\\} ([0-9.e+-]+)`).exec(text)?.[1] ?? NaN);

describe("shadow traffic", () => {
  // ADR 0010: "Shadow requests run after the caller's answer is computed, never change it". With
  // the inline runtime the shadow runs on the server thread: it starts once the caller's answer
  // is written, so neither that answer nor the primary's latency metric contains it.
  it("a slow shadow neither delays the caller nor counts in the primary's latency", async () => {
    const fast = await publishModel(s, { name: "shadowed", bytes: irisOnnx() });
    const slow = await publishModel(s, { name: "shadowed", bytes: slowOnnx() });
    await deploy(s, { name: "shadowed", spec: { model: { name: "shadowed", version: fast }, shadow: { version: slow } } });
    await waitFor(s, "shadowed", (d) => readyWith(fast)(d) && Boolean(d.status.serving?.some((x: { role: string }) => x.role === "shadow")));

    let callerMs = 0;
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const r = await call(s, "POST", "/serving/default/v2/models/shadowed/infer", inferBody(rows));
      callerMs += performance.now() - t0;
      expect(r.status, r.text).toBe(200);
      expect(r.body.model_version).toBe(String(fast));
      // An inline shadow still takes the server thread after the answer: the next caller would
      // wait for it. Each caller here comes once the previous shadow is done.
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 500)); // shadows done
    const metrics = await (await s.fetch("/metrics")).text();
    const shadowSecs = metricSum(metrics, "forja_inference_shadow_duration_seconds", `project="default",deployment="shadowed",version="${slow}"`);
    const primarySecs = metricSum(metrics, "forja_inference_request_duration_seconds", `project="default",deployment="shadowed",version="${fast}"`);
    expect(shadowSecs).toBeGreaterThan(0.05); // the shadow really is slow (5 runs)
    // The primary (a 4×3 logistic regression) answers in well under a millisecond a request:
    // neither its latency metric nor the caller's wait should contain the shadow's runs.
    expect(primarySecs).toBeLessThan(shadowSecs / 2);
    expect(callerMs / 1000).toBeLessThan(shadowSecs / 2);
  });
});

describe("rate limits", () => {
  // With requestsPerSecond 0.2 the next token arrives 5 s after the burst is spent: a client
  // honouring a Retry-After of 1 would be refused 4 more times. Retry-After is the wait until the
  // bucket holds a token, ceil((1 - tokens) / rps) seconds.
  it("Retry-After says when the bucket will have a token again (rps < 1)", async () => {
    const v = await publishModel(s, { name: "slowrate", bytes: irisOnnx() });
    await deploy(s, { name: "slowrate", spec: { model: { name: "slowrate", version: v }, rateLimit: { requestsPerSecond: 0.2, burst: 1 } } });
    await waitFor(s, "slowrate", readyWith(v));
    const first = await call(s, "POST", "/serving/default/v2/models/slowrate/infer", inferBody(rows));
    expect(first.status, first.text).toBe(200);
    const res = await s.fetch("/serving/default/v2/models/slowrate/infer", { method: "POST", body: JSON.stringify(inferBody(rows)), headers: { "content-type": "application/json" } });
    await res.text();
    expect(res.status).toBe(429);
    const retryAfter = Number(res.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(4);
    expect(retryAfter).toBeLessThanOrEqual(5);
  });
});
