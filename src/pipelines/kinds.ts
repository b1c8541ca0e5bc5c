/**
 * Pipeline resources: Pipeline (the template), PipelineRun (one execution, with the
 * per-step record), PipelineSchedule (cron-triggered runs).
 */
import { Type, type Static } from "@sinclair/typebox";
import { Condition, NAME_PATTERN } from "../resources/model.ts";
import type { KindDefinition } from "../resources/kinds.ts";
import type { FieldIssue } from "../platform/errors.ts";
import { PipelineSpecSchema, pipelineIssues } from "./spec/index.ts";

// ---- Pipeline ------------------------------------------------------------------------------
export const PipelineStatus = Type.Object({
  observedGeneration: Type.Optional(Type.Integer()),
  lastRun: Type.Optional(Type.String()),
});

export const PipelineKind: KindDefinition<typeof PipelineSpecSchema, typeof PipelineStatus> = {
  kind: "Pipeline",
  plural: "pipelines",
  singular: "pipeline",
  shortNames: ["pl"],
  scope: "Project",
  description: "A DAG of steps with typed parameters, artifacts, fan-out, conditions, retries and caching.",
  spec: PipelineSpecSchema,
  status: PipelineStatus,
  initialStatus: () => ({}),
  validate: (m) => pipelineIssues(m.spec, { fieldPrefix: "spec" }),
  columns: [
    { header: "STEPS", path: "spec.steps", format: "count" },
    { header: "AGE", path: "metadata.createdAt", format: "age" },
  ],
};

// ---- PipelineRun ---------------------------------------------------------------------------
export const RunPhase = Type.Union([
  Type.Literal("Pending"),
  Type.Literal("Running"),
  Type.Literal("Succeeded"),
  Type.Literal("Failed"),
  Type.Literal("Cancelled"),
]);
export type RunPhase = Static<typeof RunPhase>;

export const NodePhase = Type.Union([
  Type.Literal("Pending"), // waiting for dependencies (or a parallelism slot)
  Type.Literal("Running"),
  Type.Literal("Retrying"), // an attempt failed; the next starts at nextAttemptAt
  Type.Literal("Succeeded"),
  Type.Literal("Failed"),
  Type.Literal("Skipped"), // a dependency did not succeed, or `when` was false
  Type.Literal("Cancelled"),
]);
export type NodePhase = Static<typeof NodePhase>;

export const Attempt = Type.Object({
  n: Type.Integer({ minimum: 1 }),
  workload: Type.String({ description: "workload id; its logs: forja logs" }),
  startedAt: Type.Optional(Type.String()),
  finishedAt: Type.Optional(Type.String()),
  exitCode: Type.Optional(Type.Integer()),
  reason: Type.Optional(Type.String()),
  message: Type.Optional(Type.String()),
});
export type Attempt = Static<typeof Attempt>;

export const NodeOutputs = Type.Object({
  params: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  artifacts: Type.Optional(Type.Record(Type.String(), Type.String({ description: "sha256 digest" }))),
});
export type NodeOutputs = Static<typeof NodeOutputs>;

export const NodeStatus = Type.Object({
  step: Type.String(),
  index: Type.Optional(Type.Integer()),
  item: Type.Optional(Type.Unknown()),
  finally: Type.Optional(Type.Boolean()),
  phase: NodePhase,
  /** forEach steps: the number of iterations once expanded. */
  iterations: Type.Optional(Type.Integer()),
  attempts: Type.Optional(Type.Array(Attempt)),
  /** Attempts made before the latest retry of the run: this round's retries count from there. */
  retryBase: Type.Optional(Type.Integer({ minimum: 0 })),
  nextAttemptAt: Type.Optional(Type.String()),
  startedAt: Type.Optional(Type.String()),
  finishedAt: Type.Optional(Type.String()),
  reason: Type.Optional(Type.String()),
  message: Type.Optional(Type.String()),
  cacheKey: Type.Optional(Type.String()),
  cachedFrom: Type.Optional(Type.Object({ run: Type.String(), node: Type.String() })),
  outputs: Type.Optional(NodeOutputs),
});
export type NodeStatus = Static<typeof NodeStatus>;

export const PipelineRunSpec = Type.Object(
  {
    pipelineRef: Type.Optional(Type.Object({ name: Type.String({ pattern: NAME_PATTERN }) }, { additionalProperties: false })),
    pipelineSpec: Type.Optional(PipelineSpecSchema),
    params: Type.Record(Type.String(), Type.Unknown(), { default: {} }),
    cache: Type.Boolean({ default: true, description: "false: run every step even if an identical execution is cached" }),
    timeoutSeconds: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: "overrides the pipeline's run timeout" })),
    cancel: Type.Boolean({ default: false, description: "set to true to cancel the run (running steps are stopped)" }),
    retry: Type.Integer({ minimum: 0, default: 0, description: "increment to re-run failed steps, reusing the rest" }),
  },
  { additionalProperties: false },
);
export type PipelineRunSpec = Static<typeof PipelineRunSpec>;

export const PipelineRunStatus = Type.Object({
  phase: RunPhase,
  reason: Type.Optional(Type.String()),
  message: Type.Optional(Type.String()),
  pipeline: Type.Optional(Type.Object({ name: Type.Optional(Type.String()), generation: Type.Optional(Type.Integer()) })),
  /** The spec this run executes (a snapshot: later edits of the Pipeline do not affect it). */
  resolvedSpec: Type.Optional(Type.Unknown()),
  params: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  startedAt: Type.Optional(Type.String()),
  /** When the current attempt of the run started (differs from startedAt after a retry); the run timeout counts from here. */
  runningSince: Type.Optional(Type.String()),
  finishedAt: Type.Optional(Type.String()),
  observedRetry: Type.Optional(Type.Integer()),
  cancelRequestedAt: Type.Optional(Type.String()),
  progress: Type.Optional(Type.String({ description: "finished/total nodes" })),
  nodes: Type.Record(Type.String(), NodeStatus, { default: {} }),
});
export type PipelineRunStatus = Static<typeof PipelineRunStatus>;

export const RUN_FINALIZER = "forja.dev/run-cleanup";

export const PipelineRunKind: KindDefinition<typeof PipelineRunSpec, typeof PipelineRunStatus> = {
  kind: "PipelineRun",
  plural: "pipelineruns",
  singular: "pipelinerun",
  shortNames: ["pr", "run", "runs"],
  scope: "Project",
  description: "One execution of a pipeline: resolved spec, parameters, per-step status, outputs, logs and cache hits.",
  spec: PipelineRunSpec,
  status: PipelineRunStatus,
  initialStatus: () => ({ phase: "Pending", nodes: {} }),
  validate(m) {
    const issues: FieldIssue[] = [];
    const hasRef = m.spec.pipelineRef !== undefined;
    const hasSpec = m.spec.pipelineSpec !== undefined;
    if (hasRef === hasSpec) issues.push({ path: "spec", reason: "set exactly one of pipelineRef and pipelineSpec" });
    if (hasSpec) issues.push(...pipelineIssues(m.spec.pipelineSpec, { fieldPrefix: "spec.pipelineSpec" }));
    return issues;
  },
  columns: [
    { header: "PIPELINE", path: "spec.pipelineRef.name" },
    { header: "PHASE", path: "status.phase" },
    { header: "PROGRESS", path: "status.progress" },
    { header: "STARTED", path: "status.startedAt", format: "age" },
    { header: "AGE", path: "metadata.createdAt", format: "age" },
  ],
};

// ---- PipelineSchedule ----------------------------------------------------------------------
export const ConcurrencyPolicy = Type.Union([Type.Literal("Allow"), Type.Literal("Forbid"), Type.Literal("Replace")], {
  description: "Allow: runs may overlap; Forbid: skip a tick while a run is active; Replace: cancel the active run and start a new one",
});
export type ConcurrencyPolicy = Static<typeof ConcurrencyPolicy>;

export const PipelineScheduleSpec = Type.Object(
  {
    pipelineRef: Type.Object({ name: Type.String({ pattern: NAME_PATTERN }) }, { additionalProperties: false }),
    schedule: Type.String({ minLength: 1, description: 'cron expression (5 or 6 fields), e.g. "*/15 * * * *", or @hourly/@daily' }),
    timezone: Type.Optional(Type.String({ description: "IANA time zone, default UTC" })),
    params: Type.Record(Type.String(), Type.Unknown(), { default: {} }),
    concurrencyPolicy: Type.Union([Type.Literal("Allow"), Type.Literal("Forbid"), Type.Literal("Replace")], { default: "Allow" }),
    suspend: Type.Boolean({ default: false }),
    startingDeadlineSeconds: Type.Optional(Type.Integer({ minimum: 1, description: "a tick missed by more than this (e.g. server down) is skipped" })),
    cache: Type.Boolean({ default: true }),
    successfulRunsHistoryLimit: Type.Integer({ minimum: 0, default: 3 }),
    failedRunsHistoryLimit: Type.Integer({ minimum: 0, default: 1 }),
  },
  { additionalProperties: false },
);
export type PipelineScheduleSpec = Static<typeof PipelineScheduleSpec>;

export const PipelineScheduleStatus = Type.Object({
  lastScheduleTime: Type.Optional(Type.String()),
  nextScheduleTime: Type.Optional(Type.String()),
  lastRun: Type.Optional(Type.String()),
  active: Type.Optional(Type.Array(Type.String())),
  skipped: Type.Optional(Type.Integer({ description: "ticks skipped by the Forbid policy or a missed deadline" })),
  conditions: Type.Optional(Type.Array(Condition)),
});
export type PipelineScheduleStatus = Static<typeof PipelineScheduleStatus>;

export const PipelineScheduleKind: KindDefinition<typeof PipelineScheduleSpec, typeof PipelineScheduleStatus> = {
  kind: "PipelineSchedule",
  plural: "pipelineschedules",
  singular: "pipelineschedule",
  shortNames: ["schedule", "schedules", "ps"],
  scope: "Project",
  description: "Starts runs of a pipeline on a cron schedule, with a concurrency policy.",
  spec: PipelineScheduleSpec,
  status: PipelineScheduleStatus,
  initialStatus: () => ({}),
  columns: [
    { header: "PIPELINE", path: "spec.pipelineRef.name" },
    { header: "SCHEDULE", path: "spec.schedule" },
    { header: "SUSPEND", path: "spec.suspend" },
    { header: "LAST", path: "status.lastScheduleTime", format: "age" },
    { header: "NEXT", path: "status.nextScheduleTime" },
  ],
};
