/**
 * The tracking store: experiments, runs, metrics, params, tags, inputs and outputs in their own
 * tables (src/tracking/migrations.ts), one code path for SQLite and PostgreSQL. Callers (the
 * MLflow handlers, the native API) authorize first; this layer validates state and writes in
 * transactions.
 */
import { randomUUID } from "node:crypto";
import { sql } from "kysely";
import { MlflowError, experimentArtifactLocation, nextExperimentId, type ExperimentRow, type RunRow } from "../mlflow/index.ts";
import type { Database, NativeStatements, Tx } from "../store/database.ts";
import { generateRunName } from "./names.ts";
import { storedMetricValue } from "./validate.ts";

export interface KeyValue {
  readonly key: string;
  readonly value: string;
}
export interface MetricPoint {
  readonly key: string;
  readonly value: number;
  readonly timestamp: number;
  readonly step: number;
}
export interface StoredMetric {
  key: string;
  value: number;
  is_nan: number;
  timestamp: number;
  step: number;
}
export interface DatasetInput {
  readonly name: string;
  readonly digest: string;
  readonly source_type: string;
  readonly source: string;
  readonly schema: string;
  readonly profile: string;
  readonly tags: readonly KeyValue[];
}
export interface RunData {
  readonly metrics: StoredMetric[];
  readonly params: KeyValue[];
  readonly tags: KeyValue[];
  readonly inputs: DatasetInput[];
  readonly outputs: { model_id: string; step: number }[];
}
export type ViewType = "ACTIVE_ONLY" | "DELETED_ONLY" | "ALL";

export const RUN_NAME_TAG = "mlflow.runName";
export const PIPELINE_RUN_TAG = "forja.pipelineRun";
export const PIPELINE_STEP_TAG = "forja.step";
export const LOG_MODEL_HISTORY_TAG = "mlflow.log-model.history";

export function lifecycleStages(view: ViewType | undefined): string[] {
  switch (view ?? "ACTIVE_ONLY") {
    case "ACTIVE_ONLY":
      return ["active"];
    case "DELETED_ONLY":
      return ["deleted"];
    case "ALL":
      return ["active", "deleted"];
  }
}

/** (step, timestamp, value) max rule for run.data.metrics. */
export function isNewer(a: { step: number; timestamp: number; value: number }, b: { step: number; timestamp: number; value: number }): boolean {
  if (a.step !== b.step) return a.step > b.step;
  if (a.timestamp !== b.timestamp) return a.timestamp > b.timestamp;
  return a.value > b.value;
}

function chunks<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

/** The (step, timestamp, value) rule of isNewer as the upsert condition of tracking_latest_metrics. */
const NEWER_THAN_LATEST =
  "(excluded.step > tracking_latest_metrics.step OR (excluded.step = tracking_latest_metrics.step AND (excluded.timestamp > tracking_latest_metrics.timestamp OR (excluded.timestamp = tracking_latest_metrics.timestamp AND excluded.value > tracking_latest_metrics.value))))";

/**
 * SQLite: staged metric rows (tracking_metrics_staged) are moved into tracking_metrics once
 * this many have accumulated. Larger amortizes the merge better; readers scan the whole staging table.
 */
const STAGED_ROWS_MAX = 4000;

function storedRows(metrics: readonly MetricPoint[]): StoredMetric[] {
  return metrics.map((m) => ({ key: m.key, timestamp: m.timestamp, step: m.step, ...storedMetricValue(m.value) }));
}

/** Per key, the batch's point that wins the latest-metric rule, as tracking_latest_metrics rows. */
function latestOf(runId: string, rows: readonly StoredMetric[]): (StoredMetric & { run_id: string })[] {
  const latest = new Map<string, StoredMetric>();
  for (const r of rows) {
    const cur = latest.get(r.key);
    if (!cur || isNewer(r, cur)) latest.set(r.key, r);
  }
  return [...latest.values()].map((r) => ({ run_id: runId, ...r }));
}

function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  return err.code === "23505" || err.code === "SQLITE_CONSTRAINT_PRIMARYKEY" || err.code === "SQLITE_CONSTRAINT_UNIQUE" || /UNIQUE constraint/i.test(err.message ?? "");
}

export class TrackingStore {
  constructor(readonly database: Database) {}

  get db() {
    return this.database.db;
  }

  // -------------------------------------------------------------------------------------------
  // Experiments
  // -------------------------------------------------------------------------------------------

  async createExperiment(project: string, name: string, tags: readonly KeyValue[] = []): Promise<ExperimentRow> {
    try {
      return await this.database.transaction(async (tx) => {
        const clash = await tx.selectFrom("tracking_experiments").select("experiment_id").where("project", "=", project).where("name", "=", name).executeTakeFirst();
        if (clash) throw MlflowError.exists(`Experiment '${name}' already exists.`);
        const id = await nextExperimentId(tx);
        const now = Date.now();
        const row: ExperimentRow = {
          experiment_id: id,
          project,
          name,
          artifact_location: experimentArtifactLocation(id),
          lifecycle_stage: "active",
          creation_time: now,
          last_update_time: now,
        };
        await tx.insertInto("tracking_experiments").values(row).execute();
        const unique = new Map(tags.map((t) => [t.key, t.value]));
        if (unique.size) {
          await tx
            .insertInto("tracking_experiment_tags")
            .values([...unique].map(([key, value]) => ({ experiment_id: id, key, value })))
            .execute();
        }
        return row;
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw MlflowError.exists(`Experiment '${name}' already exists.`);
      throw e;
    }
  }

  async experimentByName(project: string, name: string): Promise<ExperimentRow | undefined> {
    return this.db.selectFrom("tracking_experiments").selectAll().where("project", "=", project).where("name", "=", name).executeTakeFirst();
  }

  /** Experiments of `projects` (undefined: all) in the lifecycle stages of `view`. */
  async listExperiments(projects: readonly string[] | undefined, view: ViewType | undefined): Promise<ExperimentRow[]> {
    if (projects && projects.length === 0) return [];
    let q = this.db.selectFrom("tracking_experiments").selectAll().where("lifecycle_stage", "in", lifecycleStages(view));
    if (projects) q = q.where("project", "in", projects);
    return q.execute();
  }

  async experimentTags(ids: readonly number[]): Promise<Map<number, KeyValue[]>> {
    const out = new Map<number, KeyValue[]>();
    for (const part of chunks(ids, 500)) {
      const rows = await this.db.selectFrom("tracking_experiment_tags").selectAll().where("experiment_id", "in", part).orderBy("key").execute();
      for (const r of rows) {
        const list = out.get(r.experiment_id) ?? [];
        list.push({ key: r.key, value: r.value });
        out.set(r.experiment_id, list);
      }
    }
    return out;
  }

  async renameExperiment(exp: ExperimentRow, newName: string): Promise<void> {
    if (exp.lifecycle_stage !== "active") {
      throw MlflowError.invalidState(`Cannot rename a non-active experiment (experiment ${exp.experiment_id} is ${exp.lifecycle_stage}).`);
    }
    try {
      await this.database.transaction(async (tx) => {
        const clash = await tx
          .selectFrom("tracking_experiments")
          .select("experiment_id")
          .where("project", "=", exp.project)
          .where("name", "=", newName)
          .where("experiment_id", "!=", exp.experiment_id)
          .executeTakeFirst();
        if (clash) throw MlflowError.exists(`Experiment '${newName}' already exists.`);
        await tx.updateTable("tracking_experiments").set({ name: newName, last_update_time: Date.now() }).where("experiment_id", "=", exp.experiment_id).execute();
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw MlflowError.exists(`Experiment '${newName}' already exists.`);
      throw e;
    }
  }

  /** Deleting (restoring) an experiment deletes (restores) its runs too, as MLflow's SQL store does. */
  async setExperimentLifecycle(exp: ExperimentRow, stage: "active" | "deleted"): Promise<void> {
    const now = Date.now();
    await this.database.transaction(async (tx) => {
      await tx.updateTable("tracking_experiments").set({ lifecycle_stage: stage, last_update_time: now }).where("experiment_id", "=", exp.experiment_id).execute();
      await tx
        .updateTable("tracking_runs")
        .set({ lifecycle_stage: stage, deleted_time: stage === "deleted" ? now : null })
        .where("experiment_id", "=", exp.experiment_id)
        .where("lifecycle_stage", "=", stage === "deleted" ? "active" : "deleted")
        .execute();
    });
  }

  async setExperimentTag(exp: ExperimentRow, key: string, value: string): Promise<void> {
    await this.database.transaction(async (tx) => {
      await tx
        .insertInto("tracking_experiment_tags")
        .values({ experiment_id: exp.experiment_id, key, value })
        .onConflict((oc) => oc.columns(["experiment_id", "key"]).doUpdateSet((eb) => ({ value: eb.ref("excluded.value") })))
        .execute();
      await tx.updateTable("tracking_experiments").set({ last_update_time: Date.now() }).where("experiment_id", "=", exp.experiment_id).execute();
    });
  }

  async deleteExperimentTag(exp: ExperimentRow, key: string): Promise<void> {
    const res = await this.db.deleteFrom("tracking_experiment_tags").where("experiment_id", "=", exp.experiment_id).where("key", "=", key).executeTakeFirst();
    if (Number(res.numDeletedRows) === 0) throw MlflowError.notFound(`No tag with name: ${key} in experiment with id ${exp.experiment_id}`);
  }

  // -------------------------------------------------------------------------------------------
  // Runs
  // -------------------------------------------------------------------------------------------

  async createRun(
    exp: ExperimentRow,
    input: { userId: string; runName?: string; startTime: number; tags: readonly KeyValue[] },
  ): Promise<RunRow> {
    if (exp.lifecycle_stage !== "active") {
      throw MlflowError.invalid(`The experiment ${exp.experiment_id} must be in the 'active' state. Current state is ${exp.lifecycle_stage}.`);
    }
    const tags = new Map(input.tags.map((t) => [t.key, t.value]));
    const tagName = tags.get(RUN_NAME_TAG);
    if (input.runName && tagName !== undefined && tagName !== input.runName) {
      throw MlflowError.invalid(
        `Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='${input.runName}', mlflow.runName='${tagName}').`,
      );
    }
    const name = input.runName || tagName || generateRunName();
    tags.set(RUN_NAME_TAG, name);
    const runId = randomUUID().replaceAll("-", "");
    const lineage = this.lineage(exp.project, tags);
    const row: RunRow = {
      run_id: runId,
      experiment_id: exp.experiment_id,
      project: exp.project,
      name,
      user_id: input.userId,
      status: "RUNNING",
      start_time: input.startTime,
      end_time: null,
      lifecycle_stage: "active",
      artifact_uri: `mlflow-artifacts:/${exp.experiment_id}/${runId}/artifacts`,
      deleted_time: null,
      pipeline_run: lineage.pipeline_run ?? null,
      pipeline_step: lineage.pipeline_step ?? null,
    };
    await this.database.transaction(async (tx) => {
      await tx.insertInto("tracking_runs").values(row).execute();
      await tx
        .insertInto("tracking_tags")
        .values([...tags].map(([key, value]) => ({ run_id: runId, key, value })))
        .execute();
    });
    return row;
  }

  /** Lineage columns from the tags forja.pipelineRun ("<project>/<name>" or "<name>") and forja.step. */
  private lineage(project: string, tags: ReadonlyMap<string, string>): { pipeline_run?: string; pipeline_step?: string } {
    const out: { pipeline_run?: string; pipeline_step?: string } = {};
    const pr = tags.get(PIPELINE_RUN_TAG);
    if (pr) out.pipeline_run = pr.includes("/") ? pr : `${project}/${pr}`;
    const step = tags.get(PIPELINE_STEP_TAG);
    if (step) out.pipeline_step = step;
    return out;
  }

  async updateRun(run: RunRow, input: { status?: string; endTime?: number; runName?: string }): Promise<RunRow> {
    const set: Partial<RunRow> = {};
    if (input.status) set.status = input.status;
    if (input.endTime !== undefined) set.end_time = input.endTime;
    if (input.runName) set.name = input.runName;
    if (Object.keys(set).length === 0) return run;
    await this.database.transaction(async (tx) => {
      await tx.updateTable("tracking_runs").set(set).where("run_id", "=", run.run_id).execute();
      if (input.runName) await this.upsertTags(tx, run.run_id, [{ key: RUN_NAME_TAG, value: input.runName }]);
    });
    return { ...run, ...set };
  }

  async setRunLifecycle(run: RunRow, stage: "active" | "deleted"): Promise<void> {
    await this.db
      .updateTable("tracking_runs")
      .set({ lifecycle_stage: stage, deleted_time: stage === "deleted" ? Date.now() : null })
      .where("run_id", "=", run.run_id)
      .execute();
  }

  private async upsertTags(tx: Tx, runId: string, tags: readonly KeyValue[]): Promise<void> {
    if (!tags.length) return;
    await tx
      .insertInto("tracking_tags")
      .values(tags.map((t) => ({ run_id: runId, key: t.key, value: t.value })))
      .onConflict((oc) => oc.columns(["run_id", "key"]).doUpdateSet((eb) => ({ value: eb.ref("excluded.value") })))
      .execute();
  }

  /**
   * Metrics, params and tags in one transaction (log-metric, log-parameter, set-tag and
   * log-batch all come here). Params are immutable: the same value again is fine, another is
   * 400. Writes need an active run. Callers have validated keys, limits and duplicates.
   */
  async logBatch(runId: string, metrics: readonly MetricPoint[], params: readonly KeyValue[], tags: readonly KeyValue[]): Promise<void> {
    const native = this.database.native;
    if (native) {
      await native.transaction((s) => this.logBatchSqlite(s, runId, metrics, params, tags));
      return;
    }
    await this.database.transaction(async (tx) => {
      const run = await tx.selectFrom("tracking_runs").select(["lifecycle_stage", "project"]).where("run_id", "=", runId).executeTakeFirst();
      if (!run) throw MlflowError.notFound(`Run with id=${runId} not found`);
      if (run.lifecycle_stage !== "active") {
        throw MlflowError.invalid(`The run ${runId} must be in the 'active' state. Current state is ${run.lifecycle_stage}.`);
      }
      if (params.length) {
        // Insert-if-absent, then compare: correct under concurrent writers on both engines.
        await tx
          .insertInto("tracking_params")
          .values(params.map((p) => ({ run_id: runId, key: p.key, value: p.value })))
          .onConflict((oc) => oc.columns(["run_id", "key"]).doNothing())
          .execute();
        const stored = await tx
          .selectFrom("tracking_params")
          .select(["key", "value"])
          .where("run_id", "=", runId)
          .where(
            "key",
            "in",
            params.map((p) => p.key),
          )
          .execute();
        const byKey = new Map(stored.map((r) => [r.key, r.value]));
        for (const p of params) {
          const old = byKey.get(p.key);
          if (old !== undefined && old !== p.value) {
            throw MlflowError.invalid(
              `Changing param values is not allowed. Param with key='${p.key}' was already logged with value='${old}' for run ID='${runId}'. Attempted logging new value '${p.value}'.`,
            );
          }
        }
      }
      if (tags.length) {
        await this.upsertTags(tx, runId, tags);
        const set: Partial<RunRow> = {};
        for (const t of tags) {
          if (t.key === RUN_NAME_TAG) set.name = t.value;
        }
        const lineage = this.lineage(run.project, new Map(tags.map((t) => [t.key, t.value])));
        if (lineage.pipeline_run) set.pipeline_run = lineage.pipeline_run;
        if (lineage.pipeline_step) set.pipeline_step = lineage.pipeline_step;
        if (Object.keys(set).length) await tx.updateTable("tracking_runs").set(set).where("run_id", "=", runId).execute();
      }
      if (metrics.length) {
        const rows = storedRows(metrics);
        // One statement with array parameters (the plan does not depend on the batch size).
        await sql`INSERT INTO tracking_metrics (run_id, key, step, timestamp, seq, value, is_nan)
          SELECT ${runId}, k, s, t, 0, v, n FROM unnest(${rows.map((r) => r.key)}::text[], ${rows.map((r) => r.step)}::bigint[],
            ${rows.map((r) => r.timestamp)}::bigint[], ${rows.map((r) => r.value)}::float8[], ${rows.map((r) => r.is_nan)}::int[]) AS u(k, s, t, v, n)`.execute(tx);
        await tx
          .insertInto("tracking_latest_metrics")
          .values(latestOf(runId, rows))
          .onConflict((oc) =>
            oc
              .columns(["run_id", "key"])
              .doUpdateSet((eb) => ({
                value: eb.ref("excluded.value"),
                is_nan: eb.ref("excluded.is_nan"),
                timestamp: eb.ref("excluded.timestamp"),
                step: eb.ref("excluded.step"),
              }))
              .where(sql<boolean>`${sql.raw(NEWER_THAN_LATEST)}`),
          )
          .execute();
      }
    });
  }

  /** logBatch on SQLite: the same writes as prepared statements in one synchronous transaction. */
  private logBatchSqlite(s: NativeStatements, runId: string, metrics: readonly MetricPoint[], params: readonly KeyValue[], tags: readonly KeyValue[]): void {
    const run = s.prepare("SELECT lifecycle_stage, project FROM tracking_runs WHERE run_id = ?").get(runId) as { lifecycle_stage: string; project: string } | undefined;
    if (!run) throw MlflowError.notFound(`Run with id=${runId} not found`);
    if (run.lifecycle_stage !== "active") {
      throw MlflowError.invalid(`The run ${runId} must be in the 'active' state. Current state is ${run.lifecycle_stage}.`);
    }
    if (params.length) {
      const ins = s.prepare("INSERT INTO tracking_params (run_id, key, value) VALUES (?, ?, ?) ON CONFLICT (run_id, key) DO NOTHING");
      const get = s.prepare("SELECT value FROM tracking_params WHERE run_id = ? AND key = ?").pluck();
      for (const p of params) {
        if (ins.run(runId, p.key, p.value).changes) continue;
        const old = get.get(runId, p.key) as string;
        if (old !== p.value) {
          throw MlflowError.invalid(
            `Changing param values is not allowed. Param with key='${p.key}' was already logged with value='${old}' for run ID='${runId}'. Attempted logging new value '${p.value}'.`,
          );
        }
      }
    }
    if (tags.length) {
      const up = s.prepare("INSERT INTO tracking_tags (run_id, key, value) VALUES (?, ?, ?) ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value");
      for (const t of tags) up.run(runId, t.key, t.value);
      const set: Record<string, string> = {};
      for (const t of tags) {
        if (t.key === RUN_NAME_TAG) set["name"] = t.value;
      }
      const lineage = this.lineage(run.project, new Map(tags.map((t) => [t.key, t.value])));
      if (lineage.pipeline_run) set["pipeline_run"] = lineage.pipeline_run;
      if (lineage.pipeline_step) set["pipeline_step"] = lineage.pipeline_step;
      const cols = Object.keys(set);
      if (cols.length) s.prepare(`UPDATE tracking_runs SET ${cols.map((c) => `${c} = ?`).join(", ")} WHERE run_id = ?`).run(...Object.values(set), runId);
    }
    if (metrics.length) {
      const rows = storedRows(metrics);
      const ins = s.prepare("INSERT INTO tracking_metrics_staged (run_id, key, step, timestamp, value, is_nan) VALUES (?, ?, ?, ?, ?, ?)");
      for (const r of rows) ins.run(runId, r.key, r.step, r.timestamp, r.value, r.is_nan);
      const up = s.prepare(
        `INSERT INTO tracking_latest_metrics (run_id, key, value, is_nan, timestamp, step) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value, is_nan = excluded.is_nan, timestamp = excluded.timestamp, step = excluded.step WHERE ${NEWER_THAN_LATEST}`,
      );
      for (const r of latestOf(runId, rows)) up.run(runId, r.key, r.value, r.is_nan, r.timestamp, r.step);
      const staged = s.prepare("SELECT max(seq) - min(seq) FROM tracking_metrics_staged").pluck().get() as number | null;
      if (staged !== null && staged >= STAGED_ROWS_MAX) {
        // Sorted, so each (run, key) range of tracking_metrics is written once per merge.
        s.prepare(
          "INSERT INTO tracking_metrics (run_id, key, step, timestamp, seq, value, is_nan) SELECT run_id, key, step, timestamp, seq, value, is_nan FROM tracking_metrics_staged ORDER BY run_id, key, step, timestamp, seq",
        ).run();
        s.prepare("DELETE FROM tracking_metrics_staged").run();
      }
    }
  }

  async deleteTag(run: RunRow, key: string): Promise<void> {
    if (run.lifecycle_stage !== "active") {
      throw MlflowError.invalid(`The run ${run.run_id} must be in the 'active' state. Current state is ${run.lifecycle_stage}.`);
    }
    const res = await this.db.deleteFrom("tracking_tags").where("run_id", "=", run.run_id).where("key", "=", key).executeTakeFirst();
    if (Number(res.numDeletedRows) === 0) throw MlflowError.notFound(`No tag with name: ${key} in run with id ${run.run_id}`);
  }

  async logInputs(run: RunRow, datasets: readonly DatasetInput[]): Promise<void> {
    if (!datasets.length) return;
    const unique = new Map(datasets.map((d) => [`${d.name}\u0000${d.digest}`, d]));
    await this.database.transaction(async (tx) => {
      for (const part of chunks([...unique.values()], 100)) {
        await tx
          .insertInto("tracking_inputs")
          .values(
            part.map((d) => ({
              run_id: run.run_id,
              name: d.name,
              digest: d.digest,
              source_type: d.source_type,
              source: d.source,
              schema: d.schema,
              profile: d.profile,
              tags: JSON.stringify(d.tags),
              context: d.tags.find((t) => t.key === "mlflow.data.context")?.value ?? null,
            })),
          )
          .onConflict((oc) => oc.columns(["run_id", "name", "digest"]).doNothing())
          .execute();
      }
    });
  }

  async logOutputs(run: RunRow, models: readonly { model_id: string; step: number }[]): Promise<void> {
    if (!models.length) return;
    await this.db
      .insertInto("tracking_outputs")
      .values(models.map((m) => ({ run_id: run.run_id, model_id: m.model_id, step: m.step })))
      .onConflict((oc) => oc.columns(["run_id", "model_id"]).doUpdateSet((eb) => ({ step: eb.ref("excluded.step") })))
      .execute();
  }

  /** log-model: appends the model dict to the tag mlflow.log-model.history (as MLflow does). */
  async appendLoggedModel(run: RunRow, model: unknown): Promise<void> {
    await this.database.transaction(async (tx) => {
      const cur = await tx.selectFrom("tracking_tags").select("value").where("run_id", "=", run.run_id).where("key", "=", LOG_MODEL_HISTORY_TAG).executeTakeFirst();
      let history: unknown[] = [];
      try {
        const parsed: unknown = cur ? JSON.parse(cur.value) : [];
        if (Array.isArray(parsed)) history = parsed;
      } catch {
        history = [];
      }
      history.push(model);
      await this.upsertTags(tx, run.run_id, [{ key: LOG_MODEL_HISTORY_TAG, value: JSON.stringify(history) }]);
    });
  }

  /**
   * `run_id` among `ids` with one parameter (a JSON array on SQLite, a text[] on PostgreSQL):
   * the SQL text does not depend on the count, so the prepared statement is reused.
   */
  private runIdIn(ids: readonly string[]) {
    return this.database.engine === "sqlite" ? sql<boolean>`run_id IN (SELECT value FROM json_each(${JSON.stringify(ids)}))` : sql<boolean>`run_id = ANY(${ids}::text[])`;
  }

  /** Latest metrics, params, tags, inputs, outputs of many runs. */
  async runData(runIds: readonly string[]): Promise<Map<string, RunData>> {
    const out = new Map<string, RunData>();
    for (const id of runIds) out.set(id, { metrics: [], params: [], tags: [], inputs: [], outputs: [] });
    if (runIds.length === 0) return out;
    const ids = this.runIdIn(runIds);
    const [metrics, params, tags, inputs, outputs] = await Promise.all([
      this.db.selectFrom("tracking_latest_metrics").selectAll().where(ids).execute(),
      this.db.selectFrom("tracking_params").selectAll().where(ids).execute(),
      this.db.selectFrom("tracking_tags").selectAll().where(ids).execute(),
      this.db.selectFrom("tracking_inputs").selectAll().where(ids).execute(),
      this.db.selectFrom("tracking_outputs").selectAll().where(ids).execute(),
    ]);
    for (const m of metrics) out.get(m.run_id)?.metrics.push({ key: m.key, value: m.value, is_nan: m.is_nan, timestamp: m.timestamp, step: m.step });
    for (const p of params) out.get(p.run_id)?.params.push({ key: p.key, value: p.value });
    for (const t of tags) out.get(t.run_id)?.tags.push({ key: t.key, value: t.value });
    for (const d of inputs) {
      let dtags: KeyValue[] = [];
      try {
        dtags = JSON.parse(d.tags) as KeyValue[];
      } catch {
        dtags = [];
      }
      out.get(d.run_id)?.inputs.push({ name: d.name, digest: d.digest, source_type: d.source_type, source: d.source, schema: d.schema, profile: d.profile, tags: dtags });
    }
    for (const o of outputs) out.get(o.run_id)?.outputs.push({ model_id: o.model_id, step: o.step });
    return out;
  }

  async runsByIds(runIds: readonly string[]): Promise<RunRow[]> {
    if (runIds.length === 0) return [];
    return this.db.selectFrom("tracking_runs").selectAll().where(this.runIdIn(runIds)).execute();
  }

  /**
   * Points of `key` of a run in (step, timestamp, arrival) order, from tracking_metrics and the
   * SQLite staging table (a compound SELECT: each side an ordered range scan, merged).
   */
  private history(runId: string, key: string, start: number | undefined, end: number | undefined) {
    const side = <T extends "tracking_metrics" | "tracking_metrics_staged">(table: T) => {
      let q = this.db.selectFrom(table as "tracking_metrics").select(["key", "value", "is_nan", "timestamp", "step", "seq"]).where("run_id", "=", runId).where("key", "=", key);
      if (start !== undefined) q = q.where("step", ">=", start);
      if (end !== undefined) q = q.where("step", "<=", end);
      return q;
    };
    return side("tracking_metrics").unionAll(side("tracking_metrics_staged")).orderBy("step").orderBy("timestamp").orderBy("seq");
  }

  /** Metric history in (step, timestamp) order, paged by offset. */
  async metricHistory(runId: string, key: string, offset: number, limit: number | undefined): Promise<StoredMetric[]> {
    let q = this.history(runId, key, undefined, undefined);
    if (limit !== undefined) q = q.limit(limit).offset(offset);
    else if (offset > 0) q = q.limit(Number.MAX_SAFE_INTEGER).offset(offset);
    return q.execute();
  }

  /** Points of `key` with start ≤ step ≤ end for one run (get-history-bulk-interval). */
  async metricRange(runId: string, key: string, start: number | undefined, end: number | undefined): Promise<StoredMetric[]> {
    return this.history(runId, key, start, end).execute();
  }

  async runsOfPipelineRun(pipelineRun: string): Promise<RunRow[]> {
    return this.db.selectFrom("tracking_runs").selectAll().where("pipeline_run", "=", pipelineRun).orderBy("start_time").execute();
  }
}
