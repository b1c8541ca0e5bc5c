import BetterSqlite3 from "better-sqlite3";
const db = new BetterSqlite3("/tmp/tb/prof.db");
db.exec(`DROP TABLE IF EXISTS lm2; CREATE TABLE lm2 (run_id varchar(64) not null, key varchar(250) not null, value double precision not null, is_nan integer not null, timestamp bigint not null, step bigint not null, PRIMARY KEY (run_id, key)) WITHOUT ROWID; INSERT INTO lm2 SELECT run_id,key,value,is_nan,timestamp,step FROM tracking_latest_metrics; CREATE INDEX lm2k ON lm2(key, value); ANALYZE;`);
const q = `SELECT r.* FROM tracking_runs r LEFT JOIN lm2 o1 ON o1.run_id = r.run_id AND o1.key = 'loss' WHERE r.experiment_id IN (1) AND r.lifecycle_stage IN ('active') AND EXISTS (SELECT 1 FROM lm2 fm2 WHERE fm2.run_id = r.run_id AND fm2.key = 'acc' AND fm2.is_nan = 0 AND fm2.value > CAST(0.5 AS DOUBLE PRECISION)) ORDER BY CASE WHEN o1.run_id IS NULL THEN 2 WHEN o1.is_nan = 1 THEN 1 ELSE 0 END, o1.value ASC, r.start_time DESC, r.run_id ASC LIMIT 100 OFFSET 0`;
console.log(db.prepare("EXPLAIN QUERY PLAN " + q).all().map((r: any) => r.detail).join("\n"));
for (const lim of [100, 1000]) { const s = db.prepare(q.replace("LIMIT 100", `LIMIT ${lim}`)); let t = performance.now(); for (let i = 0; i < 20; i++) s.all(); console.log("without rowid", lim, ((performance.now() - t) / 20).toFixed(2)); }
const q0 = q.replaceAll("lm2", "tracking_latest_metrics");
for (const lim of [100, 1000]) { const s = db.prepare(q0.replace("LIMIT 100", `LIMIT ${lim}`)); let t = performance.now(); for (let i = 0; i < 20; i++) s.all(); console.log("rowid", lim, ((performance.now() - t) / 20).toFixed(2)); }
db.exec("DROP TABLE lm2; DROP TABLE IF EXISTS sqlite_stat1");
