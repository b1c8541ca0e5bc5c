import { rmSync } from "node:fs";
import { openDatabase } from "../src/store/database.ts";
import { migrate, coreMigrations } from "../src/store/migrations.ts";
import { trackingMigrations } from "../src/tracking/migrations.ts";
import { TrackingStore } from "../src/tracking/store.ts";
import { searchRunRows } from "../src/tracking/search-sql.ts";
import { parseRunFilter, parseOrderBy } from "../src/tracking/search/index.ts";
import { runJson } from "../src/tracking/encode.ts";
const engine = (process.argv[2] ?? "sqlite") as "sqlite" | "postgres";
const url = engine === "sqlite" ? "sqlite:/tmp/tb/prof.db" : process.argv[3]!;
if (engine === "sqlite") for (const s of ["", "-wal", "-shm"]) rmSync("/tmp/tb/prof.db" + s, { force: true });
const database = openDatabase({ url });
await migrate(database, { ...coreMigrations(), ...trackingMigrations });
const store = new TrackingStore(database);
const exp = await store.createExperiment("p", "search");
const t0 = performance.now();
for (let i = 0; i < 10000; i++) {
  const run = await store.createRun(exp, { userId: "u", startTime: 1700000000000 + i, tags: [{ key: "team", value: i % 2 ? "vision" : "nlp" }] });
  await store.logBatch(run.run_id, [{ key: "acc", value: Math.random(), timestamp: 1, step: 0 }, { key: "loss", value: Math.random() * 3, timestamp: 1, step: 0 }],
    [{ key: "model", value: ["lr", "rf", "xgb"][i % 3]! }, { key: "lr", value: String((i % 10) / 100) }], []);
}
console.log("fill", (performance.now() - t0).toFixed(0), "ms");
const filter = parseRunFilter("metrics.acc > 0.5"); const orderBy = parseOrderBy(["metrics.loss ASC"]);
for (const limit of [100, 1000]) {
  const a: number[] = [], b: number[] = [], c: number[] = [];
  for (let i = 0; i < 30; i++) {
    let t = performance.now();
    const rows = await searchRunRows(database.db, engine, { experimentIds: [exp.experiment_id], lifecycleStages: ["active"], filter, orderBy, offset: 0, limit });
    a.push(performance.now() - t); t = performance.now();
    const data = await store.runData(rows.map((r) => r.run_id));
    b.push(performance.now() - t); t = performance.now();
    JSON.stringify({ runs: rows.map((r) => runJson(r, data.get(r.run_id))) });
    c.push(performance.now() - t);
  }
  const med = (x: number[]) => x.sort((p, q) => p - q)[15]!.toFixed(2);
  console.log(limit, "sql", med(a), "runData", med(b), "json", med(c));
}
await database.close();
