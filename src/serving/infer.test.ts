/**
 * The response encoder's fast path (cached JSON fragments) gives exactly the bytes of
 * JSON.stringify on the OIP response object, with a real onnxruntime session's outputs.
 */
import type * as ort from "onnxruntime-node";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LoadedVersion } from "./engine.ts";
import { encodeResponse, parseBody, parseInferRequest } from "./infer.ts";
import { jsonDataText, toJsonData } from "./tensors.ts";
import { ServingMetrics } from "./metrics.ts";
import { exportLogisticRegressionOnnx } from "./onnx/logistic-regression.ts";
import { createRunner } from "./runner.ts";

let v: LoadedVersion;
beforeAll(async () => {
  const model = exportLogisticRegressionOnnx({ weights: [[1, 0], [0, 1]], bias: [0, 0], featureNames: ["a", "b"] });
  const runner = await createRunner(model, { mode: "inline" });
  v = new LoadedVersion("p", "dep", 7, "digest", runner, 0, new ServingMetrics(new Registry()), undefined);
});
afterAll(() => v.close(0));

const request = (extra: Record<string, unknown> = {}) =>
  parseInferRequest(v, parseBody(Buffer.from(JSON.stringify({ inputs: [{ name: "input", shape: [2, 2], datatype: "FP32", data: [1, 2, 4, 3] }], ...extra })), undefined));

describe("encodeResponse", () => {
  it("all outputs as JSON: the bytes JSON.stringify gives, with and without an id, NaN as null", async () => {
    for (const extra of [{}, { id: 'req "1" é' }]) {
      const parsed = request(extra);
      const out = await v.run(parsed.feeds);
      const label = out["label"] as ort.Tensor;
      const probs = out["probabilities"] as ort.Tensor;
      (probs.data as Float32Array)[0] = Number.NaN;
      const expected = JSON.stringify({
        model_name: "my-model",
        model_version: "7",
        ...extra,
        outputs: [
          { name: "label", datatype: "INT64", shape: label.dims, data: Array.from(label.data as BigInt64Array, Number) },
          { name: "probabilities", datatype: "FP32", shape: probs.dims, data: Array.from(probs.data as Float32Array) },
        ],
      });
      expect(encodeResponse("my-model", v, parsed, out).body).toBe(expected);
      expect(expected).toContain('"data":[null,');
    }
  });

  it("requested outputs and binary outputs still take the general path", async () => {
    const parsed = request({ outputs: [{ name: "probabilities" }] });
    const out = await v.run(parsed.feeds);
    expect(JSON.parse(encodeResponse("my-model", v, parsed, out).body as string)).toMatchObject({ outputs: [{ name: "probabilities", shape: [2, 2] }] });
    const binary = request({ parameters: { binary_data_output: true } });
    const enc = encodeResponse("my-model", v, binary, await v.run(binary.feeds));
    expect(enc.headerLength).toBeGreaterThan(0);
    expect(Buffer.isBuffer(enc.body)).toBe(true);
  });
});

describe("jsonDataText", () => {
  it("is JSON.stringify of the tensor's JSON data, for every output type", async () => {
    const { Tensor } = await import("onnxruntime-node");
    const tensors = [
      new Tensor("float32", Float32Array.from([0.1, -0, 1e-45, 3.4e38, Number.NaN, Number.POSITIVE_INFINITY, -Number.POSITIVE_INFINITY, 6.659999847412109]), [8]),
      new Tensor("float64", Float64Array.from([0.1, 1 / 3, -1e300, Number.NaN]), [4]),
      new Tensor("int32", Int32Array.from([0, -1, 2147483647]), [3]),
      new Tensor("int64", BigInt64Array.from([0n, -5n, 9007199254740993n]), [3]),
      new Tensor("uint8", Uint8Array.from([0, 255]), [2]),
      new Tensor("bool", Uint8Array.from([0, 1, 2]), [3]),
      new Tensor("string", ["a", 'b"c', "é"], [3]),
      new Tensor("float32", new Float32Array(0), [0]),
    ];
    for (const t of tensors) expect(jsonDataText(t), t.type).toBe(JSON.stringify(toJsonData(t)));
  });
});
