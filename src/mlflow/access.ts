/**
 * How MLflow ids map onto Forja projects, and who may touch them. Shared by the tracking and
 * registry features (the registry checks a run's project before creating a model version).
 *
 *  - Every experiment belongs to one project. Experiment ids are global (an integer sequence,
 *    sent as decimal strings). "0" means "the `Default` experiment of the URI's project",
 *    created on first use.
 *  - Scoped URIs (`/projects/{p}/...`) only see objects of {p}: others are "does not exist".
 *    The unscoped form (`/api/2.0/...`) reaches any project the caller can read.
 *  - Authorization is the core Authorizer with kinds "Experiment" and "Run": viewer reads,
 *    editor writes.
 */
import type { Authorizer } from "../auth/authorizer.ts";
import type { Principal, Verb } from "../auth/principal.ts";
import type { ResourceRepository } from "../resources/repository.ts";
import type { Database, Tx } from "../store/database.ts";
import type { TrackingExperimentsTable, TrackingRunsTable } from "../store/tables.ts";
import { MlflowError } from "./errors.ts";

/** What access checks need of a call (a subset of MlflowCall). */
export interface CallScope {
  readonly principal: Principal;
  readonly project: string;
  readonly scoped: boolean;
}

export type ExperimentRow = TrackingExperimentsTable;
export type RunRow = TrackingRunsTable;

export const DEFAULT_EXPERIMENT_ID = "0";
export const DEFAULT_EXPERIMENT_NAME = "Default";
export const EXPERIMENT_COUNTER = "mlflowExperimentId";

const EXPERIMENT_ID_RE = /^\d{1,15}$/;
const RUN_ID_RE = /^[a-zA-Z0-9][\w-]{0,255}$/;

export function experimentArtifactLocation(id: number): string {
  return `mlflow-artifacts:/${id}`;
}

/** The next global experiment id (inside the caller's transaction). */
export async function nextExperimentId(tx: Tx): Promise<number> {
  const row = await tx
    .updateTable("counters")
    .set((eb) => ({ value: eb("value", "+", 1) }))
    .where("name", "=", EXPERIMENT_COUNTER)
    .returning("value")
    .executeTakeFirstOrThrow();
  return Number(row.value);
}

export class TrackingAccess {
  constructor(
    private readonly deps: { readonly database: Database; readonly authz: Authorizer; readonly repo: ResourceRepository },
  ) {}

  /** Throws PERMISSION_DENIED unless the caller may `verb` a `kind` ("Experiment" | "Run" | ...) in `project`. */
  async authorize(principal: Principal, verb: Verb, kind: string, project: string): Promise<void> {
    await this.deps.authz.check(principal, verb, kind, project);
  }

  /** The projects a search may cover: the URI's (checked), or every readable one (undefined = all). */
  async searchableProjects(call: CallScope, kind = "Experiment"): Promise<string[] | undefined> {
    if (call.scoped) {
      await this.authorize(call.principal, "list", kind, call.project);
      return [call.project];
    }
    return this.deps.authz.readableProjects(call.principal);
  }

  async projectExists(project: string): Promise<boolean> {
    return (await this.deps.repo.get({ kind: "Project", project: "", name: project })) !== undefined;
  }

  /** Parses a wire experiment id ("0" excluded: see `experiment`). */
  static parseExperimentId(id: string, field = "experiment_id"): number {
    if (!EXPERIMENT_ID_RE.test(id)) throw MlflowError.invalid(`Invalid value '${id}' for parameter '${field}': experiment ids are integers.`);
    return Number(id);
  }

  static checkRunId(id: string): void {
    if (!RUN_ID_RE.test(id)) throw MlflowError.invalid(`Invalid value '${id}' for parameter 'run_id': must match ${RUN_ID_RE.source}`);
  }

  /** The experiment row by id, or undefined (no access check). */
  async findExperiment(id: number, db: Database["db"] | Tx = this.deps.database.db): Promise<ExperimentRow | undefined> {
    return db.selectFrom("tracking_experiments").selectAll().where("experiment_id", "=", id).executeTakeFirst();
  }

  /**
   * The experiment `id` as the caller may see it, authorized for `verb` on its project.
   * "0" resolves to (and lazily creates) the Default experiment of the URI's project.
   * Missing, or outside a scoped URI's project: 404 RESOURCE_DOES_NOT_EXIST.
   */
  async experiment(call: CallScope, id: string, verb: Verb): Promise<ExperimentRow> {
    if (id === DEFAULT_EXPERIMENT_ID) {
      await this.authorize(call.principal, verb, "Experiment", call.project);
      return this.defaultExperiment(call.project);
    }
    const exp = await this.findExperiment(TrackingAccess.parseExperimentId(id));
    if (!exp || (call.scoped && exp.project !== call.project)) throw MlflowError.notFound(`No Experiment with id=${id} exists`);
    await this.authorize(call.principal, verb, "Experiment", exp.project);
    return exp;
  }

  /** The `Default` experiment of `project`, created on first use. */
  async defaultExperiment(project: string): Promise<ExperimentRow> {
    const find = () =>
      this.deps.database.db
        .selectFrom("tracking_experiments")
        .selectAll()
        .where("project", "=", project)
        .where("name", "=", DEFAULT_EXPERIMENT_NAME)
        .executeTakeFirst();
    const existing = await find();
    if (existing) return existing;
    if (!(await this.projectExists(project))) throw MlflowError.notFound(`Project '${project}' does not exist.`);
    try {
      return await this.deps.database.transaction(async (tx) => {
        const id = await nextExperimentId(tx);
        const now = Date.now();
        const row: ExperimentRow = {
          experiment_id: id,
          project,
          name: DEFAULT_EXPERIMENT_NAME,
          artifact_location: experimentArtifactLocation(id),
          lifecycle_stage: "active",
          creation_time: now,
          last_update_time: now,
        };
        await tx.insertInto("tracking_experiments").values(row).execute();
        return row;
      });
    } catch (e) {
      const again = await find(); // created concurrently
      if (again) return again;
      throw e;
    }
  }

  /** The run row by id, or undefined (no access check). */
  async findRun(runId: string, db: Database["db"] | Tx = this.deps.database.db): Promise<RunRow | undefined> {
    return db.selectFrom("tracking_runs").selectAll().where("run_id", "=", runId).executeTakeFirst();
  }

  /**
   * The run `runId`, authorized for `verb` ("get" to read, "update" to log) on its project.
   * Missing, or outside a scoped URI's project: 404 RESOURCE_DOES_NOT_EXIST.
   */
  async run(call: CallScope, runId: string, verb: Verb, db?: Database["db"] | Tx): Promise<RunRow> {
    TrackingAccess.checkRunId(runId);
    const run = await this.findRun(runId, db);
    if (!run || (call.scoped && run.project !== call.project)) throw MlflowError.notFound(`Run with id=${runId} not found`);
    await this.authorize(call.principal, verb, "Run", run.project);
    return run;
  }
}
