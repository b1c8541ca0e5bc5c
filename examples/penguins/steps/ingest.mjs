// ingest: the real Palmer penguins data (vega-datasets), renamed to snake_case, schema-checked;
// rows with a missing value are dropped.
import { readFileSync } from "node:fs";
import { FEATURES, SPECIES, penguinsFile, tracking, writeOutput, writeParam } from "./common.mjs";

const raw = JSON.parse(readFileSync(penguinsFile(), "utf8"));
const COLUMNS = {
  species: "Species",
  island: "Island",
  bill_length_mm: "Beak Length (mm)",
  bill_depth_mm: "Beak Depth (mm)",
  flipper_length_mm: "Flipper Length (mm)",
  body_mass_g: "Body Mass (g)",
  sex: "Sex",
};
if (!Array.isArray(raw) || raw.length === 0) throw new Error("penguins.json: expected a non-empty array of records");

const problems = [];
const rows = [];
let dropped = 0;
raw.forEach((r, i) => {
  const row = Object.fromEntries(Object.entries(COLUMNS).map(([to, from]) => [to, r[from] ?? null]));
  if (!SPECIES.includes(row.species)) problems.push(`row ${i}: species ${JSON.stringify(row.species)} is not one of ${SPECIES.join(", ")}`);
  for (const f of FEATURES) {
    const v = row[f];
    if (v !== null && (typeof v !== "number" || !Number.isFinite(v) || v <= 0)) problems.push(`row ${i}: ${f} must be a positive number or missing, got ${JSON.stringify(v)}`);
  }
  if (row.sex !== null && typeof row.sex !== "string") problems.push(`row ${i}: sex must be a string or missing`);
  if (Object.values(row).some((v) => v === null || v === ".")) dropped++;
  else rows.push(row);
});
if (problems.length) {
  console.error(`schema check failed (${problems.length} problems):\n  ${problems.slice(0, 20).join("\n  ")}`);
  process.exit(1);
}
writeOutput("data", rows);
writeParam("rows", rows.length);
await tracking.logParams({ source: "vega-datasets/data/penguins.json", features: FEATURES.join(",") });
await tracking.logMetrics({ rows_raw: raw.length, rows: rows.length, rows_dropped: dropped });
console.log(`ingested ${raw.length} records: ${rows.length} complete, ${dropped} dropped (missing values); schema ok`);
