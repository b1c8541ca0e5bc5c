/**
 * The store port: one relational database reached through Kysely, on SQLite (embedded default)
 * or PostgreSQL (cluster). Feature modules own their tables and migrations
 * (see src/store/migrations.ts) and write queries once, for both dialects.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { Kysely, PostgresDialect, SqliteDialect, sql, type Transaction } from "kysely";
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

export function openDatabase(options: DatabaseOptions): Database {
  const parsed = parseDatabaseUrl(options.url);
  if (parsed.engine === "sqlite") {
    if (parsed.file !== ":memory:") mkdirSync(dirname(parsed.file), { recursive: true });
    const native = new BetterSqlite3(parsed.file);
    native.pragma("journal_mode = WAL");
    native.pragma("synchronous = NORMAL"); // durable across process crashes in WAL mode
    native.pragma("foreign_keys = ON");
    native.pragma("busy_timeout = 5000");
    const db = new Kysely<Tables>({ dialect: new SqliteDialect({ database: native }) });
    return makeDatabase("sqlite", db, `sqlite:${parsed.file}`);
  }
  const pool = new pg.Pool({ connectionString: parsed.url, max: options.poolSize ?? 10 });
  // An idle connection closed by the server (restart, failover, idle timeout) is reported here;
  // unhandled, it would crash the process. The pool discards it and connects afresh on next use;
  // errors of queries in flight still reach their callers.
  pool.on("error", () => undefined);
  const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
  return makeDatabase("postgres", db, redactUrl(parsed.url));
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
