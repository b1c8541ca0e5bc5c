/**
 * The PipelineRun controller: drives a run from its recorded status, idempotently.
 * Every decision is derived from the run's status and the runtime's view of the run's
 * workloads, whose ids are deterministic per (run, node, attempt) — so after a crash at
 * any point the next reconcile re-derives the same decisions, and a step is never started
 * twice except as a new attempt its retry policy allows.
 *
 * This controller is the only writer of a run's status. While a run is active it keeps that
 * status in memory (see ActiveRun) and stores it at most every STATUS_STORE_MS, and at once
 * when the run's phase changes: a step event costs O(1), not a read, copy, compare and write
 * of the whole document (O(nodes), so quadratic over a large fan-out). A stored status that
 * lags behind loses nothing in a crash: what it misses is re-derived from the workloads.
 */
import type { Logger } from "pino";
import { Counter, Histogram, type Registry } from "prom-client";
import type { Controller, ReconcileResult } from "../../controllers/manager.ts";
import { ConflictError, errorMessage, isForjaError } from "../../platform/errors.ts";
import type { Resource, ResourceRef } from "../../resources/model.ts";
import type { ResourceRepository } from "../../resources/repository.ts";
import type { WorkloadRuntime, WorkloadStatus } from "../../runtime/port.ts";
import { isTerminal as isWorkloadTerminal, lostBeforeStart } from "../../runtime/port.ts";
import {
  evaluateWhen,
  expandForEach,
  nodeId as makeNodeId,
  resolveParams,
  resolveStep,
  retryDelaySeconds,
  stepCacheKey,
  validatePipeline,
  type PipelineSpec,
  type ResolvedStep,
  type RunInfo,
  type StepState,
  type TemplateContext,
  type ValidatedPipeline,
  type ValidatedStep,
} from "../spec/index.ts";
import { RUN_FINALIZER, type Attempt, type NodeStatus, type PipelineRunSpec, type PipelineRunStatus, type RunPhase } from "../kinds.ts";
import type { StepCache } from "./cache.ts";
import { RUN_LABELS, type RunIdentity, type StepExecutor } from "./executor.ts";
import { aggregatePhase, finalOutcome, isNodeTerminal, isRunTerminal, mainOutcome, workloadId } from "./state.ts";

export interface RunControllerDeps {
  readonly repo: ResourceRepository;
  readonly runtime: WorkloadRuntime;
  readonly executor: StepExecutor;
  readonly cache: StepCache;
  readonly logger: Logger;
  readonly metrics: Registry;
  /** Secret values for `{secret, key}` env refs in a project. */
  readonly secrets?: (project: string, name: string, key: string) => Promise<string | undefined>;
  readonly now?: () => Date;
  /** Called once a run reached a final phase (e.g. to revoke its step tokens). */
  readonly onRunEnded?: (run: RunIdentity) => Promise<void>;
}

const SAFETY_REQUEUE_MS = 10_000;
/** How far the stored status of an active run may lag behind the one in memory. */
const STATUS_STORE_MS = 250;

type Outcome = "Succeeded" | "Failed" | "Skipped" | "Cancelled";

type RunResource = Resource<PipelineRunSpec, PipelineRunStatus>;
/** A run's identity, intent and bookkeeping: everything of the resource but its status. */
type RunMeta = Pick<RunResource, "metadata" | "spec">;

/**
 * A run this controller is driving, between reconciles. `status` is authoritative (mutated in
 * place); the stored one is the same or older. `meta` is the newest version of the resource
 * read, written or seen in a change event — a spec change (cancel, retry) or a deletion both
 * arrive as events, which also enqueue the run.
 */
interface ActiveRun {
  meta: RunMeta;
  status: PipelineRunStatus;
  /** `meta` may be older than the stored resource (a write conflicted): read it again. */
  stale: boolean;
  /** `status` has changes not stored yet. */
  dirty: boolean;
  /** The phase of the stored status. */
  storedPhase: RunPhase;
  /** When `status` was last stored (epoch ms; 0: not by this process). */
  storedAt: number;
}

/** Mutable working state of one reconcile. */
interface Work {
  readonly run: RunMeta;
  readonly id: RunIdentity;
  readonly pipeline: ValidatedPipeline;
  readonly status: PipelineRunStatus;
  readonly now: Date;
  /** Cancelling the main steps (user cancel or run timeout). */
  stopping: boolean;
  timedOut: boolean;
  /** Earliest time something must be looked at again. */
  wakeAt?: number;
  finishedNodes: { node: string; phase: Outcome; cached: boolean; seconds?: number }[];
  /** Something in `status` changed. */
  changed: boolean;
}

export class PipelineRunController implements Controller {
  readonly name = "pipelineruns";
  readonly kind = "PipelineRun";
  readonly workers = 2;
  readonly resyncSeconds = 30;
  /** Only this controller writes a run's status; workload changes arrive through the runtime. */
  readonly ignoreStatusOnlyChanges = true;
  private readonly validated = new Map<string, ValidatedPipeline>();
  /** Runs being driven, by project and name. */
  private readonly active = new Map<string, ActiveRun>();
  private unsubscribe: (() => void) | undefined;
  private unwatch: (() => void) | undefined;
  private readonly now: () => Date;
  private readonly m;

  constructor(private readonly d: RunControllerDeps) {
    this.now = d.now ?? (() => new Date());
    this.m = {
      runs: new Counter({
        name: "forja_pipeline_runs_total",
        help: "Pipeline runs that ended, by phase.",
        labelNames: ["project", "pipeline", "phase"],
        registers: [d.metrics],
      }),
      runSeconds: new Histogram({
        name: "forja_pipeline_run_duration_seconds",
        help: "Duration of ended pipeline runs.",
        labelNames: ["project", "pipeline", "phase"],
        buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600],
        registers: [d.metrics],
      }),
      steps: new Counter({
        name: "forja_pipeline_steps_total",
        help: "Pipeline step executions that ended, by phase and whether they were cache hits.",
        labelNames: ["project", "phase", "cached"],
        registers: [d.metrics],
      }),
      stepSeconds: new Histogram({
        name: "forja_pipeline_step_duration_seconds",
        help: "Duration of executed (not cached) pipeline steps.",
        labelNames: ["project", "phase"],
        buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
        registers: [d.metrics],
      }),
    };
  }

  async start(enqueue: (ref: ResourceRef) => void): Promise<void> {
    // Keeps the metadata and spec of active runs current (the manager enqueues them for the same events).
    this.unwatch = this.d.repo.watch((e) => {
      if (e.resource.kind !== this.kind) return;
      const key = activeKey(e.resource.metadata.project ?? "", e.resource.metadata.name);
      const a = this.active.get(key);
      if (!a) return;
      if (e.type === "DELETED" || e.resource.metadata.uid !== a.meta.metadata.uid) this.active.delete(key);
      else observeMeta(a, e.resource as RunResource);
    });
    this.unsubscribe = this.d.runtime.onChange((w) => {
      // Only an ended workload changes what the run does next (start times are read when it ends).
      if (!isWorkloadTerminal(w.phase)) return;
      const project = w.labels[RUN_LABELS.project];
      const name = w.labels[RUN_LABELS.run];
      if (project && name) enqueue({ kind: "PipelineRun", project, name });
    });
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.unsubscribe?.();
    this.unwatch?.();
    return Promise.resolve();
  }

  async reconcile(ref: ResourceRef): Promise<ReconcileResult | void> {
    const key = activeKey(ref.project, ref.name);
    const a = await this.load(key, ref);
    if (!a) return;
    try {
      return await this.drive(a);
    } finally {
      // Only active runs stay in memory; one whose last change is not stored yet stays until it is.
      if (!a.dirty && (isRunTerminal(a.status.phase) || a.meta.metadata.deletionTimestamp)) this.active.delete(key);
    }
  }

  /** The run as this controller knows it: from memory while it is active, else from the store. */
  private async load(key: string, ref: ResourceRef): Promise<ActiveRun | undefined> {
    const known = this.active.get(key);
    if (known && !known.stale) return known;
    const run = (await this.d.repo.get(ref)) as RunResource | undefined;
    if (!run) {
      this.active.delete(key);
      return undefined;
    }
    const meta = { metadata: run.metadata, spec: run.spec };
    if (known && known.meta.metadata.uid === run.metadata.uid) {
      // Our status is newer than (or the same as) the stored one: only the rest is refreshed.
      known.meta = meta;
      known.stale = false;
      return known;
    }
    const a: ActiveRun = { meta, status: run.status, stale: false, dirty: false, storedPhase: run.status.phase, storedAt: 0 };
    this.active.set(key, a);
    return a;
  }

  private async drive(a: ActiveRun): Promise<ReconcileResult | void> {
    const run = a.meta;
    if (run.metadata.deletionTimestamp) return this.finalize(run);
    if (a.status.phase === "Pending") return this.initialize(a);

    const status = a.status;
    const spec = run.spec;
    if (isRunTerminal(status.phase)) {
      if (a.dirty) await this.store(a); // its final status could not be stored last time
      if (spec.retry <= (status.observedRetry ?? 0)) return;
      status.observedRetry = spec.retry;
      a.dirty = true;
      if (status.phase === "Succeeded") {
        await this.store(a);
        return;
      }
      this.resetForRetry(status, spec.retry);
    }

    const pipeline = this.pipelineOf(run.metadata.uid, status);
    const work: Work = {
      run,
      id: { uid: run.metadata.uid, name: run.metadata.name, project: run.metadata.project ?? "" },
      pipeline,
      status,
      now: this.now(),
      stopping: false,
      timedOut: false,
      finishedNodes: [],
      changed: false,
    };

    await this.observe(work);
    await this.applyCancelAndTimeout(work);
    await this.schedule(work);
    this.complete(work);
    this.record(work);

    if (work.changed) a.dirty = true;
    if (a.dirty) status.progress = progress(status);
    const storeAt = a.storedAt + STATUS_STORE_MS;
    if (a.dirty && (status.phase !== a.storedPhase || Date.now() >= storeAt)) await this.store(a);
    if (isRunTerminal(status.phase)) {
      this.validated.delete(run.metadata.uid);
      return;
    }
    const delays = [
      hasRunningNode(status) ? SAFETY_REQUEUE_MS : Infinity,
      work.wakeAt !== undefined ? Math.max(0, work.wakeAt - work.now.getTime()) : Infinity,
      a.dirty ? Math.max(0, storeAt - Date.now()) : Infinity,
    ];
    const next = Math.min(...delays);
    return Number.isFinite(next) ? { requeueAfterMs: next } : undefined;
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  private async initialize(a: ActiveRun): Promise<ReconcileResult | void> {
    const run = a.meta;
    const project = run.metadata.project ?? "";
    const now = this.now().toISOString();
    const fail = async (reason: string, message: string) => {
      a.status = { ...a.status, phase: "Failed", reason, message, finishedAt: now, nodes: {} };
      a.dirty = true;
      await this.store(a);
    };
    let spec: PipelineSpec;
    let pipelineInfo: PipelineRunStatus["pipeline"];
    if (run.spec.pipelineRef) {
      const p = await this.d.repo.get({ kind: "Pipeline", project, name: run.spec.pipelineRef.name });
      if (!p) return fail("PipelineNotFound", `pipeline "${run.spec.pipelineRef.name}" does not exist in project "${project}"`);
      spec = p.spec as PipelineSpec;
      pipelineInfo = { name: p.metadata.name, generation: p.metadata.generation };
    } else if (run.spec.pipelineSpec) {
      spec = run.spec.pipelineSpec;
      pipelineInfo = {};
    } else return fail("InvalidSpec", "set exactly one of pipelineRef and pipelineSpec");

    let pipeline: ValidatedPipeline;
    let params: Record<string, unknown>;
    try {
      pipeline = validatePipeline(spec);
      params = resolveParams(pipeline, run.spec.params, { fieldPrefix: "spec.params" });
    } catch (e) {
      return fail(isForjaError(e) && e.details.some((d) => d.path.startsWith("spec.params")) ? "InvalidParams" : "InvalidPipeline", errorMessage(e));
    }
    const nodes: Record<string, NodeStatus> = {};
    for (const s of pipeline.steps) nodes[s.name] = { step: s.name, phase: "Pending" };
    for (const s of pipeline.finally) nodes[s.name] = { step: s.name, phase: "Pending", finally: true };
    const status: PipelineRunStatus = {
      phase: "Running",
      pipeline: pipelineInfo,
      resolvedSpec: spec,
      params,
      startedAt: now,
      observedRetry: run.spec.retry,
      nodes,
    };
    status.progress = progress(status);
    this.validated.set(run.metadata.uid, pipeline);
    a.status = status;
    a.dirty = true;
    await this.store(a);
    // Status-only writes do not wake this controller: come back at once to start the first steps.
    return { requeueAfterMs: 0 };
  }

  private resetForRetry(status: PipelineRunStatus, retry: number): void {
    const resettable = (p: string) => p === "Failed" || p === "Cancelled" || p === "Skipped";
    for (const n of Object.values(status.nodes)) {
      if (n.finally || resettable(n.phase)) {
        n.phase = "Pending";
        // A retried run gives its steps their retries again (as `argo retry`): count from here.
        n.retryBase = n.attempts?.length ?? 0;
        delete n.finishedAt;
        delete n.reason;
        delete n.message;
        delete n.nextAttemptAt;
        if (n.iterations !== undefined && n.index === undefined) n.phase = "Running";
      }
    }
    status.phase = "Running";
    status.observedRetry = retry;
    status.runningSince = this.now().toISOString();
    delete status.finishedAt;
    delete status.reason;
    delete status.message;
    delete status.cancelRequestedAt;
  }

  private async finalize(run: RunMeta): Promise<ReconcileResult | void> {
    const workloads = await this.d.runtime.list({ [RUN_LABELS.runUid]: run.metadata.uid });
    const active = workloads.filter((w) => !isWorkloadTerminal(w.phase));
    if (active.length) {
      await Promise.all(active.map((w) => this.d.runtime.cancel(w.id)));
      return { requeueAfterMs: 250 };
    }
    for (const w of workloads) await this.d.runtime.remove(w.id).catch(() => undefined);
    await this.d.executor.cleanup(run.metadata.uid);
    this.validated.delete(run.metadata.uid);
    const finalizers = (run.metadata.finalizers ?? []).filter((f) => f !== RUN_FINALIZER);
    await this.d.repo.update({ kind: "PipelineRun", project: run.metadata.project ?? "", name: run.metadata.name }, { finalizers });
  }

  // ---- one reconcile -----------------------------------------------------------------------

  /** Running attempts whose workloads ended: record the attempt, collect outputs, retry or settle. */
  private async observe(w: Work): Promise<void> {
    for (const id in w.status.nodes) {
      const node = w.status.nodes[id]!;
      if (node.phase !== "Running" || node.iterations !== undefined) continue;
      const attempt = node.attempts?.[node.attempts.length - 1];
      if (!attempt) continue;
      const ws = await this.d.runtime.get(attempt.workload);
      if (ws && !isWorkloadTerminal(ws.phase)) {
        if (ws.startedAt && !attempt.startedAt) {
          attempt.startedAt = ws.startedAt;
          w.changed = true;
        }
        continue;
      }
      await this.settleAttempt(w, id, node, attempt, ws);
    }
  }

  private async settleAttempt(w: Work, id: string, node: NodeStatus, attempt: Attempt, ws: WorkloadStatus | undefined): Promise<void> {
    const step = w.pipeline.byName[node.step];
    if (!step) return;
    w.changed = true;
    if (ws && lostBeforeStart(ws)) {
      // Nothing of it ran (it was still queued in the runtime when the server restarted): the
      // same attempt starts again, now, whatever the retry policy (the executor replaces the workload).
      node.attempts?.pop();
      if (!node.attempts?.length) delete node.attempts;
      node.phase = "Retrying";
      node.nextAttemptAt = w.now.toISOString();
      node.reason = ws.reason;
      node.message = `attempt ${attempt.n} never started (${ws.message ?? "lost"}); starting it again`;
      return;
    }
    attempt.finishedAt = ws?.finishedAt ?? w.now.toISOString();
    if (ws?.startedAt) attempt.startedAt = ws.startedAt;
    if (ws?.exitCode !== undefined) attempt.exitCode = ws.exitCode;
    attempt.reason = ws?.reason ?? "Lost";
    if (ws?.message) attempt.message = ws.message;
    if (!ws) attempt.message = "the workload is unknown to the runtime";

    if (ws?.phase === "Succeeded") {
      const collected = await this.d.executor.collect(w.id.uid, attempt.workload, step);
      if (collected.ok) {
        node.outputs = collected.outputs;
        this.settle(w, id, node, "Succeeded");
        if (node.cacheKey) {
          await this.d.cache.record(w.id.project, node.cacheKey, { outputs: collected.outputs, run: w.id.name, node: id });
        }
        return;
      }
      attempt.reason = collected.reason;
      attempt.message = collected.message;
    }
    if (ws?.phase === "Cancelled" || w.stopping || (w.run.spec.cancel && !node.finally)) {
      this.settle(w, id, node, "Cancelled", attempt.reason, attempt.message);
      return;
    }
    const attempts = (node.attempts?.length ?? 1) - (node.retryBase ?? 0);
    if (attempts <= step.retries.limit) {
      const delay = retryDelaySeconds(step.retries, attempts);
      node.phase = "Retrying";
      node.nextAttemptAt = new Date(w.now.getTime() + delay * 1000).toISOString();
      node.reason = attempt.reason;
      node.message = `attempt ${attempts} failed (${describeAttempt(attempt)}); retrying in ${delay}s`;
      this.wake(w, Date.parse(node.nextAttemptAt));
      return;
    }
    this.settle(w, id, node, "Failed", attempt.reason, describeAttempt(attempt));
  }

  private async applyCancelAndTimeout(w: Work): Promise<void> {
    const { status, run } = w;
    if (run.spec.cancel) {
      w.stopping = true;
      if (!status.cancelRequestedAt) {
        status.cancelRequestedAt = w.now.toISOString();
        w.changed = true;
      }
    }
    const timeout = run.spec.timeoutSeconds ?? w.pipeline.timeoutSeconds;
    const mainDone = w.pipeline.steps.every((s) => isNodeTerminal(status.nodes[s.name]?.phase ?? "Pending"));
    if (timeout !== undefined && !mainDone) {
      const since = Date.parse(status.runningSince ?? status.startedAt ?? w.now.toISOString());
      const deadline = since + timeout * 1000;
      if (w.now.getTime() >= deadline) {
        w.stopping = true;
        w.timedOut = true;
        w.changed ||= status.reason !== "RunTimeout";
        status.reason = "RunTimeout";
        status.message = `the run exceeded its timeout of ${timeout}s`;
      } else this.wake(w, deadline);
    }
    if (!w.stopping) return;
    for (const [id, node] of Object.entries(status.nodes)) {
      if (node.finally) continue;
      if (node.phase === "Running" && node.iterations === undefined) {
        const attempt = node.attempts?.[node.attempts.length - 1];
        if (attempt) await this.d.runtime.cancel(attempt.workload);
      } else if (node.phase === "Pending" || node.phase === "Retrying") {
        if (node.iterations === undefined) this.settle(w, id, node, "Cancelled", w.timedOut ? "RunTimeout" : "Cancelled", w.timedOut ? "the run timed out" : "the run was cancelled");
      }
    }
  }

  /** Starts whatever is ready, repeatedly, until nothing more can move in this reconcile. */
  private async schedule(w: Work): Promise<void> {
    for (let round = 0; round < 10_000; round++) {
      let moved = false;
      for (const step of w.pipeline.steps) moved = (await this.advance(w, step)) || moved;
      const mainDone = w.pipeline.steps.every((s) => isNodeTerminal(w.status.nodes[s.name]?.phase ?? "Pending"));
      if (mainDone) for (const step of w.pipeline.finally) moved = (await this.advance(w, step)) || moved;
      if (!moved) return;
    }
  }

  /** Moves one step (and its iterations) forward; true if anything changed. */
  private async advance(w: Work, step: ValidatedStep): Promise<boolean> {
    const node = w.status.nodes[step.name];
    if (!node || isNodeTerminal(node.phase)) return false;
    const isMain = step.phase === "main";

    if (!step.forEach) {
      if (node.phase === "Running") return false;
      if (node.phase === "Retrying") return this.retryIfDue(w, step, step.name, node);
      const gate = this.gate(w, step);
      if (gate === "wait") return false;
      if (gate !== "go") {
        this.settle(w, step.name, node, gate.phase, gate.reason, gate.message);
        return true;
      }
      if (isMain && w.stopping) {
        this.settle(w, step.name, node, "Cancelled", "Cancelled", "the run was cancelled");
        return true;
      }
      await this.startNode(w, step, step.name, node);
      return true;
    }

    // forEach: expand once, then run iterations within the parallelism limit.
    let moved = false;
    if (node.iterations === undefined) {
      const gate = this.gate(w, step);
      if (gate === "wait") return false;
      if (gate !== "go") {
        this.settle(w, step.name, node, gate.phase, gate.reason, gate.message);
        return true;
      }
      if (isMain && w.stopping) {
        this.settle(w, step.name, node, "Cancelled", "Cancelled", "the run was cancelled");
        return true;
      }
      let items;
      try {
        items = expandForEach(step, this.templateContext(w, step));
      } catch (e) {
        this.settle(w, step.name, node, "Failed", "InvalidInput", errorMessage(e));
        return true;
      }
      w.changed = true;
      node.iterations = items.length;
      node.phase = "Running";
      node.startedAt = w.now.toISOString();
      for (const it of items) w.status.nodes[it.nodeId] = { step: step.name, index: it.index, item: it.item, ...(step.phase === "finally" ? { finally: true } : {}), phase: "Pending" };
      moved = true;
    }
    // Every event of a fan-out comes through here: these passes over its iterations allocate nothing.
    const ids = iterationIds(step, node.iterations);
    const limit = step.forEach.parallelism ?? Infinity;
    let active = 0;
    for (const id of ids) {
      const p = w.status.nodes[id]?.phase;
      if (p === "Running" || p === "Retrying") active++;
    }
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const it = w.status.nodes[id];
      if (!it || isNodeTerminal(it.phase) || it.phase === "Running") continue;
      if (it.phase === "Retrying") {
        moved = (await this.retryIfDue(w, step, id, it, { index: i, item: it.item })) || moved;
        continue;
      }
      if (isMain && w.stopping) {
        this.settle(w, id, it, "Cancelled", "Cancelled", "the run was cancelled");
        moved = true;
        continue;
      }
      if (active >= limit) break;
      await this.startNode(w, step, id, it, { index: i, item: it.item });
      if (w.status.nodes[id]?.phase === "Running") active++;
      moved = true;
    }
    if (!ids.every((id) => isNodeTerminal(w.status.nodes[id]?.phase ?? "Pending"))) return moved;
    const agg = aggregatePhase(ids.map((id) => w.status.nodes[id]?.phase ?? "Pending"));
    if (isNodeTerminal(agg)) {
      const failed = ids.filter((id) => w.status.nodes[id]?.phase === "Failed");
      this.settle(w, step.name, node, agg as Outcome, agg === "Failed" ? "IterationFailed" : undefined, failed.length ? `${failed.length} of ${ids.length} iterations failed: ${failed.slice(0, 5).join(", ")}` : undefined, false);
      moved = true;
    }
    return moved;
  }

  /** Whether a step's dependencies allow it to run: wait, go, or a terminal verdict. */
  private gate(w: Work, step: ValidatedStep): "wait" | "go" | { phase: Outcome; reason: string; message: string } {
    const nodes = w.status.nodes;
    for (const dep of step.dependencies) if (!isNodeTerminal(nodes[dep]?.phase ?? "Pending")) return "wait";
    for (const dep of step.requiresSuccess) {
      const p = nodes[dep]?.phase;
      if (p !== "Succeeded") return { phase: "Skipped", reason: "DependencyNotSucceeded", message: `dependency "${dep}" ${p === "Skipped" ? "was skipped" : `ended ${p ?? "?"}`}` };
    }
    if (step.when) {
      try {
        if (!evaluateWhen(step.when.ast, this.templateContext(w, step), `${step.path}.when`)) {
          return { phase: "Skipped", reason: "ConditionFalse", message: `when: ${step.when.source} is false` };
        }
      } catch (e) {
        return { phase: "Failed", reason: "InvalidInput", message: errorMessage(e) };
      }
    }
    return "go";
  }

  private async retryIfDue(w: Work, step: ValidatedStep, id: string, node: NodeStatus, iteration?: { index: number; item: unknown }): Promise<boolean> {
    if (step.phase === "main" && w.stopping) {
      this.settle(w, id, node, "Cancelled", "Cancelled", "the run was cancelled");
      return true;
    }
    const due = Date.parse(node.nextAttemptAt ?? "");
    if (Number.isFinite(due) && due > w.now.getTime()) {
      this.wake(w, due);
      return false;
    }
    delete node.nextAttemptAt;
    await this.startNode(w, step, id, node, iteration);
    return true;
  }

  /** Resolve, consult the cache, and start the next attempt of a node. */
  private async startNode(w: Work, step: ValidatedStep, id: string, node: NodeStatus, iteration?: { index: number; item: unknown }): Promise<void> {
    w.changed = true;
    const n = (node.attempts?.length ?? 0) + 1;
    // The first attempt of this round (the run's first, or the first after a retry of the run).
    const first = n === (node.retryBase ?? 0) + 1;
    const wid = workloadId(w.id.uid, id, n);
    const dirs = this.d.executor.dirs(w.id.uid, wid);
    const ctx = this.templateContext(w, step);
    let resolved: ResolvedStep;
    try {
      resolved = resolveStep(step, { ...ctx, inputsDir: dirs.inputs, outputsDir: dirs.outputs }, iteration);
    } catch (e) {
      this.settle(w, id, node, "Failed", "InvalidInput", errorMessage(e));
      return;
    }
    // Finally steps (notifications, cleanup) are side effects: cached only when the step says cache: true.
    // The key is recorded even when this run does not read the cache, so later runs can.
    // (It replaces the per-attempt directories with placeholders, so it is stable across runs.)
    const cacheable = step.cache && (step.phase === "main" || step.spec.cache === true);
    if (cacheable && first) node.cacheKey = stepCacheKey(resolved);
    // A workload of this attempt may exist already (started before a crash, then not stored):
    // it is adopted below, never taken for a cache hit — it may have recorded that very entry.
    const existing = await this.d.runtime.get(wid);
    const started = existing !== undefined && !lostBeforeStart(existing);
    if (node.cacheKey && first && w.run.spec.cache && !started) {
      const hit = await this.d.cache.lookup(w.id.project, node.cacheKey);
      if (hit && (await this.d.executor.outputsExist(hit.outputs))) {
        node.outputs = hit.outputs;
        node.cachedFrom = { run: hit.run, node: hit.node };
        node.startedAt = w.now.toISOString();
        this.settle(w, id, node, "Succeeded", "CacheHit", `outputs reused from ${hit.run}/${hit.node}`, true);
        return;
      }
    }
    let secretValues: Record<string, string>;
    try {
      secretValues = await this.secretValues(w.id.project, resolved);
      const ws = await this.d.executor.start(w.id, resolved, wid, secretValues);
      node.attempts = [...(node.attempts ?? []), { n, workload: wid, ...(ws.startedAt ? { startedAt: ws.startedAt } : {}) }];
      node.phase = "Running";
      node.startedAt ??= w.now.toISOString();
      delete node.reason;
      delete node.message;
      if (isWorkloadTerminal(ws.phase)) {
        const attempt = node.attempts[node.attempts.length - 1]!;
        await this.settleAttempt(w, id, node, attempt, ws);
      }
    } catch (e) {
      this.settle(w, id, node, "Failed", "StartError", errorMessage(e));
    }
  }

  private async secretValues(project: string, step: ResolvedStep): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const [env, ref] of Object.entries(step.secretEnv)) {
      const value = await this.d.secrets?.(project, ref.secret, ref.key);
      if (value === undefined) throw new Error(`env ${env}: secret "${ref.secret}" has no key "${ref.key}" in project "${project}"`);
      out[env] = value;
    }
    return out;
  }

  /** When every node has ended: the run's outcome. */
  private complete(w: Work): void {
    const { status, pipeline } = w;
    const main = pipeline.steps.map((s) => status.nodes[s.name]).filter((n): n is NodeStatus => !!n);
    if (!main.every((n) => isNodeTerminal(n.phase))) return;
    const fin = pipeline.finally.map((s) => status.nodes[s.name]).filter((n): n is NodeStatus => !!n);
    if (!fin.every((n) => isNodeTerminal(n.phase))) return;
    const outcome = mainOutcome(main, w.run.spec.cancel, w.timedOut || status.reason === "RunTimeout");
    const phase: RunPhase = finalOutcome(outcome, fin);
    w.changed = true;
    status.phase = phase;
    status.finishedAt = w.now.toISOString();
    if (phase === "Failed" && status.reason !== "RunTimeout") {
      const failed = [...main, ...fin].filter((n) => n.phase === "Failed");
      const first = failed[0];
      status.reason = "StepFailed";
      status.message = first ? `step ${first.step} failed: ${first.message ?? first.reason ?? "error"}` : "a step failed";
    } else if (phase === "Cancelled") {
      status.reason = "Cancelled";
      status.message = "the run was cancelled";
    } else if (phase === "Succeeded") {
      delete status.reason;
      delete status.message;
    }
  }

  // ---- helpers -----------------------------------------------------------------------------

  private settle(w: Work, id: string, node: NodeStatus, phase: Outcome, reason?: string, message?: string, cached = false): void {
    w.changed = true;
    node.phase = phase;
    node.finishedAt = w.now.toISOString();
    delete node.nextAttemptAt;
    if (reason !== undefined) node.reason = reason;
    else delete node.reason;
    if (message !== undefined) node.message = message;
    else delete node.message;
    if (node.iterations === undefined) {
      const started = node.startedAt ? Date.parse(node.startedAt) : undefined;
      w.finishedNodes.push({ node: id, phase, cached, ...(started !== undefined ? { seconds: (w.now.getTime() - started) / 1000 } : {}) });
    }
  }

  private wake(w: Work, at: number): void {
    w.wakeAt = w.wakeAt === undefined ? at : Math.min(w.wakeAt, at);
  }

  /** What the templates of `step` can see: they reference no step outside its dependencies (validation). */
  private templateContext(w: Work, step: ValidatedStep): TemplateContext {
    const steps: Record<string, StepState> = {};
    for (const name of step.dependencies) {
      const s = w.pipeline.byName[name];
      const node = w.status.nodes[name];
      if (!s || !node) continue;
      const status = isNodeTerminal(node.phase) ? (node.phase as Outcome) : undefined;
      if (s.forEach && node.iterations !== undefined) {
        const iterations = Array.from({ length: node.iterations }, (_, i) => {
          const it = w.status.nodes[makeNodeId(s.name, i)];
          const st = it && isNodeTerminal(it.phase) ? (it.phase as Outcome) : undefined;
          return { ...(st ? { status: st } : {}), ...(it?.outputs ? { outputs: it.outputs as StepState["outputs"] & object } : {}) };
        });
        steps[s.name] = { ...(status ? { status } : {}), iterations };
      } else {
        steps[s.name] = { ...(status ? { status } : {}), ...(node.outputs ? { outputs: node.outputs as StepState["outputs"] & object } : {}) };
      }
    }
    const run: RunInfo = { id: w.id.uid, name: w.id.name, project: w.id.project };
    if (step.phase === "finally") {
      const main = w.pipeline.steps.map((s) => w.status.nodes[s.name]).filter((n): n is NodeStatus => !!n);
      const outcome = mainOutcome(main, w.run.spec.cancel, w.timedOut || w.status.reason === "RunTimeout");
      Object.assign(run, { status: outcome, failedSteps: main.filter((n) => n.phase === "Failed").map((n) => n.step) });
    }
    return { params: w.status.params ?? {}, run, steps };
  }

  private pipelineOf(uid: string, status: PipelineRunStatus): ValidatedPipeline {
    let p = this.validated.get(uid);
    if (!p) {
      p = validatePipeline(status.resolvedSpec);
      this.validated.set(uid, p);
      if (this.validated.size > 500) this.validated.delete(this.validated.keys().next().value as string);
    }
    return p;
  }

  /** Stores the status of `a` (optimistic concurrency on its metadata's version). */
  private async store(a: ActiveRun): Promise<void> {
    const { metadata } = a.meta;
    const ref = { kind: this.kind, project: metadata.project ?? "", name: metadata.name };
    let stored: Resource;
    try {
      stored = await this.d.repo.update(ref, { status: a.status }, metadata.resourceVersion);
    } catch (e) {
      // Someone changed the spec or metadata since we last saw them: read them again, then retry.
      if (e instanceof ConflictError) a.stale = true;
      throw e;
    }
    observeMeta(a, stored as RunResource);
    a.dirty = false;
    a.storedAt = Date.now();
    const ended = isRunTerminal(a.status.phase) && !isRunTerminal(a.storedPhase);
    a.storedPhase = a.status.phase;
    if (ended) this.runEnded(a);
  }

  private record(w: Work): void {
    const project = w.id.project;
    for (const f of w.finishedNodes) {
      this.m.steps.inc({ project, phase: f.phase, cached: String(f.cached) });
      if (!f.cached && f.seconds !== undefined && (f.phase === "Succeeded" || f.phase === "Failed")) this.m.stepSeconds.observe({ project, phase: f.phase }, f.seconds);
    }
  }

  /** The run's final phase was stored. */
  private runEnded(a: ActiveRun): void {
    const { metadata, spec } = a.meta;
    const status = a.status;
    const id: RunIdentity = { uid: metadata.uid, name: metadata.name, project: metadata.project ?? "" };
    const labels = { project: id.project, pipeline: status.pipeline?.name ?? spec.pipelineRef?.name ?? "", phase: status.phase };
    this.m.runs.inc(labels);
    const started = Date.parse(status.startedAt ?? "");
    if (Number.isFinite(started)) this.m.runSeconds.observe(labels, (this.now().getTime() - started) / 1000);
    this.d.logger.info({ run: `${id.project}/${id.name}`, phase: status.phase, reason: status.reason }, "pipeline run ended");
    this.d.onRunEnded?.(id).catch((e: unknown) => this.d.logger.warn({ run: `${id.project}/${id.name}`, err: errorMessage(e) }, "run-ended hook failed"));
  }
}

function activeKey(project: string, name: string): string {
  return `${project}/${name}`;
}

/** Takes the metadata and spec of `run` if it is newer than what `a` has. */
function observeMeta(a: ActiveRun, run: RunResource): void {
  if (Number(run.metadata.resourceVersion) > Number(a.meta.metadata.resourceVersion)) a.meta = { metadata: run.metadata, spec: run.spec };
}

function describeAttempt(a: Attempt): string {
  const parts: string[] = [];
  if (a.reason === "Error" && a.exitCode !== undefined) parts.push(`exit code ${a.exitCode}`);
  else if (a.reason) parts.push(a.reason === "Timeout" ? "timed out" : a.reason);
  if (a.message && !(a.reason === "Error" && /exit/i.test(a.message))) parts.push(a.message);
  return parts.join(": ") || "failed";
}

function progress(status: PipelineRunStatus): string {
  let leaves = 0;
  let done = 0;
  for (const id in status.nodes) {
    const n = status.nodes[id]!;
    if (n.iterations !== undefined) continue;
    leaves++;
    if (isNodeTerminal(n.phase)) done++;
  }
  return `${done}/${leaves}`;
}

function hasRunningNode(status: PipelineRunStatus): boolean {
  for (const id in status.nodes) if (status.nodes[id]!.phase === "Running") return true;
  return false;
}

/** Node ids of a forEach step's iterations, made once per step and count. */
const iterationIdCache = new WeakMap<ValidatedStep, string[]>();
function iterationIds(step: ValidatedStep, count: number): readonly string[] {
  let ids = iterationIdCache.get(step);
  if (ids?.length !== count) {
    ids = Array.from({ length: count }, (_, i) => makeNodeId(step.name, i));
    iterationIdCache.set(step, ids);
  }
  return ids;
}
