import BetterSqlite3 from "better-sqlite3";
const db = new BetterSqlite3("/tmp/tb/prof.db");
const q = `SELECT r.* FROM tracking_runs r LEFT JOIN tracking_latest_metrics o1 ON o1.run_id = r.run_id AND o1.key = 'loss' WHERE r.experiment_id IN (1) AND r.lifecycle_stage IN ('active') AND EXISTS (SELECT 1 FROM tracking_latest_metrics fm2 WHERE fm2.run_id = r.run_id AND fm2.key = 'acc' AND fm2.is_nan = 0 AND fm2.value > CAST(0.5 AS DOUBLE PRECISION)) ORDER BY CASE WHEN o1.run_id IS NULL THEN 2 WHEN o1.is_nan = 1 THEN 1 ELSE 0 END, o1.value ASC, r.start_time DESC, r.run_id ASC LIMIT 100 OFFSET 0`;
console.log(db.prepare("EXPLAIN QUERY PLAN " + q).all().map((r: any) => r.detail).join("\n"));
const s = db.prepare(q); let t = performance.now(); for (let i = 0; i < 20; i++) s.all(); console.log("raw", ((performance.now() - t) / 20).toFixed(2));
const q2 = q.replace("SELECT r.*", "SELECT r.run_id");
const s2 = db.prepare(q2); t = performance.now(); for (let i = 0; i < 20; i++) s2.all(); console.log("ids only", ((performance.now() - t) / 20).toFixed(2));
