import { describe, expect, it } from "vitest";
import * as ort from "onnxruntime-node";
import { exportLogisticRegressionOnnx, predictLogisticRegression, type LogisticRegressionModel } from "./logistic-regression.ts";

const iris: LogisticRegressionModel = {
  weights: [
    [-0.42, 0.97, -2.4, -1.02],
    [0.53, -0.32, -0.2, -0.94],
    [-0.11, -0.65, 2.6, 1.96],
  ],
  bias: [9.8, 2.2, -12.0],
  featureNames: ["sepal_length", "sepal_width", "petal_length", "petal_width"],
};
const rows = [
  [5.1, 3.5, 1.4, 0.2],
  [6.7, 3.0, 5.2, 2.3],
  [5.9, 3.0, 4.2, 1.5],
  [0, 0, 0, 0],
];

async function run(bytes: Uint8Array, x: number[][], inputName = "input") {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const feeds = { [inputName]: new ort.Tensor("float32", Float32Array.from(x.flat()), [x.length, x[0]?.length ?? 0]) };
    const out = await session.run(feeds);
    return { session: { inputs: session.inputMetadata, outputs: session.outputMetadata }, out };
  } finally {
    await session.release();
  }
}

describe("exportLogisticRegressionOnnx", () => {
  it("loads in onnxruntime and matches the reference implementation", async () => {
    const { session, out } = await run(exportLogisticRegressionOnnx(iris), rows);
    expect(session.inputs[0]).toMatchObject({ name: "input", isTensor: true, type: "float32", shape: ["batch", 4] });
    expect(session.outputs.map((o) => o.name)).toEqual(["label", "probabilities"]);
    const ref = predictLogisticRegression(iris, rows);
    const probs = out.probabilities?.data as Float32Array;
    ref.probabilities.flat().forEach((p, i) => expect(probs[i]).toBeCloseTo(p, 5));
    expect(Array.from(out.label?.data as BigInt64Array, Number)).toEqual(ref.labels);
  });

  it("supports string classes, a custom input name and binary models", async () => {
    const binary: LogisticRegressionModel = { weights: [[1.5, -2]], bias: [0.25], classes: ["no", "yes"], inputName: "x" };
    const x = [
      [1, 0],
      [0, 1],
    ];
    const { out } = await run(exportLogisticRegressionOnnx(binary), x, "x");
    expect(out.label?.data).toEqual(["yes", "no"]);
    const sig = (z: number) => 1 / (1 + Math.exp(-z));
    expect((out.probabilities?.data as Float32Array)[1]).toBeCloseTo(sig(1.75), 5);
    expect(predictLogisticRegression(binary, x).labels).toEqual(["yes", "no"]);
  });

  it("rejects inconsistent shapes with the field named", () => {
    expect(() => exportLogisticRegressionOnnx({ weights: [[1, 2], [3]], bias: [0, 0] })).toThrow(/weights\[1\]: has 1 values/);
    expect(() => exportLogisticRegressionOnnx({ weights: [[1, 2]], bias: [0, 0] })).toThrow(/bias: has 2 values/);
    expect(() => exportLogisticRegressionOnnx({ ...iris, featureNames: ["a"] })).toThrow(/featureNames/);
  });
});
