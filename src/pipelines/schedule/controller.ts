/**
 * PipelineSchedule controller: starts a run at each cron tick, like a Kubernetes CronJob.
 * The last tick handled is recorded in status and run names are derived from the tick, so
 * a restart neither loses nor doubles a tick; ticks missed while the server was down are
 * caught up once (the latest), unless older than startingDeadlineSeconds. A run acts as the
 * least privileged of the schedule's and the pipeline's last writers (PipelineService.startRun).
 */
import { Cron } from "croner";
import type { Logger } from "pino";
import { SYSTEM } from "../../auth/principal.ts";
import type { Controller, ReconcileResult } from "../../controllers/manager.ts";
import { AlreadyExistsError, errorMessage } from "../../platform/errors.ts";
import type { Condition, Resource, ResourceRef } from "../../resources/model.ts";
import type { ResourceRepository } from "../../resources/repository.ts";
import type { PipelineRunSpec, PipelineRunStatus, PipelineScheduleSpec, PipelineScheduleStatus } from "../kinds.ts";
import { MODIFIED_BY_ANNOTATION, type PipelineService } from "../service.ts";
import { isRunTerminal } from "../run/state.ts";

export const SCHEDULE_LABEL = "forja.dev/schedule";

export function parseCron(expr: string, timezone?: string): Cron {
  return new Cron(expr, { paused: true, ...(timezone ? { timezone } : { timezone: "UTC" }) });
}

/** The latest tick t with after < t <= now, if any. */
export function latestDueTick(cron: Cron, after: Date, now: Date): Date | undefined {
  let due: Date | undefined;
  let cursor = after;
  for (let i = 0; i < 100_000; i++) {
    const next = cron.nextRun(cursor);
    if (!next || next.getTime() > now.getTime()) break;
    due = next;
    cursor = next;
  }
  return due;
}

export class ScheduleController implements Controller {
  readonly name = "pipelineschedules";
  readonly kind = "PipelineSchedule";
  readonly resyncSeconds = 60;

  constructor(private readonly d: { repo: ResourceRepository; pipelines: PipelineService; logger: Logger; now?: () => Date }) {}

  async reconcile(ref: ResourceRef): Promise<ReconcileResult | void> {
    const sched = (await this.d.repo.get(ref)) as Resource<PipelineScheduleSpec, PipelineScheduleStatus> | undefined;
    if (!sched || sched.metadata.deletionTimestamp) return;
    const now = (this.d.now ?? (() => new Date()))();
    const spec = sched.spec;
    const status: PipelineScheduleStatus = structuredClone(sched.status);
    const setCondition = (c: Omit<Condition, "lastTransitionTime">) => {
      const prev = status.conditions?.find((x) => x.type === c.type);
      status.conditions = [{ ...c, lastTransitionTime: prev?.status === c.status ? prev.lastTransitionTime : now.toISOString() }];
    };

    let cron: Cron;
    try {
      cron = parseCron(spec.schedule, spec.timezone);
    } catch (e) {
      setCondition({ type: "Ready", status: "False", reason: "InvalidSchedule", message: `spec.schedule: ${errorMessage(e)}` });
      delete status.nextScheduleTime;
      return this.write(sched, status);
    }

    const runs = (await this.d.repo.listAll({
      kind: "PipelineRun",
      project: ref.project,
      selector: [{ op: "eq", key: SCHEDULE_LABEL, value: ref.name }],
    })) as Resource<PipelineRunSpec, PipelineRunStatus>[];
    const active = runs.filter((r) => !isRunTerminal(r.status.phase) && !r.metadata.deletionTimestamp);
    status.active = active.map((r) => r.metadata.name);

    if (spec.suspend) {
      delete status.nextScheduleTime;
      setCondition({ type: "Ready", status: "True", reason: "Suspended" });
      return this.write(sched, status);
    }

    const after = new Date(status.lastScheduleTime ?? sched.metadata.createdAt);
    const due = latestDueTick(cron, after, now);
    if (due) {
      status.lastScheduleTime = due.toISOString();
      const late = (now.getTime() - due.getTime()) / 1000;
      if (spec.startingDeadlineSeconds !== undefined && late > spec.startingDeadlineSeconds) {
        status.skipped = (status.skipped ?? 0) + 1;
        this.d.logger.info({ schedule: `${ref.project}/${ref.name}`, tick: due.toISOString() }, "tick missed its starting deadline; skipped");
      } else if (spec.concurrencyPolicy === "Forbid" && active.length > 0) {
        status.skipped = (status.skipped ?? 0) + 1;
        this.d.logger.info({ schedule: `${ref.project}/${ref.name}`, active: status.active }, "tick skipped: a run is still active (Forbid)");
      } else {
        if (spec.concurrencyPolicy === "Replace") {
          for (const r of active) await this.d.pipelines.cancel(SYSTEM, { kind: "PipelineRun", project: ref.project, name: r.metadata.name }).catch(() => undefined);
        }
        const name = `${ref.name.slice(0, 50)}-${Math.floor(due.getTime() / 1000)}`;
        try {
          await this.d.pipelines.startRun(SYSTEM, ref.project, spec.pipelineRef.name, {
            name,
            params: spec.params,
            cache: spec.cache,
            labels: { [SCHEDULE_LABEL]: ref.name },
            // The run acts as the lesser of this and the pipeline's last writer (never as the schedule's creator).
            ...(sched.metadata.annotations[MODIFIED_BY_ANNOTATION] ? { onBehalfOf: sched.metadata.annotations[MODIFIED_BY_ANNOTATION] } : {}),
          });
          status.active = [...(status.active ?? []), name];
        } catch (e) {
          if (!(e instanceof AlreadyExistsError)) {
            setCondition({ type: "Ready", status: "False", reason: "RunFailedToStart", message: errorMessage(e) });
            const next = cron.nextRun(now);
            if (next) status.nextScheduleTime = next.toISOString();
            await this.write(sched, status);
            return next ? { requeueAfterMs: Math.max(1000, next.getTime() - now.getTime()) } : undefined;
          }
        }
        status.lastRun = name;
      }
    }
    await this.pruneHistory(ref, runs, spec);
    setCondition({ type: "Ready", status: "True", reason: "Scheduled" });
    const next = cron.nextRun(now);
    if (next) status.nextScheduleTime = next.toISOString();
    else delete status.nextScheduleTime;
    await this.write(sched, status);
    return next ? { requeueAfterMs: Math.max(0, next.getTime() - now.getTime()) + 5 } : undefined;
  }

  private async pruneHistory(ref: ResourceRef, runs: Resource<PipelineRunSpec, PipelineRunStatus>[], spec: PipelineScheduleSpec): Promise<void> {
    const ended = runs.filter((r) => isRunTerminal(r.status.phase) && !r.metadata.deletionTimestamp).sort((a, b) => b.metadata.createdAt.localeCompare(a.metadata.createdAt));
    const ok = ended.filter((r) => r.status.phase === "Succeeded").slice(spec.successfulRunsHistoryLimit);
    const bad = ended.filter((r) => r.status.phase !== "Succeeded").slice(spec.failedRunsHistoryLimit);
    for (const r of [...ok, ...bad]) await this.d.repo.delete({ kind: "PipelineRun", project: ref.project, name: r.metadata.name }).catch(() => undefined);
  }

  private async write(sched: Resource<PipelineScheduleSpec, PipelineScheduleStatus>, status: PipelineScheduleStatus): Promise<void> {
    if (JSON.stringify(status) === JSON.stringify(sched.status)) return;
    await this.d.repo.update({ kind: "PipelineSchedule", project: sched.metadata.project ?? "", name: sched.metadata.name }, { status }, sched.metadata.resourceVersion);
  }
}
