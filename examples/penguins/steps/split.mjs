// split: stratified by species, seeded, so the same seed gives the same split.
import { SPECIES, param, random, readInput, tracking, writeOutput, writeParam } from "./common.mjs";

const rows = readInput("data");
const seed = Number(param("seed"));
const testFraction = Number(param("test_fraction"));
const rand = random(seed);
const train = [];
const test = [];
for (const s of SPECIES) {
  const group = rows.filter((r) => r.species === s);
  for (let i = group.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [group[i], group[j]] = [group[j], group[i]];
  }
  const nTest = Math.round(group.length * testFraction);
  test.push(...group.slice(0, nTest));
  train.push(...group.slice(nTest));
}
writeOutput("train", train);
writeOutput("test", test);
writeParam("train_rows", train.length);
writeParam("test_rows", test.length);
await tracking.logParams({ seed, test_fraction: testFraction });
await tracking.logMetrics({ train_rows: train.length, test_rows: test.length });
console.log(`split ${rows.length} rows (seed ${seed}): ${train.length} train, ${test.length} test, stratified by species`);
