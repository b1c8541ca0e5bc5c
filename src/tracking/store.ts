/**
 * The tracking store: experiments, runs, metrics, params, tags, inputs and outputs in their own
 * tables (src/tracking/migrations.ts), one code path for SQLite and PostgreSQL. Callers (the
 * MLflow handlers, the native API) authorize first; this layer validates state and writes in
 * transactions.
 */
import { randomUUID } from "node:crypto";
import { sql } from "kysely";
import { MlflowError, experimentArtifactLocation, nextExperimentId, type ExperimentRow, type RunRow } from "../mlflow/index.ts";
import type { Logger } from "pino";
import type { Database, Db, NativeStatements, Tx } from "../store/database.ts";
import { TableStatistics } from "../store/statistics.ts";
import { generateRunName } from "./names.ts";
import { chunkBatches, encodeBatch, historyOf, type ChunkRow, type LatestRow, type MetricPoint, type StagedBatch, type StoredMetric } from "./metric-chunks.ts";
import { searchRunRows, type RunSearchQuery } from "./search-sql.ts";

export interface KeyValue {
  readonly key: string;
  readonly value: string;
}
export type { MetricPoint, StoredMetric } from "./metric-chunks.ts";

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

/** `xs` in slices of at most `n`. */
function chunksOf<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

/** The (step, timestamp, value) rule of the latest point as the upsert condition of tracking_latest_metrics. */
const NEWER_THAN_LATEST =
  "(excluded.step > tracking_latest_metrics.step OR (excluded.step = tracking_latest_metrics.step AND (excluded.timestamp > tracking_latest_metrics.timestamp OR (excluded.timestamp = tracking_latest_metrics.timestamp AND excluded.value > tracking_latest_metrics.value))))";
const UPDATE_LATEST = `ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value, is_nan = excluded.is_nan, timestamp = excluded.timestamp, step = excluded.step WHERE ${NEWER_THAN_LATEST}`;

/**
 * Metric points are written in two stages, so that logging costs one small insert whatever the
 * batch size (inserting 100 points into an index ordered by run, key and step costs ~2 µs each
 * and dirties a page per key):
 *
 *  1. A log call appends its points as ONE row of tracking_metric_batches, in one statement
 *     that also checks that the run is active.
 *  2. A flush moves staged batches into tracking_metric_chunks (one row of packed points per
 *     run and key) and tracking_latest_metrics (one upsert per run and key). See metric-chunks.ts.
 *
 * Every reader of metric data (run data, history, search) flushes first, so reads see every
 * acknowledged write. Writers start a flush in the background once FLUSH_AFTER_POINTS points
 * have been staged by this process; staged rows are durable, so a crash loses nothing.
 */
const FLUSH_AFTER_POINTS = 50_000;
/** Batches moved per flush transaction (bounds its duration and memory). */
const FLUSH_CHUNK_BATCHES = 500;

/** A staged batch as written (see metric-chunks.ts). */
type Batch = ReturnType<typeof encodeBatch>;

interface RunState {
  readonly lifecycle_stage: string;
  readonly project: string;
}

/** Writes need an existing, active run: 404 RESOURCE_DOES_NOT_EXIST, else 400. */
function requireActiveRun(runId: string, run: RunState | undefined): RunState {
  if (!run) throw MlflowError.notFound(`Run with id=${runId} not found`);
  if (run.lifecycle_stage !== "active") {
    throw MlflowError.invalid(`The run ${runId} must be in the 'active' state. Current state is ${run.lifecycle_stage}.`);
  }
  return run;
}

/** Params are immutable: logging the stored value again is fine, another value is 400. */
function checkParamUnchanged(runId: string, param: KeyValue, stored: string | undefined): void {
  if (stored !== undefined && stored !== param.value) {
    throw MlflowError.invalid(
      `Changing param values is not allowed. Param with key='${param.key}' was already logged with value='${stored}' for run ID='${runId}'. Attempted logging new value '${param.value}'.`,
    );
  }
}

function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  return err.code === "23505" || err.code === "SQLITE_CONSTRAINT_PRIMARYKEY" || err.code === "SQLITE_CONSTRAINT_UNIQUE" || /UNIQUE constraint/i.test(err.message ?? "");
}

/**
 * MLflow's get-history order: timestamp, then step, then value (NaN after numbers, as
 * PostgreSQL sorts it); points equal in all three keep the order they were logged in.
 */
export function mlflowHistoryOrder(a: StoredMetric, b: StoredMetric): number {
  return a.timestamp - b.timestamp || a.step - b.step || a.is_nan - b.is_nan || (a.is_nan ? 0 : a.value - b.value);
}

/**
 * Removes everything tracking keeps of a project (a deleted project, ProjectController): its
 * experiments with their tags and artifact index, its runs with their metrics, params, tags,
 * inputs and outputs. One transaction. Artifact bytes are content-addressed blobs that other
 * rows may share; they are not touched here.
 */
export async function purgeTrackingProject(database: Database, project: string): Promise<void> {
  await database.transaction(async (tx) => {
    const runs = tx.selectFrom("tracking_runs").select("run_id").where("project", "=", project);
    const experiments = tx.selectFrom("tracking_experiments").select("experiment_id").where("project", "=", project);
    for (const table of ["tracking_metric_chunks", "tracking_latest_metrics", "tracking_metric_batches", "tracking_params", "tracking_tags", "tracking_inputs", "tracking_outputs"] as const) {
      await tx.deleteFrom(table).where("run_id", "in", runs).execute();
    }
    await tx.deleteFrom("tracking_runs").where("project", "=", project).execute();
    await tx.deleteFrom("tracking_artifacts").where("experiment_id", "in", experiments).execute();
    await tx.deleteFrom("tracking_experiment_tags").where("experiment_id", "in", experiments).execute();
    await tx.deleteFrom("tracking_experiments").where("project", "=", project).execute();
  });
}

export class TrackingStore {
  /** Planner statistics of the tables runs/search reads, kept fresh as they grow (PostgreSQL). */
  private readonly statistics: TableStatistics;

  constructor(
    readonly database: Database,
    /** Reports failures of background work (flushes of staged metrics, ANALYZE). */
    private readonly logger?: Pick<Logger, "warn">,
  ) {
    this.statistics = new TableStatistics(database, ["tracking_runs", "tracking_tags", "tracking_params", "tracking_latest_metrics"], logger);
  }

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
    for (const part of chunksOf(ids, 500)) {
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
    this.statistics.wrote("tracking_runs", 1);
    this.statistics.wrote("tracking_tags", tags.size);
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
   * Metrics, params and tags of one run, all or nothing (log-metric, log-parameter, set-tag and
   * log-batch all come here). Params are immutable: the same value again is fine, another is
   * 400. Writes need an active run. Callers have validated keys, limits and duplicates.
   */
  async logBatch(runId: string, metrics: readonly MetricPoint[], params: readonly KeyValue[], tags: readonly KeyValue[]): Promise<void> {
    const batch = metrics.length ? encodeBatch(metrics) : undefined;
    if (params.length || tags.length) await this.logParamsAndTags(runId, params, tags, batch);
    else if (batch === undefined) await this.activeRun(this.db, runId);
    else if (!(await this.stageIfActive(runId, batch))) await this.activeRun(this.db, runId); // throws: missing or not active
    if (metrics.length) this.staged(metrics.length);
  }

  /** Appends a staged batch in one statement, unless the run is missing or not active (false). */
  private async stageIfActive(runId: string, batch: Batch): Promise<boolean> {
    const { native, prepared } = this.database;
    if (native) {
      const insert = "INSERT INTO tracking_metric_batches (run_id, keys, points) SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM tracking_runs WHERE run_id = ? AND lifecycle_stage = 'active')";
      return native.transaction((s) => s.prepare(insert).run(runId, batch.keys, batch.points, runId).changes === 1);
    }
    if (!prepared) throw new Error("the database offers neither native (SQLite) nor prepared (PostgreSQL) statements");
    const insert = "INSERT INTO tracking_metric_batches (run_id, keys, points) SELECT $1::text, $2::text, $3::bytea WHERE EXISTS (SELECT 1 FROM tracking_runs WHERE run_id = $1::text AND lifecycle_stage = 'active')";
    return (await prepared("tracking_stage_batch", insert, [runId, batch.keys, batch.points])).rowCount === 1;
  }

  /** The run's project, or 404 if it does not exist / 400 if it is not active. */
  private async activeRun(db: Db | Tx, runId: string): Promise<{ project: string }> {
    const run = await db.selectFrom("tracking_runs").select(["lifecycle_stage", "project"]).where("run_id", "=", runId).executeTakeFirst();
    return requireActiveRun(runId, run);
  }

  private async logParamsAndTags(runId: string, params: readonly KeyValue[], tags: readonly KeyValue[], batch: Batch | undefined): Promise<void> {
    const native = this.database.native;
    if (native) {
      await native.transaction((s) => this.logParamsAndTagsSqlite(s, runId, params, tags, batch));
      return;
    }
    await this.database.transaction(async (tx) => {
      const run = await this.activeRun(tx, runId);
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
        for (const p of params) checkParamUnchanged(runId, p, byKey.get(p.key));
      }
      if (tags.length) {
        await this.upsertTags(tx, runId, tags);
        const set = this.runColumnsOfTags(run.project, tags);
        if (Object.keys(set).length) await tx.updateTable("tracking_runs").set(set).where("run_id", "=", runId).execute();
      }
      if (batch !== undefined) await tx.insertInto("tracking_metric_batches").values({ run_id: runId, ...batch }).execute();
    });
    this.statistics.wrote("tracking_params", params.length);
    this.statistics.wrote("tracking_tags", tags.length);
  }

  /** logParamsAndTags on SQLite: the same writes as prepared statements in one synchronous transaction. */
  private logParamsAndTagsSqlite(s: NativeStatements, runId: string, params: readonly KeyValue[], tags: readonly KeyValue[], batch: Batch | undefined): void {
    const run = requireActiveRun(runId, s.prepare("SELECT lifecycle_stage, project FROM tracking_runs WHERE run_id = ?").get(runId) as RunState | undefined);
    if (params.length) {
      const ins = s.prepare("INSERT INTO tracking_params (run_id, key, value) VALUES (?, ?, ?) ON CONFLICT (run_id, key) DO NOTHING");
      const get = s.prepare("SELECT value FROM tracking_params WHERE run_id = ? AND key = ?").pluck();
      for (const p of params) {
        if (ins.run(runId, p.key, p.value).changes) continue;
        checkParamUnchanged(runId, p, get.get(runId, p.key) as string);
      }
    }
    if (tags.length) {
      const up = s.prepare("INSERT INTO tracking_tags (run_id, key, value) VALUES (?, ?, ?) ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value");
      for (const t of tags) up.run(runId, t.key, t.value);
      const set = this.runColumnsOfTags(run.project, tags);
      const cols = Object.keys(set);
      if (cols.length) s.prepare(`UPDATE tracking_runs SET ${cols.map((c) => `${c} = ?`).join(", ")} WHERE run_id = ?`).run(...Object.values(set), runId);
    }
    if (batch !== undefined) s.prepare("INSERT INTO tracking_metric_batches (run_id, keys, points) VALUES (?, ?, ?)").run(runId, batch.keys, batch.points);
  }

  /** Run columns set by tags: the name (mlflow.runName) and the pipeline lineage. */
  private runColumnsOfTags(project: string, tags: readonly KeyValue[]): { name?: string; pipeline_run?: string; pipeline_step?: string } {
    const set: { name?: string; pipeline_run?: string; pipeline_step?: string } = {};
    for (const t of tags) {
      if (t.key === RUN_NAME_TAG) set.name = t.value;
    }
    const lineage = this.lineage(project, new Map(tags.map((t) => [t.key, t.value])));
    if (lineage.pipeline_run) set.pipeline_run = lineage.pipeline_run;
    if (lineage.pipeline_step) set.pipeline_step = lineage.pipeline_step;
    return set;
  }

  // -------------------------------------------------------------------------------------------
  // Staged metrics (see FLUSH_AFTER_POINTS)
  // -------------------------------------------------------------------------------------------

  /** Points staged by this process since its last background flush started. */
  private stagedPoints = 0;
  /** The last flush started: flushes run one at a time, each after the previous one. */
  private flushing: Promise<void> = Promise.resolve();

  private staged(points: number): void {
    this.stagedPoints += points;
    if (this.stagedPoints < FLUSH_AFTER_POINTS) return;
    this.stagedPoints = 0;
    // A failure leaves the batches staged: the next reader's flush retries and reports it.
    this.flushMetrics().catch((err: unknown) => this.logger?.warn({ err }, "background flush of staged metrics failed"));
  }

  /**
   * Moves every batch staged before the call into tracking_metric_chunks and tracking_latest_metrics
   * (after a flush in progress, if any). Readers of metric data call it first; readers of some runs
   * only pass them, and nothing is flushed unless one of them has staged points.
   */
  async flushMetrics(runIds?: readonly string[]): Promise<void> {
    if (runIds && !(await this.db.selectFrom("tracking_metric_batches").select("seq").where(this.runIdIn(runIds)).limit(1).executeTakeFirst())) return;
    const next = this.flushing.catch(() => undefined).then(() => this.flushStaged());
    this.flushing = next;
    return next;
  }

  private async flushStaged(): Promise<void> {
    // Batches acknowledged before this call have seq ≤ the current max. Later ones are left to
    // the next flush, so that a flush never chases a steady stream of writes one batch at a time.
    const last = (await this.db.selectFrom("tracking_metric_batches").select((eb) => eb.fn.max("seq").as("max")).executeTakeFirst())?.max;
    if (last === null || last === undefined) return;
    const native = this.database.native;
    if (native) {
      // In chunks, each its own transaction, so that other queries get the connection in between.
      while (await native.transaction((s) => this.flushChunkSqlite(s, Number(last)))) {
        /* next chunk */
      }
      return;
    }
    for (;;) {
      if (await this.flushChunkPostgres(Number(last))) continue;
      // None moved: a concurrent flush (whose commit we waited for) took them. Done unless some remain.
      const left = await this.db.selectFrom("tracking_metric_batches").select("seq").where("seq", "<=", Number(last)).limit(1).executeTakeFirst();
      if (!left) return;
    }
  }

  /** Moves the oldest staged batches with seq ≤ `last`; false when there were none. */
  private flushChunkSqlite(s: NativeStatements, last: number): boolean {
    const batches = s.prepare(`SELECT seq, run_id, keys, points FROM tracking_metric_batches WHERE seq <= ? ORDER BY seq LIMIT ${FLUSH_CHUNK_BATCHES}`).all(last) as StagedBatch[];
    const upTo = batches.at(-1)?.seq;
    if (upTo === undefined) return false;
    const { chunks, latest } = chunkBatches(batches);
    const chunk = s.prepare("INSERT INTO tracking_metric_chunks (run_id, key, seq, points) VALUES (?, ?, ?, ?)");
    for (const c of chunks) chunk.run(c.run_id, c.key, c.seq, c.points);
    const up = s.prepare(`INSERT INTO tracking_latest_metrics (run_id, key, value, is_nan, timestamp, step) VALUES (?, ?, ?, ?, ?, ?) ${UPDATE_LATEST}`);
    for (const l of latest) up.run(l.run_id, l.key, l.value, l.is_nan, l.timestamp, l.step);
    s.prepare("DELETE FROM tracking_metric_batches WHERE seq <= ?").run(upTo);
    return true;
  }

  /**
   * Moves up to FLUSH_CHUNK_BATCHES of the oldest batches with seq ≤ `last` in one transaction;
   * false if none. Concurrent flushes (other servers) wait on each other's row locks, so a
   * reader never skips batches that another flush has taken but not yet committed.
   */
  private async flushChunkPostgres(last: number): Promise<boolean> {
    return this.database.transaction(async (tx) => {
      const { rows } = await sql<StagedBatch>`DELETE FROM tracking_metric_batches
        WHERE seq IN (SELECT seq FROM tracking_metric_batches WHERE seq <= ${last} ORDER BY seq LIMIT ${FLUSH_CHUNK_BATCHES} FOR UPDATE)
        RETURNING seq, run_id, keys, points`.execute(tx);
      if (rows.length === 0) return false;
      const { chunks, latest } = chunkBatches(rows);
      await this.writeChunks(tx, chunks, latest);
      this.statistics.wrote("tracking_latest_metrics", latest.length);
      return true;
    });
  }

  /** flushChunkSqlite's writes on PostgreSQL. */
  private async writeChunks(tx: Tx, chunks: readonly ChunkRow[], latest: readonly LatestRow[]): Promise<void> {
    // Multi-row VALUES, so that the points go as binary parameters (a bytea[] would be sent as hex text).
    for (const part of chunksOf(chunks, 1000)) await tx.insertInto("tracking_metric_chunks").values(part).execute();
    // Row lists as arrays: one statement whatever their length.
    await sql`INSERT INTO tracking_latest_metrics (run_id, key, value, is_nan, timestamp, step)
      SELECT * FROM unnest(${latest.map((l) => l.run_id)}::text[], ${latest.map((l) => l.key)}::text[], ${latest.map((l) => l.value)}::float8[],
        ${latest.map((l) => l.is_nan)}::int[], ${latest.map((l) => l.timestamp)}::bigint[], ${latest.map((l) => l.step)}::bigint[])
      ${sql.raw(UPDATE_LATEST)}`.execute(tx);
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
      for (const part of chunksOf([...unique.values()], 100)) {
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
    await this.flushMetrics(runIds);
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

  /** Points of `key` of a run in (step, timestamp, arrival) order, restricted to start ≤ step ≤ end. */
  private async history(runId: string, key: string, start?: number, end?: number): Promise<StoredMetric[]> {
    await this.flushMetrics([runId]);
    const chunks = await this.db.selectFrom("tracking_metric_chunks").select("points").where("run_id", "=", runId).where("key", "=", key).orderBy("seq").execute();
    return historyOf(
      key,
      chunks.map((c) => c.points),
      start,
      end,
    );
  }

  /** Metric history in MLflow's order (`mlflowHistoryOrder`), paged by offset. */
  async metricHistory(runId: string, key: string, offset: number, limit: number | undefined): Promise<StoredMetric[]> {
    const points = (await this.history(runId, key)).sort(mlflowHistoryOrder);
    return limit === undefined ? points.slice(offset) : points.slice(offset, offset + limit);
  }

  /** Points of `key` with start ≤ step ≤ end for one run (get-history-bulk-interval). */
  async metricRange(runId: string, key: string, start: number | undefined, end: number | undefined): Promise<StoredMetric[]> {
    return this.history(runId, key, start, end);
  }

  /** One page of runs/search (metric filters and order_by read the latest metrics: flushed first). */
  async searchRuns(q: RunSearchQuery): Promise<RunRow[]> {
    await this.flushMetrics();
    return searchRunRows(this.db, this.database.engine, q);
  }

  async runsOfPipelineRun(pipelineRun: string): Promise<RunRow[]> {
    return this.db.selectFrom("tracking_runs").selectAll().where("pipeline_run", "=", pipelineRun).orderBy("start_time").execute();
  }
}
