// Shared by the penguins pipeline steps: step I/O (see docs/pipelines.md, "the executor
// contract"), the Forja SDK (TypeScript, loaded through tsx like bin/forja.mjs), the data file
// and a seeded random generator.
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { register } from "tsx/esm/api";

register();
const sdk = await import("../../../src/sdk/index.ts");
export const { TrackingClient } = sdk;
/** The step's own tracking run (MLFLOW_* variables set by Forja). */
export const tracking = TrackingClient.fromEnv();
/** A tracking client for another run of the same project (e.g. the training run). */
export const trackingFor = (runId) => new TrackingClient({ ...tracking.config, runId });
export const importSource = (path) => import(new URL(`../../../src/${path}`, import.meta.url).href);

export const FEATURES = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"];
export const SPECIES = ["Adelie", "Chinstrap", "Gentoo"];

const env = process.env;
export const param = (name) => {
  const v = env[`FORJA_PARAM_${name.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`];
  if (v === undefined) throw new Error(`input param ${name} is missing`);
  return v;
};
export const readInput = (name) => JSON.parse(readFileSync(join(env.FORJA_INPUTS_DIR, "artifacts", name), "utf8"));
export const writeOutput = (name, value) => writeFileSync(join(env.FORJA_OUTPUTS_DIR, "artifacts", name), JSON.stringify(value));
export const writeParam = (name, value) => writeFileSync(join(env.FORJA_OUTPUTS_DIR, "params", name), typeof value === "string" ? value : JSON.stringify(value));
export const outputPath = (name) => join(env.FORJA_OUTPUTS_DIR, "artifacts", name);

/** The Palmer penguins data as shipped by the npm package vega-datasets (offline). */
export function penguinsFile() {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve("vega-datasets")), "..", "data", "penguins.json");
}

/** mulberry32: a small seeded generator, so splits are reproducible. */
export function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Softmax-regression prediction in raw feature space: {weights[c][f], bias[c], classes}. */
export function predict(model, x) {
  const z = model.weights.map((w, c) => w.reduce((s, wf, f) => s + wf * x[f], model.bias[c]));
  let best = 0;
  for (let c = 1; c < z.length; c++) if (z[c] > z[best]) best = c;
  return model.classes[best];
}
