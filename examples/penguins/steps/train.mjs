// train: multinomial (one-vs-rest) logistic regression from mljs (ml-logistic-regression) on
// standardised features; the standardisation is folded into the weights, so the model works on
// raw measurements. Logs params and the training accuracy to this step's tracking run.
import { createRequire } from "node:module";
import { FEATURES, SPECIES, param, predict, readInput, tracking, writeOutput, writeParam } from "./common.mjs";

const require = createRequire(import.meta.url);
const LogisticRegression = require("ml-logistic-regression");
const { Matrix } = require("ml-matrix");

const train = readInput("train");
const numSteps = Number(param("num_steps"));
const learningRate = Number(param("learning_rate"));
const X = train.map((r) => FEATURES.map((f) => r[f]));
const mean = FEATURES.map((_, j) => X.reduce((s, x) => s + x[j], 0) / X.length);
const std = FEATURES.map((_, j) => Math.sqrt(X.reduce((s, x) => s + (x[j] - mean[j]) ** 2, 0) / X.length) || 1);
// A leading 1 gives each one-vs-rest classifier an intercept.
const Xs = X.map((x) => [1, ...x.map((v, j) => (v - mean[j]) / std[j])]);
const y = train.map((r) => SPECIES.indexOf(r.species));

const t0 = Date.now();
const clf = new LogisticRegression({ numSteps, learningRate });
clf.train(new Matrix(Xs), Matrix.columnVector(y));
const seconds = (Date.now() - t0) / 1000;

// ml-logistic-regression trains "class c → 0, rest → 1" and predicts argmin σ(w·x), so the
// logit of class c is -(w·x). Folding x_std = (x - mean) / std into it:
//   z_c = Σ_f (-w_cf / std_f) x_f + (Σ_f w_cf mean_f / std_f - w_c0)
const weights = [];
const bias = [];
for (const c of clf.classifiers) {
  const w = c.weights.to1DArray();
  weights.push(FEATURES.map((_, f) => -w[f + 1] / std[f]));
  bias.push(FEATURES.reduce((s, _, f) => s + (w[f + 1] * mean[f]) / std[f], -w[0]));
}
const model = { type: "logistic_regression", features: FEATURES, classes: SPECIES, weights, bias, mean, std };
const trainAccuracy = train.filter((r) => predict(model, FEATURES.map((f) => r[f])) === r.species).length / train.length;

writeOutput("model", model);
writeParam("run_id", tracking.config.runId);
await tracking.logParams({ model_type: "logistic_regression (ml-logistic-regression, one-vs-rest)", num_steps: numSteps, learning_rate: learningRate, features: FEATURES.join(","), standardised: true });
await tracking.logMetrics({ train_accuracy: trainAccuracy, train_seconds: seconds });
console.log(`trained on ${train.length} rows in ${seconds.toFixed(2)} s: train accuracy ${(trainAccuracy * 100).toFixed(1)}%`);
