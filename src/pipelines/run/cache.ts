/**
 * The step cache: for each project, cache key → the outputs of the execution that
 * produced them. Keys are content addresses of a resolved step (spec/cache-key.ts).
 */
import type { Kysely } from "kysely";
import type { Database } from "../../store/database.ts";
import type { NamedMigrations } from "../../store/migrations.ts";
import type { NodeOutputs } from "../kinds.ts";

export const stepCacheMigrations: NamedMigrations = {
  "0100_pipelines_step_cache": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("step_cache")
        .addColumn("project", "varchar(128)", (c) => c.notNull())
        .addColumn("cache_key", "varchar(64)", (c) => c.notNull())
        .addColumn("outputs", "text", (c) => c.notNull())
        .addColumn("run_name", "varchar(253)", (c) => c.notNull())
        .addColumn("node_id", "varchar(256)", (c) => c.notNull())
        .addColumn("created_at", "varchar(40)", (c) => c.notNull())
        .addPrimaryKeyConstraint("step_cache_pk", ["project", "cache_key"])
        .execute();
    },
  },
};

export interface CacheEntry {
  readonly outputs: NodeOutputs;
  readonly run: string;
  readonly node: string;
}

export class StepCache {
  constructor(private readonly database: Database) {}

  async lookup(project: string, key: string): Promise<CacheEntry | undefined> {
    const row = await this.database.db
      .selectFrom("step_cache")
      .selectAll()
      .where("project", "=", project)
      .where("cache_key", "=", key)
      .executeTakeFirst();
    return row ? { outputs: JSON.parse(row.outputs) as NodeOutputs, run: row.run_name, node: row.node_id } : undefined;
  }

  /** Records an execution's outputs; the first execution recorded for a key wins. */
  async record(project: string, key: string, entry: CacheEntry): Promise<void> {
    await this.database.db
      .insertInto("step_cache")
      .values({ project, cache_key: key, outputs: JSON.stringify(entry.outputs), run_name: entry.run, node_id: entry.node, created_at: new Date().toISOString() })
      .onConflict((oc) => oc.columns(["project", "cache_key"]).doNothing())
      .execute();
  }

  async forget(project: string, key: string): Promise<void> {
    await this.database.db.deleteFrom("step_cache").where("project", "=", project).where("cache_key", "=", key).execute();
  }
}
