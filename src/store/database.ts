/**
 * The store port: one relational database reached through Kysely, on SQLite (embedded default)
 * or PostgreSQL (cluster). Feature modules own their tables and migrations
 * (see src/store/migrations.ts) and write queries once, for both dialects.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { Kysely, PostgresDialect, SqliteDialect, sql, type SqliteDatabase, type Transaction } from "kysely";
import pg from "pg";
import { InvalidInputError } from "../platform/errors.ts";
import type { Tables } from "./tables.ts";

export type Engine = "sqlite" | "postgres";

export type Db = Kysely<Tables>;
export type Tx = Transaction<Tables>;

export interface Database {
  readonly engine: Engine;
  readonly db: Db;
  /** Runs `fn` in one transaction: everything or nothing is written. */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  ping(): Promise<void>;
  close(): Promise<void>;
  /** Human-readable location, safe to log (no password). */
  readonly description: string;
  /**
   * SQLite only (undefined on PostgreSQL): runs `fn` synchronously in one better-sqlite3
   * transaction, serialized with Kysely's queries on the same connection. For hot write paths
   * where compiling SQL and async round trips cost more than the writes themselves.
   */
  readonly native?: NativeSqlite;
  /**
   * PostgreSQL only (undefined on SQLite): one statement, outside any transaction, as a named
   * prepared statement — parsed and planned once per pooled connection instead of on every
   * call, as Kysely's unnamed statements are. For hot single-statement paths. A name must
   * always be used with the same SQL text.
   */
  readonly prepared?: (name: string, sqlText: string, values: readonly unknown[]) => Promise<{ rowCount: number }>;
}

/** The native SQLite fast path (see Database.native). */
export interface NativeSqlite {
  /** `fn` in BEGIN IMMEDIATE ... COMMIT (rolled back if it throws). Do not call Kysely inside. */
  transaction<T>(fn: (s: NativeStatements) => T): Promise<T>;
}

/** Prepared statements by SQL text (cached for the connection's lifetime). */
export interface NativeStatements {
  prepare(sqlText: string): BetterSqlite3.Statement;
}

export interface DatabaseOptions {
  /** `sqlite:/abs/path/forja.db`, `sqlite::memory:`, or `postgres://user:pass@host:port/db`. */
  readonly url: string;
  readonly poolSize?: number;
}

export function parseDatabaseUrl(url: string): { engine: "sqlite"; file: string } | { engine: "postgres"; url: string } {
  if (url.startsWith("sqlite:")) {
    const file = url.slice("sqlite:".length).replace(/^\/\/(?=\/)/, "");
    if (!file) throw InvalidInputError.field("database.url", "sqlite URL needs a file path, e.g. sqlite:/var/lib/forja/forja.db");
    return { engine: "sqlite", file };
  }
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) return { engine: "postgres", url };
  throw InvalidInputError.field("database.url", `unsupported scheme in "${redactUrl(url)}": use sqlite:PATH or postgres://...`);
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):([^@]*)@/, "//$1:***@");
}

// PostgreSQL returns BIGINT (int8) as strings by default; our counters fit in a JS number.
pg.types.setTypeParser(20, (v: string) => Number(v));

/**
 * Kysely's SQLite driver prepares every statement anew; parsing a 100-row INSERT costs more
 * than running it. Cache prepared statements by SQL text (queries run one at a time on the
 * single connection, so sharing a statement is safe).
 */
function withStatementCache(native: BetterSqlite3.Database, max = 1000): SqliteDatabase {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => native.close(),
    prepare(sqlText: string) {
      let stmt = cache.get(sqlText);
      if (stmt) {
        // Most recently used last, so the oldest is evicted first.
        cache.delete(sqlText);
      } else {
        stmt = native.prepare(sqlText);
        if (cache.size >= max) cache.delete(cache.keys().next().value as string);
      }
      cache.set(sqlText, stmt);
      return stmt;
    },
  };
}

function nativeSqlite(native: BetterSqlite3.Database, db: Db): NativeSqlite {
  const cache = new Map<string, BetterSqlite3.Statement>();
  const statements: NativeStatements = {
    prepare(sqlText) {
      let stmt = cache.get(sqlText);
      if (!stmt) {
        stmt = native.prepare(sqlText);
        cache.set(sqlText, stmt);
      }
      return stmt;
    },
  };
  return {
    // Holding a Kysely connection takes the SQLite driver's mutex: no Kysely transaction is
    // open on the connection while `fn` runs, and none starts until it is done.
    transaction: (fn) => db.connection().execute(() => new Promise((resolve) => resolve(native.transaction(fn).immediate(statements)))),
  };
}

export function openDatabase(options: DatabaseOptions): Database {
  const parsed = parseDatabaseUrl(options.url);
  if (parsed.engine === "sqlite") {
    if (parsed.file !== ":memory:") mkdirSync(dirname(parsed.file), { recursive: true });
    const native = new BetterSqlite3(parsed.file);
    native.pragma("journal_mode = WAL");
    native.pragma("synchronous = NORMAL"); // durable across process crashes in WAL mode
    native.pragma("foreign_keys = ON");
    native.pragma("busy_timeout = 5000");
    // Metric logging touches many index pages per transaction: checkpoint the WAL less often
    // (≈40 MB) and keep a 64 MB page cache, which halves the cost of a 100-metric batch.
    native.pragma("wal_autocheckpoint = 10000");
    native.pragma("cache_size = -65536");
    const db = new Kysely<Tables>({ dialect: new SqliteDialect({ database: withStatementCache(native) }) });
    return { ...makeDatabase("sqlite", db, `sqlite:${parsed.file}`), native: nativeSqlite(native, db) };
  }
  const pool = new pg.Pool({ connectionString: parsed.url, max: options.poolSize ?? 10 });
  // An idle connection closed by the server (restart, failover, idle timeout) is reported here;
  // unhandled, it would crash the process. The pool discards it and connects afresh on next use;
  // errors of queries in flight still reach their callers.
  pool.on("error", () => undefined);
  const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
  return {
    ...makeDatabase("postgres", db, redactUrl(parsed.url)),
    prepared: async (name, text, values) => ({ rowCount: (await pool.query({ name, text, values: [...values] })).rowCount ?? 0 }),
  };
}

function makeDatabase(engine: Engine, db: Db, description: string): Database {
  return {
    engine,
    db,
    description,
    transaction: (fn) => db.transaction().execute(fn),
    async ping() {
      await sql`select 1`.execute(db);
    },
    async close() {
      await db.destroy();
    },
  };
}
