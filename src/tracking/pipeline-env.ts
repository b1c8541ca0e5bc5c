/**
 * Pipeline integration: every step gets MLFLOW_TRACKING_URI (project-scoped),
 * MLFLOW_TRACKING_TOKEN, MLFLOW_EXPERIMENT_ID and MLFLOW_RUN_ID of a tracking run created for
 * that step node (experiment named after the pipeline; tags forja.pipelineRun, forja.step,
 * mlflow.runName=<run>/<node>). The token belongs to the user who created the PipelineRun
 * (annotation forja.dev/created-by), else to the service user `pipeline-runner`, which is made
 * an editor of the project on first use. One token per pipeline run, named `pipeline-<run uid>-...`, revoked
 * by `revokeRunTokens` when the run ends; they also expire after 7 days.
 *
 * Wiring: the tracking feature sets `ctx.hooks.pipelineStepEnv` (stepEnv) and
 * `ctx.hooks.pipelineRunEnded` (revokeRunTokens); the pipelines feature calls them.
 */
import { randomBytes } from "node:crypto";
import { CREATED_BY_ANNOTATION } from "../pipelines/service.ts";
import { SYSTEM } from "../auth/principal.ts";
import type { ProjectSpec } from "../projects/kind.ts";
import type { PlatformContext } from "../server/feature.ts";
import { PIPELINE_RUN_TAG, PIPELINE_STEP_TAG, RUN_NAME_TAG } from "./store.ts";
import type { TrackingService } from "./service.ts";

export const PIPELINE_RUNNER_USER = "pipeline-runner";
const TOKEN_TTL_SECONDS = 7 * 24 * 3600;

export interface StepRunIdentity {
  readonly uid: string;
  readonly name: string;
  readonly project: string;
}

export function pipelineTracking(ctx: PlatformContext, svc: TrackingService) {
  const runTokens = new Map<string, string>();
  async function tokenUser(run: StepRunIdentity): Promise<string> {
    const pr = await ctx.repo.get({ kind: "PipelineRun", project: run.project, name: run.name });
    const creator = pr?.metadata.annotations?.[CREATED_BY_ANNOTATION];
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
    const pr = await ctx.repo.get({ kind: "PipelineRun", project: run.project, name: run.name });
    const pipeline = (pr?.spec as { pipelineRef?: { name?: string } } | undefined)?.pipelineRef?.name ?? run.name;
    let exp = await svc.store.experimentByName(run.project, pipeline);
    if (!exp) {
      try {
        exp = await svc.store.createExperiment(run.project, pipeline);
      } catch {
        exp = await svc.store.experimentByName(run.project, pipeline);
      }
    }
    if (!exp) throw new Error(`cannot create the tracking experiment ${pipeline}`);
    const lineage = `${run.project}/${run.name}`;
    const existing = (await svc.store.runsOfPipelineRun(lineage)).find((r) => r.pipeline_step === nodeId);
    const runId =
      existing?.run_id ??
      (
        await svc.store.createRun(exp, {
          userId: pr?.metadata.annotations?.[CREATED_BY_ANNOTATION] ?? PIPELINE_RUNNER_USER,
          runName: `${run.name}/${nodeId}`,
          startTime: Date.now(),
          tags: [
            { key: PIPELINE_RUN_TAG, value: lineage },
            { key: PIPELINE_STEP_TAG, value: nodeId },
            { key: RUN_NAME_TAG, value: `${run.name}/${nodeId}` },
          ],
        })
      ).run_id;
    // One token per pipeline run, shared by its steps (minted again after a server restart).
    let token = runTokens.get(run.uid);
    if (!token) {
      const user = await tokenUser(run);
      token = (await ctx.tokens.create(SYSTEM, { name: `pipeline-${run.uid}-${randomBytes(3).toString("hex")}`, user, expiresInSeconds: TOKEN_TTL_SECONDS })).token;
      runTokens.set(run.uid, token);
    }
    return {
      MLFLOW_TRACKING_URI: `${ctx.publicUrl()}/projects/${run.project}`,
      MLFLOW_TRACKING_TOKEN: token,
      MLFLOW_EXPERIMENT_ID: String(exp.experiment_id),
      MLFLOW_RUN_ID: runId,
    };
  }

  /** Revokes the step tokens of a run (call when the run reaches a final phase). */
  async function revokeRunTokens(run: Pick<StepRunIdentity, "uid">): Promise<number> {
    runTokens.delete(run.uid);
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
