/** Pipeline use cases beyond generic CRUD: start a run, cancel, retry, stream logs. */
import { randomBytes } from "node:crypto";
import type { Authorizer } from "../auth/authorizer.ts";
import type { Principal } from "../auth/principal.ts";
import { ConflictError, InvalidInputError, NotFoundError } from "../platform/errors.ts";
import type { Resource, ResourceRef } from "../resources/model.ts";
import type { ResourceRepository } from "../resources/repository.ts";
import type { WorkloadRuntime } from "../runtime/port.ts";
import { resolveParams, validatePipeline, type PipelineSpec } from "./spec/index.ts";
import { RUN_FINALIZER, type PipelineRunSpec, type PipelineRunStatus } from "./kinds.ts";
import { isNodeTerminal, isRunTerminal } from "./run/state.ts";

export type RunResource = Resource<PipelineRunSpec, PipelineRunStatus>;

export interface StartRunInput {
  params?: Record<string, unknown>;
  cache?: boolean;
  timeoutSeconds?: number;
  labels?: Record<string, string>;
  /** Run name; default `<pipeline>-<5 random chars>`. */
  name?: string;
  /**
   * For platform-started runs (schedules): who asked for the run, the schedule's last writer
   * (undefined if unknown). The run acts as the lesser of them and the pipeline's last writer
   * (see `scheduledActor`). Ignored unless the caller is the platform.
   */
  onBehalfOf?: string;
}

export const PIPELINE_LABEL = "forja.dev/pipeline";
/**
 * On a PipelineRun, who the run acts as: its steps get a token of this user, scoped to the
 * run's project and capped at editor (src/tracking/pipeline-env.ts). None: the service user.
 */
export const CREATED_BY_ANNOTATION = "forja.dev/created-by";
/** On a Pipeline or PipelineSchedule: the user who last wrote it, recorded by the platform. */
export const MODIFIED_BY_ANNOTATION = "forja.dev/modified-by";

/** Power in a project, to compare a schedule's writers. */
const RANK = { none: 0, viewer: 1, editor: 2, owner: 3, admin: 4 } as const;

export function generateRunName(base: string): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  const suffix = Array.from(randomBytes(5), (b) => alphabet[b % alphabet.length]).join("");
  return `${base.slice(0, 57)}-${suffix}`;
}

export class PipelineService {
  constructor(
    private readonly repo: ResourceRepository,
    private readonly authz: Authorizer,
    private readonly runtime: WorkloadRuntime,
  ) {}

  /** Validates the parameters against the pipeline first, so a bad `--param` is a 400, not a failed run. */
  async startRun(principal: Principal, project: string, pipelineName: string, input: StartRunInput): Promise<RunResource> {
    await this.authz.check(principal, "create", "PipelineRun", project);
    const pipeline = await this.repo.get({ kind: "Pipeline", project, name: pipelineName });
    if (!pipeline) throw new NotFoundError(`pipeline "${pipelineName}" not found in project "${project}"`);
    const validated = validatePipeline(pipeline.spec);
    resolveParams(validated, input.params ?? {}, { fieldPrefix: "params" });
    if (input.timeoutSeconds !== undefined && !(input.timeoutSeconds > 0)) throw InvalidInputError.field("timeoutSeconds", "must be positive");
    const spec: PipelineRunSpec = {
      pipelineRef: { name: pipelineName },
      params: input.params ?? {},
      cache: input.cache ?? true,
      cancel: false,
      retry: 0,
      ...(input.timeoutSeconds !== undefined ? { timeoutSeconds: input.timeoutSeconds } : {}),
    };
    const labels = { ...(input.labels ?? {}), [PIPELINE_LABEL]: pipelineName };
    const actor = principal.kind === "system" ? await this.scheduledActor(project, [input.onBehalfOf, pipeline.metadata.annotations[MODIFIED_BY_ANNOTATION]]) : principal.name;
    for (let i = 0; ; i++) {
      const name = input.name ?? generateRunName(pipelineName);
      try {
        return (await this.repo.create({
          kind: "PipelineRun",
          project,
          name,
          labels,
          annotations: actor !== undefined ? { [CREATED_BY_ANNOTATION]: actor } : {},
          finalizers: [RUN_FINALIZER],
          spec,
          status: { phase: "Pending", nodes: {} },
        })) as RunResource;
      } catch (e) {
        if (input.name || i >= 5 || !(e instanceof Error && e.name === "AlreadyExistsError")) throw e;
      }
    }
  }

  /**
   * Who a platform-started run acts as: the least privileged of `writers` (the schedule's and
   * the pipeline's last writers) in `project`, so that changing what a schedule runs never
   * borrows the power of whoever wrote the rest. A writer that is unknown or no longer a user
   * stands for the service user (an editor): undefined is returned when that is the lesser.
   * Ties go to the first writer.
   */
  private async scheduledActor(project: string, writers: (string | undefined)[]): Promise<string | undefined> {
    const candidates: { actor: string | undefined; rank: number }[] = [];
    for (const name of writers) {
      const user = name === undefined ? undefined : await this.repo.get({ kind: "User", project: "", name });
      const spec = user?.spec as { admin?: boolean; disabled?: boolean } | undefined;
      if (name === undefined || !spec) candidates.push({ actor: undefined, rank: RANK.editor }); // the service user
      else if (spec.disabled) candidates.push({ actor: name, rank: RANK.none });
      else if (spec.admin) candidates.push({ actor: name, rank: RANK.admin });
      else candidates.push({ actor: name, rank: RANK[(await this.authz.roleIn({ kind: "user", name, admin: false }, project)) ?? "none"] });
    }
    return candidates.reduce((a, b) => (b.rank < a.rank ? b : a)).actor;
  }

  async cancel(principal: Principal, ref: ResourceRef): Promise<RunResource> {
    await this.authz.check(principal, "update", "PipelineRun", ref.project, ref.name);
    return this.repo.transaction(async (s) => {
      const run = (await s.mustGet(ref)) as RunResource;
      if (isRunTerminal(run.status.phase)) throw new ConflictError(`run ${ref.name} already ended (${run.status.phase})`);
      if (run.spec.cancel) return run;
      return (await s.update(ref, { spec: { ...run.spec, cancel: true } })) as RunResource;
    });
  }

  /** Re-runs the failed, cancelled and skipped steps of an ended run, reusing the outputs of those that succeeded. */
  async retry(principal: Principal, ref: ResourceRef): Promise<RunResource> {
    await this.authz.check(principal, "update", "PipelineRun", ref.project, ref.name);
    return this.repo.transaction(async (s) => {
      const run = (await s.mustGet(ref)) as RunResource;
      if (run.status.phase !== "Failed" && run.status.phase !== "Cancelled") {
        throw new ConflictError(`only a Failed or Cancelled run can be retried; ${ref.name} is ${run.status.phase}`);
      }
      if (run.spec.retry > (run.status.observedRetry ?? 0)) return run;
      return (await s.update(ref, { spec: { ...run.spec, cancel: false, retry: run.spec.retry + 1 } })) as RunResource;
    });
  }

  /**
   * Log lines of a run's steps: one node (`step`, or `step[2]`), a forEach step's iterations,
   * or every node. With several nodes each line is prefixed with `[node] `. With `follow`,
   * streams until the run ends.
   */
  async *logs(
    principal: Principal,
    ref: ResourceRef,
    opts: { step?: string; attempt?: number; follow?: boolean; stream?: "stdout" | "stderr" | "both" },
    signal?: AbortSignal,
  ): AsyncGenerator<string> {
    await this.authz.check(principal, "get", "PipelineRun", ref.project, ref.name);
    const done = new Set<string>();
    let first = true;
    for (;;) {
      const run = (await this.repo.mustGet(ref)) as RunResource;
      const entries = Object.entries(run.status.nodes).filter(([id, n]) => {
        if (n.iterations !== undefined) return false;
        if (!opts.step) return true;
        return id === opts.step || n.step === opts.step;
      });
      if (first && opts.step && entries.length === 0) {
        const known = Object.keys(run.status.nodes);
        if (!(run.status.resolvedSpec as PipelineSpec | undefined)?.steps.some((s) => s.name === opts.step) && !known.includes(opts.step)) {
          throw InvalidInputError.field("step", `run ${ref.name} has no step "${opts.step}"`);
        }
      }
      first = false;
      const multi = !opts.step || entries.length > 1 || entries.some(([id]) => id !== opts.step);
      const ordered = entries
        .flatMap(([id, n]) =>
          (n.attempts ?? [])
            .filter((a) => opts.attempt === undefined || a.n === opts.attempt)
            .map((a) => ({ id, n, a })),
        )
        .sort((x, y) => (x.a.startedAt ?? "").localeCompare(y.a.startedAt ?? "") || x.id.localeCompare(y.id) || x.a.n - y.a.n);
      for (const { id, n, a } of ordered) {
        const key = `${id}#${a.n}`;
        if (done.has(key)) continue;
        const ws = await this.runtime.get(a.workload);
        if (!ws) {
          done.add(key);
          continue;
        }
        const label = (n.attempts?.length ?? 1) > 1 ? `${id}#${a.n}` : id;
        let pending = "";
        for await (const chunk of this.runtime.logs(a.workload, { follow: opts.follow === true, stream: opts.stream ?? "both" }, signal)) {
          const text = chunk.data.toString("utf8");
          if (!multi) {
            yield text;
            continue;
          }
          pending += text;
          const lines = pending.split("\n");
          pending = lines.pop() ?? "";
          if (lines.length) yield lines.map((l) => `[${label}] ${l}\n`).join("");
        }
        if (pending) yield `[${label}] ${pending}\n`;
        // A followed attempt is complete only once its workload ended.
        const after = await this.runtime.get(a.workload);
        if (!opts.follow || !after || ["Succeeded", "Failed", "Cancelled", "Lost"].includes(after.phase)) done.add(key);
      }
      const current = (await this.repo.mustGet(ref)) as RunResource;
      const allDone = isRunTerminal(current.status.phase) && Object.values(current.status.nodes).every((n) => n.iterations !== undefined || isNodeTerminal(n.phase));
      if (!opts.follow || signal?.aborted || allDone) {
        if (!opts.follow || signal?.aborted) return;
        // Drain attempts that appeared since this pass.
        const remaining = Object.entries(current.status.nodes).some(([id, n]) => (n.attempts ?? []).some((a) => !done.has(`${id}#${a.n}`) && (!opts.step || id === opts.step || n.step === opts.step)));
        if (!remaining) return;
      }
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}
