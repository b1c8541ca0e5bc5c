/** Tables of the serving feature (types in src/store/tables.ts). */
import type { Kysely } from "kysely";
import type { NamedMigrations } from "../store/migrations.ts";

export const servingMigrations: NamedMigrations = {
  "0400_serving_keys": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("serving_keys")
        .addColumn("id", "varchar(64)", (c) => c.primaryKey())
        .addColumn("project", "varchar(128)", (c) => c.notNull())
        .addColumn("deployment", "varchar(128)", (c) => c.notNull())
        .addColumn("name", "varchar(128)", (c) => c.notNull())
        .addColumn("key_hash", "varchar(64)", (c) => c.notNull().unique())
        .addColumn("prefix", "varchar(32)", (c) => c.notNull())
        .addColumn("created_at", "varchar(40)", (c) => c.notNull())
        .addColumn("revoked_at", "varchar(40)")
        .execute();
      await db.schema.createIndex("serving_keys_deployment").on("serving_keys").columns(["project", "deployment"]).execute();
    },
  },
};
