// evaluate: accuracy and confusion matrix on the held-out rows, logged to tracking (this step's
// run and the training run). Fails the run when accuracy is below min_accuracy.
import { writeFileSync } from "node:fs";
import { FEATURES, SPECIES, outputPath, param, predict, readInput, tracking, trackingFor, writeParam } from "./common.mjs";

const model = readInput("model");
const test = readInput("test");
const minAccuracy = Number(param("min_accuracy"));
const trainRun = trackingFor(param("train_run"));
const confusion = SPECIES.map(() => SPECIES.map(() => 0));
let correct = 0;
for (const r of test) {
  const p = predict(model, FEATURES.map((f) => r[f]));
  confusion[SPECIES.indexOf(r.species)][SPECIES.indexOf(p)]++;
  if (p === r.species) correct++;
}
const accuracy = correct / test.length;
const report = { accuracy, rows: test.length, labels: SPECIES, confusion_matrix: confusion, note: "rows: true species, columns: predicted" };
writeFileSync(outputPath("report"), JSON.stringify(report, null, 2));
const cells = Object.fromEntries(SPECIES.flatMap((t, i) => SPECIES.map((p, j) => [`confusion_${t}_${p}`, confusion[i][j]])));
for (const client of [tracking, trainRun]) {
  await client.logMetrics({ accuracy, test_rows: test.length, ...cells });
  await client.logArtifact(outputPath("report"), "evaluation/confusion_matrix.json");
}
await tracking.logParams({ min_accuracy: minAccuracy });
writeParam("accuracy", accuracy);

const w = Math.max(...SPECIES.map((s) => s.length)) + 2;
console.log(`accuracy ${(accuracy * 100).toFixed(1)}% on ${test.length} held-out rows (threshold ${(minAccuracy * 100).toFixed(1)}%)`);
console.log(`confusion matrix (rows: true, columns: predicted)\n${"".padEnd(w)}${SPECIES.map((s) => s.padStart(w)).join("")}`);
SPECIES.forEach((s, i) => console.log(`${s.padEnd(w)}${confusion[i].map((n) => String(n).padStart(w)).join("")}`));
if (accuracy < minAccuracy) {
  console.error(`accuracy ${accuracy.toFixed(4)} is below min_accuracy ${minAccuracy}: failing the run`);
  process.exit(1);
}
