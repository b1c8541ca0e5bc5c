/**
 * Versioned migrations, applied in order at start (Kysely's Migrator records them in
 * `kysely_migration`). Feature modules append their own; never edit a released one.
 * Written with Kysely's schema builder so each runs on SQLite and PostgreSQL alike.
 */
import { Migrator, type Kysely, type Migration, type MigrationProvider } from "kysely";
import { errorMessage } from "../platform/errors.ts";
import type { Database } from "./database.ts";

export type NamedMigrations = Record<string, Migration>;

const core: NamedMigrations = {
  "0001_core_resources": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("resources")
        .addColumn("uid", "varchar(64)", (c) => c.primaryKey())
        .addColumn("api_version", "varchar(128)", (c) => c.notNull())
        .addColumn("kind", "varchar(128)", (c) => c.notNull())
        .addColumn("project", "varchar(128)", (c) => c.notNull())
        .addColumn("name", "varchar(253)", (c) => c.notNull())
        .addColumn("labels", "text", (c) => c.notNull())
        .addColumn("annotations", "text", (c) => c.notNull())
        .addColumn("finalizers", "text", (c) => c.notNull())
        .addColumn("spec", "text", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("resource_version", "bigint", (c) => c.notNull())
        .addColumn("generation", "integer", (c) => c.notNull())
        .addColumn("created_at", "varchar(40)", (c) => c.notNull())
        .addColumn("updated_at", "varchar(40)", (c) => c.notNull())
        .addColumn("deletion_timestamp", "varchar(40)")
        .addUniqueConstraint("resources_kind_project_name", ["kind", "project", "name"])
        .execute();
      await db.schema
        .createTable("resource_labels")
        .addColumn("uid", "varchar(64)", (c) => c.notNull().references("resources.uid").onDelete("cascade"))
        .addColumn("key", "varchar(317)", (c) => c.notNull())
        .addColumn("value", "varchar(63)", (c) => c.notNull())
        .addPrimaryKeyConstraint("resource_labels_pk", ["uid", "key"])
        .execute();
      await db.schema.createIndex("resource_labels_kv").on("resource_labels").columns(["key", "value"]).execute();
      await db.schema
        .createTable("counters")
        .addColumn("name", "varchar(64)", (c) => c.primaryKey())
        .addColumn("value", "bigint", (c) => c.notNull())
        .execute();
      await db.insertInto("counters" as never).values({ name: "resourceVersion", value: 0 }).execute();
    },
  },
  "0002_auth_tokens": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("tokens")
        .addColumn("id", "varchar(64)", (c) => c.primaryKey())
        .addColumn("user_name", "varchar(128)", (c) => c.notNull())
        .addColumn("name", "varchar(128)", (c) => c.notNull())
        .addColumn("token_hash", "varchar(128)", (c) => c.notNull().unique())
        .addColumn("prefix", "varchar(32)", (c) => c.notNull())
        .addColumn("created_at", "varchar(40)", (c) => c.notNull())
        .addColumn("expires_at", "varchar(40)")
        .addColumn("last_used_at", "varchar(40)")
        .addColumn("revoked_at", "varchar(40)")
        .execute();
      await db.schema.createIndex("tokens_user").on("tokens").columns(["user_name"]).execute();
    },
  },
  // Named to sort after every feature's migrations: Kysely applies them in name order.
  "0600_auth_token_scope": {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable("tokens").addColumn("scope_project", "varchar(128)").execute();
      await db.schema.alterTable("tokens").addColumn("scope_role", "varchar(16)").execute();
    },
  },
};

/** Registry of all migrations; feature modules register theirs at import of the composition root. */
export function coreMigrations(): NamedMigrations {
  return { ...core };
}

export async function migrate(database: Database, migrations: NamedMigrations): Promise<string[]> {
  const provider: MigrationProvider = { getMigrations: () => Promise.resolve(migrations) };
  const migrator = new Migrator({ db: database.db, provider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === "Error");
    throw new Error(`database migration ${failed?.migrationName ?? "?"} failed: ${errorMessage(error)}`, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}
