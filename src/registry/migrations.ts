/**
 * Model-registry tables. Children reference their parent with ON UPDATE / ON DELETE CASCADE,
 * so renaming a registered model (its key is (project, name)) or deleting it or one of its
 * versions is one statement on both engines.
 */
import { sql, type Kysely } from "kysely";
import { DEFAULT_EXPERIMENT_NAME } from "../mlflow/index.ts";
import type { NamedMigrations } from "../store/migrations.ts";

export const registryMigrations: NamedMigrations = {
  "0300_registry_models": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("registered_models")
        .addColumn("project", "varchar(128)", (c) => c.notNull())
        .addColumn("name", "varchar(256)", (c) => c.notNull())
        .addColumn("description", "text")
        .addColumn("creation_timestamp", "bigint", (c) => c.notNull())
        .addColumn("last_updated_timestamp", "bigint", (c) => c.notNull())
        .addColumn("user_id", "varchar(256)")
        .addColumn("deployment_job_id", "varchar(256)")
        .addColumn("last_version", "integer", (c) => c.notNull().defaultTo(0))
        .addPrimaryKeyConstraint("registered_models_pk", ["project", "name"])
        .execute();
      await db.schema
        .createTable("registered_model_tags")
        .addColumn("project", "varchar(128)", (c) => c.notNull())
        .addColumn("name", "varchar(256)", (c) => c.notNull())
        .addColumn("key", "varchar(250)", (c) => c.notNull())
        .addColumn("value", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("registered_model_tags_pk", ["project", "name", "key"])
        .addForeignKeyConstraint("registered_model_tags_model", ["project", "name"], "registered_models", ["project", "name"], (fk) =>
          fk.onDelete("cascade").onUpdate("cascade"),
        )
        .execute();
      await db.schema
        .createTable("model_versions")
        .addColumn("project", "varchar(128)", (c) => c.notNull())
        .addColumn("name", "varchar(256)", (c) => c.notNull())
        .addColumn("version", "integer", (c) => c.notNull())
        .addColumn("creation_timestamp", "bigint", (c) => c.notNull())
        .addColumn("last_updated_timestamp", "bigint", (c) => c.notNull())
        .addColumn("user_id", "varchar(256)")
        .addColumn("description", "text")
        .addColumn("source", "text", (c) => c.notNull())
        .addColumn("storage_location", "text", (c) => c.notNull())
        .addColumn("run_id", "varchar(256)")
        .addColumn("run_link", "text")
        .addColumn("status", "varchar(32)", (c) => c.notNull())
        .addColumn("status_message", "text")
        .addColumn("current_stage", "varchar(32)", (c) => c.notNull())
        .addColumn("model_id", "varchar(64)")
        .addColumn("experiment_id", "varchar(64)")
        .addColumn("pipeline_run", "varchar(253)")
        .addColumn("pipeline_step", "varchar(256)")
        .addPrimaryKeyConstraint("model_versions_pk", ["project", "name", "version"])
        .addForeignKeyConstraint("model_versions_model", ["project", "name"], "registered_models", ["project", "name"], (fk) =>
          fk.onDelete("cascade").onUpdate("cascade"),
        )
        .execute();
      await db.schema.createIndex("model_versions_run").on("model_versions").columns(["project", "run_id"]).execute();
      await db.schema.createIndex("model_versions_pipeline_run").on("model_versions").columns(["project", "pipeline_run"]).execute();
      await db.schema.createIndex("model_versions_model_id").on("model_versions").columns(["model_id"]).execute();
      await db.schema
        .createTable("model_version_tags")
        .addColumn("project", "varchar(128)", (c) => c.notNull())
        .addColumn("name", "varchar(256)", (c) => c.notNull())
        .addColumn("version", "integer", (c) => c.notNull())
        .addColumn("key", "varchar(250)", (c) => c.notNull())
        .addColumn("value", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("model_version_tags_pk", ["project", "name", "version", "key"])
        .addForeignKeyConstraint(
          "model_version_tags_version",
          ["project", "name", "version"],
          "model_versions",
          ["project", "name", "version"],
          (fk) => fk.onDelete("cascade").onUpdate("cascade"),
        )
        .execute();
      await db.schema
        .createTable("registered_model_aliases")
        .addColumn("project", "varchar(128)", (c) => c.notNull())
        .addColumn("name", "varchar(256)", (c) => c.notNull())
        .addColumn("alias", "varchar(255)", (c) => c.notNull())
        .addColumn("version", "integer", (c) => c.notNull())
        .addPrimaryKeyConstraint("registered_model_aliases_pk", ["project", "name", "alias"])
        .addForeignKeyConstraint(
          "registered_model_aliases_version",
          ["project", "name", "version"],
          "model_versions",
          ["project", "name", "version"],
          (fk) => fk.onDelete("cascade").onUpdate("cascade"),
        )
        .execute();
      await db.schema
        .createTable("logged_models")
        .addColumn("model_id", "varchar(64)", (c) => c.primaryKey())
        .addColumn("project", "varchar(128)", (c) => c.notNull())
        .addColumn("experiment_id", "varchar(64)", (c) => c.notNull())
        .addColumn("name", "varchar(500)", (c) => c.notNull())
        .addColumn("model_type", "varchar(500)")
        .addColumn("source_run_id", "varchar(256)")
        .addColumn("status", "varchar(40)", (c) => c.notNull())
        .addColumn("status_message", "text")
        .addColumn("artifact_location", "text", (c) => c.notNull())
        .addColumn("params", "text", (c) => c.notNull())
        .addColumn("tags", "text", (c) => c.notNull())
        .addColumn("user_id", "varchar(256)")
        .addColumn("creation_timestamp", "bigint", (c) => c.notNull())
        .addColumn("last_updated_timestamp", "bigint", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("logged_models_experiment").on("logged_models").columns(["project", "experiment_id"]).execute();
    },
  },
  "0620_registry_canonical_sources": {
    // Model versions registered with an `mlflow-artifacts:/0/…` (or "/007/…") location: written
    // with the id tracking stores those artifacts under since 0610 (the project's Default
    // experiment for "0"), as RegistryService now writes new ones.
    async up(db: Kysely<unknown>) {
      await canonicalSources(db);
    },
  },
};

/** 0620: model versions' `mlflow-artifacts:/<id>/…` locations with their experiment's own id. */
async function canonicalSources(db: Kysely<unknown>): Promise<void> {
  if (!(await db.introspection.getTables()).some((t) => t.name === "tracking_experiments")) return; // no tracking: nothing was stored by id
  const rows = await sql<{ project: string; name: string; version: number; storage_location: string }>`
    SELECT project, name, version, storage_location FROM model_versions WHERE storage_location LIKE 'mlflow-artifacts:%'`.execute(db);
  for (const r of rows.rows) {
    const m = /^(mlflow-artifacts:(?:\/\/[^/]*)?\/+)(\d{1,15})(\/.*)?$/u.exec(r.storage_location);
    if (!m) continue;
    const [, scheme = "", id = "", rest = ""] = m;
    let real = String(Number(id));
    if (id === "0") {
      const dflt = await sql<{ experiment_id: number }>`SELECT experiment_id FROM tracking_experiments WHERE project = ${r.project} AND name = ${DEFAULT_EXPERIMENT_NAME}`.execute(db);
      if (!dflt.rows[0]) continue;
      real = String(dflt.rows[0].experiment_id);
    }
    if (real === id) continue;
    await sql`UPDATE model_versions SET storage_location = ${scheme + real + rest} WHERE project = ${r.project} AND name = ${r.name} AND version = ${r.version}`.execute(db);
  }
}
