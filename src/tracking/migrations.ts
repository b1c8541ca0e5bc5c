/** Tables of the tracking feature (types in src/store/tables.ts). Numeric ms timestamps. */
import type { Kysely } from "kysely";
import type { NamedMigrations } from "../store/migrations.ts";

export const trackingMigrations: NamedMigrations = {
  "0200_tracking": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("tracking_experiments")
        .addColumn("experiment_id", "bigint", (c) => c.primaryKey())
        .addColumn("project", "varchar(128)", (c) => c.notNull())
        .addColumn("name", "varchar(500)", (c) => c.notNull())
        .addColumn("artifact_location", "text", (c) => c.notNull())
        .addColumn("lifecycle_stage", "varchar(32)", (c) => c.notNull())
        .addColumn("creation_time", "bigint", (c) => c.notNull())
        .addColumn("last_update_time", "bigint", (c) => c.notNull())
        .addUniqueConstraint("tracking_experiments_project_name", ["project", "name"])
        .execute();
      await db.schema
        .createTable("tracking_experiment_tags")
        .addColumn("experiment_id", "bigint", (c) => c.notNull().references("tracking_experiments.experiment_id").onDelete("cascade"))
        .addColumn("key", "varchar(250)", (c) => c.notNull())
        .addColumn("value", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("tracking_experiment_tags_pk", ["experiment_id", "key"])
        .execute();
      await db.schema
        .createTable("tracking_runs")
        .addColumn("run_id", "varchar(64)", (c) => c.primaryKey())
        .addColumn("experiment_id", "bigint", (c) => c.notNull().references("tracking_experiments.experiment_id"))
        .addColumn("project", "varchar(128)", (c) => c.notNull())
        .addColumn("name", "varchar(250)", (c) => c.notNull())
        .addColumn("user_id", "varchar(256)", (c) => c.notNull())
        .addColumn("status", "varchar(20)", (c) => c.notNull())
        .addColumn("start_time", "bigint", (c) => c.notNull())
        .addColumn("end_time", "bigint")
        .addColumn("lifecycle_stage", "varchar(20)", (c) => c.notNull())
        .addColumn("artifact_uri", "text", (c) => c.notNull())
        .addColumn("deleted_time", "bigint")
        .addColumn("pipeline_run", "varchar(300)")
        .addColumn("pipeline_step", "varchar(300)")
        .execute();
      await db.schema.createIndex("tracking_runs_exp").on("tracking_runs").columns(["experiment_id", "lifecycle_stage", "start_time"]).execute();
      await db.schema.createIndex("tracking_runs_pipeline").on("tracking_runs").columns(["pipeline_run", "pipeline_step"]).execute();
      await db.schema
        .createTable("tracking_metrics")
        .addColumn("run_id", "varchar(64)", (c) => c.notNull())
        .addColumn("key", "varchar(250)", (c) => c.notNull())
        .addColumn("value", "double precision", (c) => c.notNull())
        .addColumn("is_nan", "integer", (c) => c.notNull())
        .addColumn("timestamp", "bigint", (c) => c.notNull())
        .addColumn("step", "bigint", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("tracking_metrics_history").on("tracking_metrics").columns(["run_id", "key", "step", "timestamp"]).execute();
      await db.schema
        .createTable("tracking_latest_metrics")
        .addColumn("run_id", "varchar(64)", (c) => c.notNull())
        .addColumn("key", "varchar(250)", (c) => c.notNull())
        .addColumn("value", "double precision", (c) => c.notNull())
        .addColumn("is_nan", "integer", (c) => c.notNull())
        .addColumn("timestamp", "bigint", (c) => c.notNull())
        .addColumn("step", "bigint", (c) => c.notNull())
        .addPrimaryKeyConstraint("tracking_latest_metrics_pk", ["run_id", "key"])
        .execute();
      await db.schema.createIndex("tracking_latest_metrics_key").on("tracking_latest_metrics").columns(["key", "value"]).execute();
      for (const t of ["tracking_params", "tracking_tags"]) {
        await db.schema
          .createTable(t)
          .addColumn("run_id", "varchar(64)", (c) => c.notNull())
          .addColumn("key", "varchar(250)", (c) => c.notNull())
          .addColumn("value", "text", (c) => c.notNull())
          .addPrimaryKeyConstraint(`${t}_pk`, ["run_id", "key"])
          .execute();
        await db.schema.createIndex(`${t}_key`).on(t).columns(["key"]).execute();
      }
      await db.schema
        .createTable("tracking_inputs")
        .addColumn("run_id", "varchar(64)", (c) => c.notNull())
        .addColumn("name", "varchar(500)", (c) => c.notNull())
        .addColumn("digest", "varchar(36)", (c) => c.notNull())
        .addColumn("source_type", "varchar(36)", (c) => c.notNull())
        .addColumn("source", "text", (c) => c.notNull())
        .addColumn("schema", "text", (c) => c.notNull())
        .addColumn("profile", "text", (c) => c.notNull())
        .addColumn("tags", "text", (c) => c.notNull())
        .addColumn("context", "varchar(500)")
        .addPrimaryKeyConstraint("tracking_inputs_pk", ["run_id", "name", "digest"])
        .execute();
      await db.schema
        .createTable("tracking_outputs")
        .addColumn("run_id", "varchar(64)", (c) => c.notNull())
        .addColumn("model_id", "varchar(256)", (c) => c.notNull())
        .addColumn("step", "bigint", (c) => c.notNull())
        .addPrimaryKeyConstraint("tracking_outputs_pk", ["run_id", "model_id"])
        .execute();
      await db.schema
        .createTable("tracking_artifacts")
        .addColumn("path", "varchar(2048)", (c) => c.primaryKey())
        .addColumn("experiment_id", "bigint", (c) => c.notNull())
        .addColumn("digest", "varchar(80)", (c) => c.notNull())
        .addColumn("size", "bigint", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("tracking_artifacts_exp").on("tracking_artifacts").columns(["experiment_id"]).execute();
      await db.insertInto("counters" as never).values({ name: "mlflowExperimentId", value: 0 }).execute();
    },
  },
};
