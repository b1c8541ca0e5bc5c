/**
 * Throwaway databases for tests, on every supported engine.
 *
 * Knows nothing about Forja's stores: it hands out a fresh SQLite file path or a fresh
 * PostgreSQL database URL; the test opens its store on it. PostgreSQL comes from the
 * server started by global-setup.ts; when there is none (local machine without
 * PostgreSQL), postgres suites are registered as skipped. On CI they never are.
 *
 *   forEachEngine((engine, db) => {
 *     let store: Store;
 *     beforeEach(async () => { store = await openStore(db()); });   // fresh database per test
 *     afterEach(() => store.close());
 *     it("round-trips a run", async () => { ... });
 *   });
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, afterEach, beforeAll, beforeEach, describe, inject } from "vitest";

export type Engine = "sqlite" | "postgres";
export const ENGINES: readonly Engine[] = ["sqlite", "postgres"];

export interface SqliteTestDatabase {
  readonly engine: "sqlite";
  /** Absolute path of a not-yet-existing database file in a fresh temp dir. */
  readonly filename: string;
  /** Removes the file (and -wal/-shm siblings). Idempotent. */
  drop(): Promise<void>;
}

export interface PostgresTestDatabase {
  readonly engine: "postgres";
  /** Connection URL of a fresh, empty database (owned by the server's superuser). */
  readonly url: string;
  /** Database name, e.g. forja_test_1234_1_a1b2c3. */
  readonly name: string;
  /** DROP DATABASE ... WITH (FORCE): works even if connections are still open. Idempotent. */
  drop(): Promise<void>;
}

export type TestDatabase = SqliteTestDatabase | PostgresTestDatabase;

/** Superuser URL of the test server, null when PostgreSQL tests are skipped. */
// undefined if a config without our globalSetup runs this file: treat as "no server".
const provided: string | null | undefined = inject("pgUrl");
export const pgUrl: string | null = provided ?? null;
export const pgAvailable: boolean = pgUrl !== null;

export function engineAvailable(engine: Engine): boolean {
  return engine === "sqlite" || pgAvailable;
}

let counter = 0;
function uniqueName(): string {
  return `forja_test_${process.pid}_${++counter}_${randomBytes(3).toString("hex")}`;
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

async function withAdminClient<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  if (pgUrl === null) {
    throw new Error("no PostgreSQL server for tests (guard the suite with forEachEngine or pgAvailable)");
  }
  const client = new pg.Client({ connectionString: pgUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Create a uniquely named, empty database on the test server. */
export async function createTestPgDatabase(): Promise<PostgresTestDatabase> {
  const name = uniqueName();
  // template0: never has connections, so concurrent CREATE DATABASE cannot collide on it.
  await withAdminClient((c) => c.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0 ENCODING 'UTF8'`));
  const url = new URL(pgUrl!);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    engine: "postgres",
    url: url.toString(),
    name,
    async drop() {
      if (dropped) return;
      dropped = true;
      await withAdminClient((c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`));
    },
  };
}

/** A fresh SQLite file path (the file itself is not created). */
export async function createTestSqliteDatabase(): Promise<SqliteTestDatabase> {
  const dir = await mkdtemp(join(tmpdir(), "forja-sqlite-"));
  return {
    engine: "sqlite",
    filename: join(dir, "test.db"),
    drop: () => rm(dir, { recursive: true, force: true }),
  };
}

export function createTestDatabase(engine: "sqlite"): Promise<SqliteTestDatabase>;
export function createTestDatabase(engine: "postgres"): Promise<PostgresTestDatabase>;
export function createTestDatabase(engine: Engine): Promise<TestDatabase>;
export function createTestDatabase(engine: Engine): Promise<TestDatabase> {
  switch (engine) {
    case "sqlite":
      return createTestSqliteDatabase();
    case "postgres":
      return createTestPgDatabase();
  }
}

export interface ForEachEngineOptions {
  /** Engines to run on; default: all (unavailable ones are registered as skipped). */
  readonly engines?: readonly Engine[];
  /**
   * When the database handed out by `db()` is created and dropped:
   * "test" (default) — a fresh one for every test; "suite" — one shared by the suite's tests;
   * "none" — no automatic database (call createTestDatabase(engine) yourself).
   */
  readonly database?: "test" | "suite" | "none";
}

/**
 * Register `fn`'s tests once per engine, each inside `describe("[engine]")`.
 * `db()` returns the current test database (valid inside hooks and tests, not at
 * registration time). Hooks that close stores on it should be registered inside `fn`:
 * they run before the database is dropped.
 */
export function forEachEngine(
  fn: (engine: Engine, db: () => TestDatabase) => void,
  options: ForEachEngineOptions = {},
): void {
  const mode = options.database ?? "test";
  for (const engine of options.engines ?? ENGINES) {
    const suite = engineAvailable(engine) ? describe : describe.skip;
    suite(`[${engine}]`, () => {
      let current: TestDatabase | undefined;
      const db = (): TestDatabase => {
        if (!current) {
          throw new Error(
            mode === "none"
              ? `forEachEngine({ database: "none" }) hands out no database; use createTestDatabase("${engine}")`
              : "db() is only available inside hooks and tests",
          );
        }
        return current;
      };
      const create = async (): Promise<void> => {
        current = await createTestDatabase(engine);
      };
      const drop = async (): Promise<void> => {
        const d = current;
        current = undefined;
        await d?.drop();
      };
      if (mode === "test") {
        beforeEach(create);
        afterEach(drop);
      } else if (mode === "suite") {
        beforeAll(create);
        afterAll(drop);
      }
      fn(engine, db);
    });
  }
}
