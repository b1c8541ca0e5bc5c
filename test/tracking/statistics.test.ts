/**
 * Planner statistics on PostgreSQL (src/store/statistics.ts): a table filled in a burst is
 * analyzed by the store at once, not a minute later by autovacuum, so runs/search is planned
 * for the table's real size. SQLite keeps no statistics: the keeper does nothing there.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "kysely";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../../src/store/database.ts";
import { coreMigrations, migrate } from "../../src/store/migrations.ts";
import { TableStatistics } from "../../src/store/statistics.ts";
import { trackingMigrations } from "../../src/tracking/migrations.ts";
import { TrackingStore } from "../../src/tracking/store.ts";
import { forEachEngine } from "../support/databases.ts";
import { dbUrl } from "./helpers.ts";

forEachEngine((engine, db) => {
  describe("planner statistics", () => {
    let database: Database;
    beforeEach(async () => {
      database = openDatabase({ url: dbUrl(db()) });
      await migrate(database, { ...coreMigrations(), ...trackingMigrations });
    });
    afterEach(() => database.close());

    /** When the table was last analyzed by hand (not by autovacuum), or null. */
    const lastAnalyze = async (table: string) =>
      (await sql<{ t: Date | null }>`SELECT last_analyze AS t FROM pg_stat_user_tables WHERE relname = ${table}`.execute(database.db)).rows[0]?.t ?? null;
    const settled = async (stats: TableStatistics) => {
      for (let i = 0; i < 200 && stats.busy(); i++) await sleep(25);
      expect(stats.busy()).toBe(false);
    };

    if (engine === "postgres") {
      it("runs created in a burst get their table analyzed once enough rows changed, not before", async () => {
        const store = new TrackingStore(database);
        const exp = await store.createExperiment("p", "e");
        for (let i = 0; i < 100; i++) await store.createRun(exp, { userId: "u", startTime: i, tags: [] });
        await sleep(100);
        expect(await lastAnalyze("tracking_runs")).toBeNull();
        for (let i = 0; i < 450; i++) await store.createRun(exp, { userId: "u", startTime: i, tags: [] });
        for (let i = 0; i < 200 && (await lastAnalyze("tracking_runs")) === null; i++) await sleep(25);
        expect(await lastAnalyze("tracking_runs")).not.toBeNull();
        const { rows } = await sql<{ n: number }>`SELECT reltuples::float8 AS n FROM pg_class WHERE relname = 'tracking_runs'`.execute(database.db);
        expect(rows[0]?.n).toBeGreaterThanOrEqual(500);
      });

      it("a table is analyzed again only after it grew by a fifth", async () => {
        await sql`CREATE TABLE stats_probe (n int)`.execute(database.db);
        const stats = new TableStatistics(database, ["stats_probe"]);
        const insert = (k: number) => sql`INSERT INTO stats_probe SELECT generate_series(1, ${k})`.execute(database.db);
        await insert(5000);
        stats.wrote("stats_probe", 5000);
        await settled(stats);
        const first = await lastAnalyze("stats_probe");
        expect(first).not.toBeNull();
        await sleep(20); // last_analyze has microsecond resolution; make a second one distinguishable
        await insert(900);
        stats.wrote("stats_probe", 900); // < 20 % of 5,000
        await settled(stats);
        expect(await lastAnalyze("stats_probe")).toEqual(first);
        await insert(200);
        stats.wrote("stats_probe", 200); // 1,100 ≥ 1,000
        await settled(stats);
        expect((await lastAnalyze("stats_probe"))?.getTime()).toBeGreaterThan(first!.getTime());
      });
    } else {
      it("does nothing on SQLite", () => {
        const stats = new TableStatistics(database, ["tracking_runs"]);
        stats.wrote("tracking_runs", 100_000);
        expect(stats.busy()).toBe(false);
      });
    }

    it("refuses a table it was not given (a programming error, never user input)", () => {
      const stats = new TableStatistics(database, ["tracking_runs"]);
      expect(() => stats.wrote("tracking_runs; DROP TABLE x", 1)).toThrow(/unknown table/);
    });
  });
});
