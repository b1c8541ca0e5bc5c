// register: a new version of the model from the training run (lineage: its source run and the
// pipeline run), and @champion when it beats the current champion's accuracy.
import { param, trackingFor, writeParam } from "./common.mjs";

const name = param("model");
const accuracy = Number(param("accuracy"));
const run = trackingFor(param("train_run"));
const v = await run.registerModelVersion(name, "model", {
  description: `Palmer penguins species classifier; test accuracy ${accuracy.toFixed(4)}`,
  tags: { accuracy: String(accuracy), dataset: "vega-datasets/penguins" },
});
const champion = await run.getModelVersionByAlias(name, "champion");
const championAccuracy = champion ? Number(champion.tags.accuracy ?? "NaN") : undefined;
const promote = champion === undefined || !(championAccuracy >= accuracy);
if (promote) await run.setAlias(name, "champion", v.version);
writeParam("version", v.version);
writeParam("champion", String(promote));
console.log(`registered ${name} version ${v.version} (source runs:/${run.config.runId}/model, accuracy ${accuracy.toFixed(4)})`);
console.log(
  promote
    ? `${name}@champion → version ${v.version}${champion ? ` (was version ${champion.version}, accuracy ${championAccuracy})` : " (first champion)"}`
    : `${name}@champion stays at version ${champion.version} (accuracy ${championAccuracy} ≥ ${accuracy.toFixed(4)})`,
);
