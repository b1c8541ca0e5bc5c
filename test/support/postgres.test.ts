import { existsSync } from "node:fs";
import Database from "better-sqlite3";
import pg from "pg";
import { afterEach, beforeEach, describe, expect, inject, it } from "vitest";
import { createTestPgDatabase, forEachEngine, pgAvailable, pgUrl } from "./databases.ts";
import type { TestDatabase } from "./databases.ts";

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

it.runIf(process.env.CI === "true")("PostgreSQL is available on CI", () => {
  expect(pgAvailable).toBe(true);
});

describe.skipIf(!pgAvailable)("PostgreSQL test harness", () => {
  it("provides a reachable server", async () => {
    expect(inject("pgUrl")).toBe(pgUrl);
    const [row] = await query<{ version: string }>(pgUrl!, "SELECT version()");
    expect(row!.version).toMatch(/^PostgreSQL \d+/);
  });

  it("creates and drops isolated databases", async () => {
    const a = await createTestPgDatabase();
    const b = await createTestPgDatabase();
    expect(a.name).not.toBe(b.name);
    const [row] = await query<{ db: string }>(a.url, "SELECT current_database() AS db");
    expect(row!.db).toBe(a.name);

    await query(a.url, "CREATE TABLE t (x int); INSERT INTO t VALUES (1)");
    await expect(query(b.url, "SELECT * FROM t")).rejects.toThrow(/does not exist/);

    // open connections do not block the drop
    const lingering = new pg.Client({ connectionString: a.url });
    lingering.on("error", () => undefined); // it gets terminated by the drop
    await lingering.connect();
    await a.drop();
    await a.drop(); // idempotent
    await b.drop();
    await lingering.end().catch(() => undefined);

    const left = await query<{ datname: string }>(
      pgUrl!,
      `SELECT datname FROM pg_database WHERE datname IN ('${a.name}', '${b.name}')`,
    );
    expect(left).toEqual([]);
  });
});

describe("forEachEngine", () => {
  const seen: Record<string, string[]> = {};

  forEachEngine((engine, db) => {
    let current: TestDatabase;
    beforeEach(() => {
      current = db();
    });

    it("hands out a usable, fresh database", async () => {
      expect(current.engine).toBe(engine);
      switch (current.engine) {
        case "sqlite": {
          expect(existsSync(current.filename)).toBe(false);
          const sqlite = new Database(current.filename);
          sqlite.exec("CREATE TABLE t (x INTEGER)");
          sqlite.close();
          (seen[engine] ??= []).push(current.filename);
          break;
        }
        case "postgres": {
          const rows = await query<{ n: string }>(current.url, "SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public'");
          expect(rows[0]!.n).toBe("0");
          await query(current.url, "CREATE TABLE t (x int)");
          (seen[engine] ??= []).push(current.name);
          break;
        }
      }
    });

    it("gives every test its own database", () => {
      const previous = seen[engine] ?? [];
      expect(previous).toHaveLength(1);
      const id = current.engine === "sqlite" ? current.filename : current.name;
      expect(id).not.toBe(previous[0]);
    });
  });

  forEachEngine(
    (engine, db) => {
      let first: TestDatabase | undefined;
      afterEach(() => {
        first ??= db();
      });
      it("shares one database per suite (1)", () => expect(db().engine).toBe(engine));
      it("shares one database per suite (2)", () => expect(db()).toBe(first));
    },
    { database: "suite" },
  );
});
