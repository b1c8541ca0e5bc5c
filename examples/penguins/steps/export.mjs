// export: ONNX with Forja's exporter (src/serving/onnx), checked against the JS model with
// onnxruntime, logged to the training run as model/model.onnx with the reference dataset
// (the training features) as model/reference.json — what drift monitoring compares with.
import { writeFileSync } from "node:fs";
import { FEATURES, importSource, outputPath, param, predict, readInput, trackingFor } from "./common.mjs";

const { exportLogisticRegressionOnnx } = await importSource("serving/onnx/logistic-regression.ts");
const ort = await import("onnxruntime-node");
const model = readInput("model");
const train = readInput("train");
const test = readInput("test");
const bytes = exportLogisticRegressionOnnx({ weights: model.weights, bias: model.bias, classes: model.classes, featureNames: FEATURES });
writeFileSync(outputPath("onnx"), bytes);

// The exported graph must agree with the JS model on every held-out row.
const session = await ort.InferenceSession.create(bytes);
const x = Float32Array.from(test.flatMap((r) => FEATURES.map((f) => r[f])));
const out = await session.run({ input: new ort.Tensor("float32", x, [test.length, FEATURES.length]) });
const labels = out.label.data;
const disagree = test.filter((r, i) => labels[i] !== predict(model, FEATURES.map((f) => r[f]))).length;
await session.release();
if (disagree > 0) {
  console.error(`the ONNX model disagrees with the trained model on ${disagree}/${test.length} rows`);
  process.exit(1);
}

const run = trackingFor(param("train_run"));
await run.logArtifact(outputPath("onnx"), "model/model.onnx");
const ref = await run.logReferenceData(train, { features: FEATURES, input: "input" });
console.log(`exported ONNX (${bytes.length} bytes, input [batch, ${FEATURES.length}] FP32 → label, probabilities); agrees with the trained model on ${test.length}/${test.length} rows`);
console.log(`logged model/model.onnx and ${ref.path} (${ref.rows} reference rows) to run ${param("train_run")}`);
