/**
 * What the registry reads of tracking (src/tracking owns the tables): a run's project,
 * experiment, artifact root, pipeline lineage and dataset inputs; an experiment's project and
 * artifact location. A port, so the registry's tests and a server without the tracking
 * feature (no `tracking_runs` table: nothing to check, no lineage) work too.
 */
import type { Database } from "../store/database.ts";

export interface TrackedRun {
  readonly runId: string;
  readonly experimentId: string;
  readonly project: string;
  readonly name: string;
  readonly status: string;
  readonly lifecycleStage: string;
  readonly artifactUri: string;
  readonly startTime: number;
  readonly endTime?: number;
  readonly userId: string;
  /** `<project>/<pipelinerun name>` when a pipeline step started the run. */
  readonly pipelineRun?: string;
  readonly pipelineStep?: string;
}

export interface TrackedExperiment {
  readonly experimentId: string;
  readonly project: string;
  readonly name: string;
  readonly artifactLocation: string;
  readonly lifecycleStage: string;
}

export interface TrackedDataset {
  readonly name: string;
  readonly digest: string;
  readonly sourceType: string;
  readonly source: string;
  readonly context?: string;
}

export interface TrackingLookup {
  /** False when the server has no tracking tables: runs and experiments cannot be checked. */
  available(): Promise<boolean>;
  /** A run by id, whatever its project (callers compare `project`). */
  run(runId: string): Promise<TrackedRun | undefined>;
  experiment(experimentId: string): Promise<TrackedExperiment | undefined>;
  datasets(runId: string): Promise<TrackedDataset[]>;
  /** Ids of the runs started by pipeline run `pipelineRun` (`<project>/<name>`). */
  runIdsOfPipelineRun(pipelineRun: string): Promise<string[]>;
}

/** The `pipeline_run` value tracking records for pipeline run `name` of `project`. */
export function pipelineRunKey(project: string, name: string): string {
  return `${project}/${name}`;
}

/** Reads tracking's tables (`tracking_runs`, `tracking_experiments`, `tracking_inputs`). */
export class SqlTrackingLookup implements TrackingLookup {
  private present: Promise<boolean> | undefined;

  constructor(private readonly database: Database) {}

  available(): Promise<boolean> {
    this.present ??= this.database.db.introspection.getTables().then((ts) => ts.some((t) => t.name === "tracking_runs"));
    return this.present;
  }

  async run(runId: string): Promise<TrackedRun | undefined> {
    if (!(await this.available())) return undefined;
    const r = await this.database.db.selectFrom("tracking_runs").selectAll().where("run_id", "=", runId).executeTakeFirst();
    if (!r) return undefined;
    return {
      runId: r.run_id,
      experimentId: String(r.experiment_id),
      project: r.project,
      name: r.name,
      status: r.status,
      lifecycleStage: r.lifecycle_stage,
      artifactUri: r.artifact_uri,
      startTime: Number(r.start_time),
      ...(r.end_time !== null ? { endTime: Number(r.end_time) } : {}),
      userId: r.user_id,
      ...(r.pipeline_run ? { pipelineRun: r.pipeline_run } : {}),
      ...(r.pipeline_step ? { pipelineStep: r.pipeline_step } : {}),
    };
  }

  async experiment(experimentId: string): Promise<TrackedExperiment | undefined> {
    if (!(await this.available()) || !/^\d{1,15}$/u.test(experimentId)) return undefined;
    const e = await this.database.db.selectFrom("tracking_experiments").selectAll().where("experiment_id", "=", Number(experimentId)).executeTakeFirst();
    if (!e) return undefined;
    return {
      experimentId: String(e.experiment_id),
      project: e.project,
      name: e.name,
      artifactLocation: e.artifact_location,
      lifecycleStage: e.lifecycle_stage,
    };
  }

  async datasets(runId: string): Promise<TrackedDataset[]> {
    if (!(await this.available())) return [];
    const rows = await this.database.db
      .selectFrom("tracking_inputs")
      .select(["name", "digest", "source_type", "source", "context"])
      .where("run_id", "=", runId)
      .orderBy("name")
      .execute();
    return rows.map((d) => ({ name: d.name, digest: d.digest, sourceType: d.source_type, source: d.source, ...(d.context ? { context: d.context } : {}) }));
  }

  async runIdsOfPipelineRun(pipelineRun: string): Promise<string[]> {
    if (!(await this.available())) return [];
    const rows = await this.database.db.selectFrom("tracking_runs").select("run_id").where("pipeline_run", "=", pipelineRun).execute();
    return rows.map((r) => r.run_id);
  }
}
