/**
 * Pipeline integration: every step gets MLFLOW_TRACKING_URI (project-scoped),
 * MLFLOW_TRACKING_TOKEN, MLFLOW_EXPERIMENT_ID and MLFLOW_RUN_ID of a tracking run created for
 * that step node (experiment named after the pipeline; tags forja.pipelineRun, forja.step,
 * mlflow.runName=<run>/<node>). The token belongs to the user the PipelineRun acts as
 * (annotation forja.dev/created-by: who started it, or for a scheduled run the lesser of the
 * schedule's and the pipeline's last writers), else to the service user `pipeline-runner`,
 * which is made an editor of the project on first use. It is scoped to the run's project with
 * at most the editor role: a platform admin's run gets no admin power and no other project
 * (docs/adr/0015-pipeline-run-identity-and-step-tokens.md). One token per pipeline run, named
 * `pipeline-<run uid>-...`, revoked by `revokeRunTokens` when the run ends; they also expire
 * after 7 days.
 *
 * A step's start waits for its env, so the per-run part (the PipelineRun, its experiment, the
 * tracking runs its steps already have, the token) is looked up once per pipeline run and kept
 * until the run ends: a step then costs one insert. This server is the only one creating the
 * step runs of its pipeline runs, so the kept map of step runs stays complete.
 *
 * Wiring: the tracking feature sets `ctx.hooks.pipelineStepEnv` (stepEnv) and
 * `ctx.hooks.pipelineRunEnded` (revokeRunTokens); the pipelines feature calls them.
 */
import { randomBytes } from "node:crypto";
import { CREATED_BY_ANNOTATION } from "../pipelines/service.ts";
import { SYSTEM } from "../auth/principal.ts";
import type { ExperimentRow } from "../mlflow/index.ts";
import type { ProjectSpec } from "../projects/kind.ts";
import type { PlatformContext } from "../server/feature.ts";
import { PIPELINE_RUN_TAG, PIPELINE_STEP_TAG, RUN_NAME_TAG } from "./store.ts";
import type { TrackingService } from "./service.ts";

export const PIPELINE_RUNNER_USER = "pipeline-runner";
const TOKEN_TTL_SECONDS = 7 * 24 * 3600;
/** The most a step token may do in its run's project: what running a pipeline there needs. */
export const STEP_TOKEN_ROLE = "editor";

export interface StepRunIdentity {
  readonly uid: string;
  readonly name: string;
  readonly project: string;
}

/** What the steps of one pipeline run share. */
interface RunTracking {
  readonly experiment: ExperimentRow;
  /** The user the PipelineRun acts as, if recorded. */
  readonly creator: string | undefined;
  /** Node id → id of its tracking run. */
  readonly stepRuns: Map<string, string>;
  token?: string;
}

export function pipelineTracking(ctx: PlatformContext, svc: TrackingService) {
  /** By pipeline run uid, while the run is active. */
  const runs = new Map<string, Promise<RunTracking>>();

  async function loadRun(run: StepRunIdentity): Promise<RunTracking> {
    const pr = await ctx.repo.get({ kind: "PipelineRun", project: run.project, name: run.name });
    const pipeline = (pr?.spec as { pipelineRef?: { name?: string } } | undefined)?.pipelineRef?.name ?? run.name;
    let experiment = await svc.store.experimentByName(run.project, pipeline);
    if (!experiment) {
      try {
        experiment = await svc.store.createExperiment(run.project, pipeline);
      } catch {
        experiment = await svc.store.experimentByName(run.project, pipeline);
      }
    }
    if (!experiment) throw new Error(`cannot create the tracking experiment ${pipeline}`);
    const stepRuns = new Map<string, string>();
    // Oldest first: a node keeps the tracking run it got first (a retried run's nodes reuse theirs).
    for (const r of await svc.store.runsOfPipelineRun(lineageOf(run))) {
      if (r.pipeline_step && !stepRuns.has(r.pipeline_step)) stepRuns.set(r.pipeline_step, r.run_id);
    }
    return { experiment, creator: pr?.metadata.annotations?.[CREATED_BY_ANNOTATION], stepRuns };
  }

  function runTracking(run: StepRunIdentity): Promise<RunTracking> {
    let t = runs.get(run.uid);
    if (!t) {
      t = loadRun(run);
      runs.set(run.uid, t);
      t.catch(() => runs.delete(run.uid)); // try again at the next step
    }
    return t;
  }

  async function tokenUser(run: StepRunIdentity, creator: string | undefined): Promise<string> {
    if (creator && (await ctx.repo.get({ kind: "User", project: "", name: creator }))) return creator;
    await ctx.resources.apply(SYSTEM, [{ apiVersion: "forja.dev/v1", kind: "User", metadata: { name: PIPELINE_RUNNER_USER }, spec: { displayName: "Pipeline steps", admin: false, disabled: false } }]).catch(() => undefined);
    const project = await ctx.repo.get({ kind: "Project", project: "", name: run.project });
    const spec = project?.spec as ProjectSpec | undefined;
    if (spec && !spec.members.some((m) => m.user === PIPELINE_RUNNER_USER)) {
      await ctx.resources.apply(SYSTEM, [
        { apiVersion: "forja.dev/v1", kind: "Project", metadata: { name: run.project }, spec: { ...spec, members: [...spec.members, { user: PIPELINE_RUNNER_USER, role: "editor" }] } },
      ]);
    }
    return PIPELINE_RUNNER_USER;
  }

  async function stepEnv(run: StepRunIdentity, nodeId: string): Promise<Record<string, string>> {
    const t = await runTracking(run);
    let runId = t.stepRuns.get(nodeId);
    if (runId === undefined) {
      runId = (
        await svc.store.createRun(t.experiment, {
          userId: t.creator ?? PIPELINE_RUNNER_USER,
          runName: `${run.name}/${nodeId}`,
          startTime: Date.now(),
          tags: [
            { key: PIPELINE_RUN_TAG, value: lineageOf(run) },
            { key: PIPELINE_STEP_TAG, value: nodeId },
            { key: RUN_NAME_TAG, value: `${run.name}/${nodeId}` },
          ],
        })
      ).run_id;
      t.stepRuns.set(nodeId, runId);
    }
    // One token per pipeline run, shared by its steps (minted again after a server restart).
    if (!t.token) {
      const user = await tokenUser(run, t.creator);
      t.token = (
        await ctx.tokens.create(SYSTEM, {
          name: `pipeline-${run.uid}-${randomBytes(3).toString("hex")}`,
          user,
          expiresInSeconds: TOKEN_TTL_SECONDS,
          scope: { project: run.project, role: STEP_TOKEN_ROLE },
        })
      ).token;
    }
    return {
      MLFLOW_TRACKING_URI: `${ctx.publicUrl()}/projects/${run.project}`,
      MLFLOW_TRACKING_TOKEN: t.token,
      MLFLOW_EXPERIMENT_ID: String(t.experiment.experiment_id),
      MLFLOW_RUN_ID: runId,
    };
  }

  /** Revokes the step tokens of a run (call when the run reaches a final phase). */
  async function revokeRunTokens(run: Pick<StepRunIdentity, "uid">): Promise<number> {
    runs.delete(run.uid);
    const rows = await ctx.database.db
      .selectFrom("tokens")
      .select("id")
      .where("name", "like", `pipeline-${run.uid}-%`)
      .where("revoked_at", "is", null)
      .execute();
    for (const r of rows) await ctx.tokens.revoke(SYSTEM, r.id);
    return rows.length;
  }

  return { stepEnv, revokeRunTokens };
}

function lineageOf(run: StepRunIdentity): string {
  return `${run.project}/${run.name}`;
}
