/**
 * The tracking store's metric write path on both engines: points staged one row per log call,
 * flushed into per-(run, key) chunks and the latest-metric table by readers or in the
 * background (src/tracking/store.ts, src/tracking/metric-chunks.ts).
 */
import { Migrator, type Migration } from "kysely";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MlflowError, type ExperimentRow } from "../../src/mlflow/index.ts";
import { openDatabase, type Database } from "../../src/store/database.ts";
import { registryMigrations } from "../../src/registry/migrations.ts";
import { coreMigrations, migrate } from "../../src/store/migrations.ts";
import { trackingMigrations } from "../../src/tracking/migrations.ts";
import { TrackingStore, type MetricPoint } from "../../src/tracking/store.ts";
import { forEachEngine } from "../support/databases.ts";
import { dbUrl } from "./helpers.ts";

async function rejection(p: Promise<unknown>): Promise<MlflowError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof MlflowError) return e;
    throw e;
  }
  throw new Error("expected a rejection");
}

/** Core and tracking migrations that sort before `name` (Kysely applies them in name order, so a database as it was before `name`). */
const migrationsBefore = (name: string) => Object.fromEntries(Object.entries({ ...coreMigrations(), ...trackingMigrations }).filter(([n]) => n < name));
const point = (key: string, step: number, timestamp: number, value: number): MetricPoint => ({ key, step, timestamp, value });
const count = async (database: Database, table: "tracking_metric_batches" | "tracking_metric_chunks") =>
  Number((await database.db.selectFrom(table).select((eb) => eb.fn.countAll().as("n")).executeTakeFirstOrThrow()).n);

forEachEngine((_engine, db) => {
  describe("metric points", () => {
    let database: Database;
    let store: TrackingStore;
    let exp: ExperimentRow;
    let run: string;
    beforeEach(async () => {
      database = openDatabase({ url: dbUrl(db()) });
      await migrate(database, { ...coreMigrations(), ...trackingMigrations });
      store = new TrackingStore(database);
      exp = await store.createExperiment("p", "e");
      run = (await store.createRun(exp, { userId: "u", startTime: 1, tags: [] })).run_id;
    });
    afterEach(() => database.close());

    const history = async (key: string, r = run) => (await store.metricHistory(r, key, 0, undefined)).map((m) => [m.step, m.timestamp, m.is_nan ? "NaN" : m.value]);
    const latest = async (key: string, r = run) => (await store.runData([r])).get(r)?.metrics.find((m) => m.key === key);

    describe("history", () => {
      it("is visible to the next read, in MLflow's (timestamp, step, value) order across flushes", async () => {
        await store.logBatch(run, [point("a", 2, 5, 1), point("a", 1, 9, 2), point("b", 0, 0, 3)], [], []);
        expect(await history("a")).toEqual([[2, 5, 1], [1, 9, 2]]);
        await store.logBatch(run, [point("a", 1, 9, 5), point("a", 0, 1, 4)], [], []);
        await store.logBatch(run, [point("a", 1, 9, 3), point("a", 1, 9, NaN), point("a", 1, 9, 3)], [], []);
        // Equal (timestamp, step): by value, NaN last; equal in all three: logged order (no point lost).
        expect(await history("a")).toEqual([[0, 1, 4], [2, 5, 1], [1, 9, 2], [1, 9, 3], [1, 9, 3], [1, 9, 5], [1, 9, "NaN"]]);
        expect(await history("b")).toEqual([[0, 0, 3]]);
        expect(await count(database, "tracking_metric_batches")).toBe(0);
      });

      it("keeps NaN, clamps ±Infinity, and keeps every double exactly", async () => {
        const values = [NaN, Infinity, -Infinity, 0.1, -0, 5e-324, 1.7976931348623157e308, 123456.789, -1e-300];
        await store.logBatch(run, values.map((v, i) => point("v", i, 1, v)), [], []);
        const stored = (await store.metricHistory(run, "v", 0, undefined)).map((m) => (m.is_nan ? "NaN" : m.value));
        expect(stored).toEqual(["NaN", 1.7976931348623157e308, -1.7976931348623157e308, 0.1, -0, 5e-324, 1.7976931348623157e308, 123456.789, -1e-300]);
        expect(await latest("v")).toMatchObject({ step: 8, value: -1e-300, is_nan: 0 });
      });

      it("pages by offset and restricts by step range", async () => {
        await store.logBatch(run, Array.from({ length: 10 }, (_, i) => point("h", 9 - i, 1, i)), [], []);
        expect((await store.metricHistory(run, "h", 3, 4)).map((m) => m.step)).toEqual([3, 4, 5, 6]);
        expect((await store.metricHistory(run, "h", 8, undefined)).map((m) => m.step)).toEqual([8, 9]);
        expect((await store.metricRange(run, "h", 2, 4)).map((m) => m.step)).toEqual([2, 3, 4]);
      });
    });

    describe("latest metrics", () => {
      it("follow the (step, timestamp, value) rule within a batch and across flushes", async () => {
        await store.logBatch(run, [point("m", 5, 1, 1), point("m", 5, 1, 7), point("m", 4, 9, 9), point("m", 5, 1, 3)], [], []);
        expect(await latest("m")).toMatchObject({ step: 5, timestamp: 1, value: 7 });
        await store.logBatch(run, [point("m", 4, 100, 100)], [], []);
        expect(await latest("m")).toMatchObject({ step: 5, value: 7 }); // an older step never wins
        await store.logBatch(run, [point("m", 5, 2, -1)], [], []);
        expect(await latest("m")).toMatchObject({ step: 5, timestamp: 2, value: -1 });
        await store.logBatch(run, [point("m", 6, 0, NaN)], [], []);
        expect(await latest("m")).toMatchObject({ step: 6, value: 0, is_nan: 1 });
      });

      it("are what runs/search filters and orders on", async () => {
        const other = (await store.createRun(exp, { userId: "u", startTime: 2, tags: [] })).run_id;
        await store.logBatch(run, [point("acc", 0, 1, 0.9)], [], []);
        await store.logBatch(other, [point("acc", 0, 1, 0.4)], [], []);
        const { parseOrderBy, parseRunFilter } = await import("../../src/tracking/search/index.ts");
        const found = await store.searchRuns({
          experimentIds: [exp.experiment_id],
          lifecycleStages: ["active"],
          filter: parseRunFilter("metrics.acc > 0.5"),
          orderBy: parseOrderBy([]),
          offset: 0,
          limit: 10,
        });
        expect(found.map((r) => r.run_id)).toEqual([run]);
      });
    });

    describe("writes", () => {
      it("need an existing, active run (404 / 400), and stage nothing otherwise", async () => {
        expect((await rejection(store.logBatch("nope", [point("m", 0, 0, 1)], [], []))).errorCode).toBe("RESOURCE_DOES_NOT_EXIST");
        const row = (await store.runsByIds([run]))[0]!;
        await store.setRunLifecycle(row, "deleted");
        for (const write of [
          () => store.logBatch(run, [point("m", 0, 0, 1)], [], []),
          () => store.logBatch(run, [point("m", 0, 0, 1)], [{ key: "p", value: "1" }], []),
          () => store.logBatch(run, [], [], []),
        ]) {
          expect((await rejection(write())).errorCode).toBe("INVALID_PARAMETER_VALUE");
        }
        expect(await count(database, "tracking_metric_batches")).toBe(0);
        await store.setRunLifecycle(row, "active");
        await store.logBatch(run, [point("m", 0, 0, 1)], [], []);
        expect(await history("m")).toEqual([[0, 0, 1]]);
      });

      it("keep params immutable, all or nothing with the batch's metrics", async () => {
        await store.logBatch(run, [point("m", 0, 0, 1)], [{ key: "p", value: "1" }], [{ key: "t", value: "x" }]);
        await store.logBatch(run, [], [{ key: "p", value: "1" }], []);
        const err = await rejection(store.logBatch(run, [point("m", 1, 0, 2)], [{ key: "p", value: "2" }], [{ key: "t", value: "y" }]));
        expect(err.message).toContain("Changing param values is not allowed");
        const data = (await store.runData([run])).get(run)!;
        expect(data.params).toEqual([{ key: "p", value: "1" }]);
        expect(data.tags).toContainEqual({ key: "t", value: "x" });
        expect(await history("m")).toEqual([[0, 0, 1]]);
      });

      it("are flushed in the background once enough points are staged", async () => {
        const batch = (step: number) => Array.from({ length: 500 }, (_, i) => point(`k${i % 50}`, step, 1, i));
        for (let step = 0; step < 100; step++) await store.logBatch(run, batch(step), [], []); // 50,000 points
        await vi.waitFor(async () => expect(await count(database, "tracking_metric_batches")).toBe(0), { timeout: 30_000 });
        expect(await count(database, "tracking_metric_chunks")).toBeGreaterThan(0);
        expect(await history("k7")).toHaveLength(1000);
      });
    });

    it("two servers logging to one run and reading concurrently lose and duplicate no point", async () => {
      const second = openDatabase({ url: dbUrl(db()) });
      try {
        const stores = [store, new TrackingStore(second)];
        const sent = new Map<string, number[]>();
        await Promise.all(
          stores.map(async (s, si) => {
            for (let b = 0; b < 30; b++) {
              const points = Array.from({ length: 20 }, (_, i) => point(`k${i % 4}`, si * 1000 + b, b, i));
              for (const p of points) sent.set(p.key, [...(sent.get(p.key) ?? []), p.step]);
              await s.logBatch(run, points, [], []);
              if (b % 7 === 0) await s.metricHistory(run, "k0", 0, undefined); // a reader's flush, racing the other server's
            }
          }),
        );
        for (const [key, steps] of sent) {
          for (const s of stores) {
            // MLflow's order: by timestamp (the batch, b = step % 1000), then step.
            expect((await s.metricHistory(run, key, 0, undefined)).map((m) => m.step)).toEqual([...steps].sort((a, b) => (a % 1000) - (b % 1000) || a - b));
          }
          expect(await latest(key)).toMatchObject({ step: 1029 });
        }
      } finally {
        await second.close();
      }
    });

  });

  it("migration 0201 moves existing points into chunks, keeping their order ahead of new ones", async () => {
    const fresh = openDatabase({ url: dbUrl(db()) });
    try {
      // A database as migration 0200 left it, with points in both of its metric tables.
      await migrate(fresh, migrationsBefore("0201_tracking_metric_chunks"));
      const old = new TrackingStore(fresh);
      const oldExp = await old.createExperiment("p", "old");
      const oldRun = (await old.createRun(oldExp, { userId: "u", startTime: 1, tags: [] })).run_id;
      const raw = fresh.db as unknown as Database["db"] & { insertInto(t: string): { values(v: unknown): { execute(): Promise<unknown> } } };
      await raw.insertInto("tracking_metrics").values([
        { run_id: oldRun, key: "m", step: 2, timestamp: 1, seq: 1, value: 20, is_nan: 0 },
        { run_id: oldRun, key: "m", step: 1, timestamp: 1, seq: 2, value: 10, is_nan: 0 },
      ]).execute();
      await raw.insertInto("tracking_metrics_staged").values([{ run_id: oldRun, key: "m", step: 2, timestamp: 1, value: 0, is_nan: 1 }]).execute();
      const migrator = new Migrator({ db: fresh.db, provider: { getMigrations: () => Promise.resolve({ ...coreMigrations(), ...trackingMigrations } as Record<string, Migration>) } });
      const { error } = await migrator.migrateToLatest();
      expect(error).toBeUndefined();

      const migrated = new TrackingStore(fresh);
      await migrated.logBatch(oldRun, [point("m", 2, 1, 30)], [], []);
      const points = (await migrated.metricHistory(oldRun, "m", 0, undefined)).map((m) => (m.is_nan ? "NaN" : m.value));
      expect(points).toEqual([10, 20, 30, "NaN"]); // MLflow's order at equal (timestamp, step): by value, NaN last
    } finally {
      await fresh.close();
    }
  });

  it("migration 0620 writes model versions' mlflow-artifacts:/0/ and /007/ sources with their experiment's own id", async () => {
    const fresh = openDatabase({ url: dbUrl(db()) });
    try {
      const all = { ...coreMigrations(), ...trackingMigrations, ...registryMigrations };
      await migrate(fresh, Object.fromEntries(Object.entries(all).filter(([n]) => n < "0620_registry_canonical_sources")));
      const store = new TrackingStore(fresh);
      const a = Number((await store.createExperiment("a", "Default")).experiment_id);
      const b = Number((await store.createExperiment("b", "Default")).experiment_id);
      const raw = fresh.db as unknown as { insertInto(t: string): { values(v: unknown): { execute(): Promise<unknown> } } };
      await raw.insertInto("registered_models").values([{ project: "a", name: "m", creation_timestamp: 1, last_updated_timestamp: 1 }, { project: "b", name: "m", creation_timestamp: 1, last_updated_timestamp: 1 }]).execute();
      const version = (project: string, v: number, location: string) => ({ project, name: "m", version: v, creation_timestamp: 1, last_updated_timestamp: 1, source: location, storage_location: location, status: "READY", current_stage: "None" });
      await raw.insertInto("model_versions").values([
        version("a", 1, "mlflow-artifacts:/0/r1/artifacts/model"),
        version("b", 1, "mlflow-artifacts:/0/r2/artifacts/model"),
        version("a", 2, `mlflow-artifacts:/00${b}/r3/artifacts/model`),
        version("a", 3, `mlflow-artifacts:/${a}/r4/artifacts/model`),
        version("a", 4, "runs:/r5/model"),
      ]).execute();
      const migrator = new Migrator({ db: fresh.db, provider: { getMigrations: () => Promise.resolve(all as Record<string, Migration>) } });
      expect((await migrator.migrateToLatest()).error).toBeUndefined();
      const rows = await fresh.db.selectFrom("model_versions").select(["project", "version", "source", "storage_location"]).orderBy("project").orderBy("version").execute();
      expect(rows.map((r) => [r.project, Number(r.version), r.storage_location])).toEqual([
        ["a", 1, `mlflow-artifacts:/${a}/r1/artifacts/model`],
        ["a", 2, `mlflow-artifacts:/${b}/r3/artifacts/model`],
        ["a", 3, `mlflow-artifacts:/${a}/r4/artifacts/model`],
        ["a", 4, "runs:/r5/model"],
        ["b", 1, `mlflow-artifacts:/${b}/r2/artifacts/model`],
      ]);
      // What the client registered is still shown as given.
      expect(rows[0]?.source).toBe("mlflow-artifacts:/0/r1/artifacts/model");
    } finally {
      await fresh.close();
    }
  });

  it("migration 0610 rekeys artifact paths to their own experiment's id ('0/...' was shared by every project)", async () => {
    const fresh = openDatabase({ url: dbUrl(db()) });
    try {
      await migrate(fresh, migrationsBefore("0610_tracking_artifact_paths"));
      const old = new TrackingStore(fresh);
      const a = Number((await old.createExperiment("a", "Default")).experiment_id);
      const b = Number((await old.createExperiment("b", "Default")).experiment_id);
      const row = (path: string, experiment_id: number, digest: string, created_at: number) => ({ path, experiment_id, digest, size: 1, created_at });
      await fresh.db.insertInto("tracking_artifacts").values([
        row("0/a.txt", a, "d-a", 1),
        row("0/b/x.txt", b, "d-b", 1),
        row(`${a}/kept.txt`, a, "d-kept", 1),
        row(`${a}/dup.txt`, a, "d-new", 5), // newer than its "0/" twin: kept
        row("0/dup.txt", a, "d-old", 2),
        row(`${b}/dup2.txt`, b, "d-old", 2), // older than its "0<id>/" twin: replaced
        row(`0${b}/dup2.txt`, b, "d-new", 5),
        row(`00${a}/pad.txt`, a, "d-pad", 1),
      ]).execute();
      const migrator = new Migrator({ db: fresh.db, provider: { getMigrations: () => Promise.resolve({ ...coreMigrations(), ...trackingMigrations } as Record<string, Migration>) } });
      const { error } = await migrator.migrateToLatest();
      expect(error).toBeUndefined();
      const rows = await fresh.db.selectFrom("tracking_artifacts").select(["path", "experiment_id", "digest"]).execute();
      const byPath = (x: unknown[], y: unknown[]) => (String(x[0]) < String(y[0]) ? -1 : 1);
      expect(rows.map((r) => [r.path, Number(r.experiment_id), r.digest]).sort(byPath)).toEqual(
        [
          [`${a}/a.txt`, a, "d-a"],
          [`${a}/dup.txt`, a, "d-new"],
          [`${a}/kept.txt`, a, "d-kept"],
          [`${a}/pad.txt`, a, "d-pad"],
          [`${b}/b/x.txt`, b, "d-b"],
          [`${b}/dup2.txt`, b, "d-new"],
        ].sort(byPath),
      );
    } finally {
      await fresh.close();
    }
  });
});
