/**
 * The controller engine. Each controller reconciles one kind: the manager feeds its work
 * queue from store change events, a full list at start and a periodic resync, runs a
 * bounded number of workers, retries failures with exponential backoff, and records
 * metrics and logs for every reconcile. Reconcile functions must be idempotent: all
 * state lives in the store, so after a crash the next reconcile simply carries on.
 */
import type { Logger } from "pino";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { errorMessage } from "../platform/errors.ts";
import { formatRef, type ResourceRef } from "../resources/model.ts";
import type { ResourceEvent, ResourceRepository } from "../resources/repository.ts";
import { WorkQueue } from "./workqueue.ts";

export interface ReconcileResult {
  /** Reconcile again after this delay even if nothing changes (polling external state, timers). */
  readonly requeueAfterMs?: number;
}

export interface Controller {
  readonly name: string;
  /** The kind this controller reconciles; its keys are refs of this kind. */
  readonly kind: string;
  /** Parallel reconciles (different keys). Default 1. */
  readonly workers?: number;
  /** Re-enqueue every resource of the kind this often. Default 300 s. */
  readonly resyncSeconds?: number;
  /**
   * Skip MODIFIED events that changed only status (like controller-runtime's
   * GenerationChangedPredicate): a controller that is the only writer of its kind's status
   * need not be woken by its own writes. Default false.
   */
  readonly ignoreStatusOnlyChanges?: boolean;
  /** Map changes of other kinds to keys of this controller (secondary watches). */
  readonly mapEvent?: (event: ResourceEvent) => ResourceRef[];
  reconcile(ref: ResourceRef, signal: AbortSignal): Promise<ReconcileResult | void>;
  /** Called once when the manager starts, before the initial list (e.g. to recover external state). */
  start?(enqueue: (ref: ResourceRef) => void): Promise<void>;
  stop?(): Promise<void>;
}

const keyOf = (ref: ResourceRef) => `${ref.kind}\u0000${ref.project}\u0000${ref.name}`;
function refOfKey(key: string): ResourceRef {
  const [kind = "", project = "", name = ""] = key.split("\u0000");
  return { kind, project, name };
}

interface Running {
  readonly controller: Controller;
  readonly queue: WorkQueue;
  readonly workers: Promise<void>[];
  resync?: NodeJS.Timeout;
}

export class ControllerManager {
  private readonly controllers: Controller[] = [];
  private readonly running = new Map<string, Running>();
  private unsubscribe: (() => void) | undefined;
  private readonly abort = new AbortController();
  private started = false;
  private readonly metrics;

  constructor(
    private readonly repo: ResourceRepository,
    private readonly log: Logger,
    registry: Registry,
  ) {
    this.metrics = {
      reconciles: new Counter({
        name: "forja_controller_reconcile_total",
        help: "Reconciles by controller and result (success, error, requeue).",
        labelNames: ["controller", "result"],
        registers: [registry],
      }),
      duration: new Histogram({
        name: "forja_controller_reconcile_duration_seconds",
        help: "Time spent in one reconcile.",
        labelNames: ["controller"],
        buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers: [registry],
      }),
      depth: new Gauge({
        name: "forja_controller_queue_depth",
        help: "Keys waiting in the controller's work queue.",
        labelNames: ["controller"],
        registers: [registry],
        collect: () => {
          for (const [name, r] of this.running) this.metrics.depth.set({ controller: name }, r.queue.length);
        },
      }),
    };
  }

  register(controller: Controller): void {
    if (this.started) throw new Error("register controllers before start()");
    if (this.controllers.some((c) => c.name === controller.name)) throw new Error(`controller ${controller.name} registered twice`);
    this.controllers.push(controller);
  }

  get isRunning(): boolean {
    return this.started && !this.abort.signal.aborted;
  }

  /** Enqueue a key for the controller(s) of its kind, e.g. from an external event source. */
  enqueue(ref: ResourceRef, afterMs = 0): void {
    for (const r of this.running.values()) {
      if (r.controller.kind === ref.kind) r.queue.addAfter(keyOf(ref), afterMs);
    }
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.unsubscribe = this.repo.watch((e) => this.onEvent(e));
    for (const c of this.controllers) {
      const queue = new WorkQueue({ baseMs: 50, maxMs: 60_000 });
      const r: Running = { controller: c, queue, workers: [] };
      this.running.set(c.name, r);
      await c.start?.((ref) => queue.add(keyOf(ref)));
      await this.enqueueAll(r);
      const resyncMs = (c.resyncSeconds ?? 300) * 1000;
      r.resync = setInterval(() => {
        this.enqueueAll(r).catch((e: unknown) => this.log.warn({ controller: c.name, err: errorMessage(e) }, "resync failed"));
      }, resyncMs);
      r.resync.unref();
      for (let i = 0; i < (c.workers ?? 1); i++) r.workers.push(this.work(r));
    }
    this.log.info({ controllers: this.controllers.map((c) => c.name) }, "controllers started");
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.unsubscribe?.();
    this.abort.abort();
    for (const r of this.running.values()) {
      if (r.resync) clearInterval(r.resync);
      r.queue.shutdown();
    }
    await Promise.all([...this.running.values()].flatMap((r) => r.workers));
    for (const c of this.controllers) await c.stop?.();
  }

  private onEvent(e: ResourceEvent): void {
    const ref: ResourceRef = { kind: e.resource.kind, project: e.resource.metadata.project ?? "", name: e.resource.metadata.name };
    for (const r of this.running.values()) {
      if (r.controller.kind === ref.kind && !(e.statusOnly && r.controller.ignoreStatusOnlyChanges)) r.queue.add(keyOf(ref));
      for (const mapped of r.controller.mapEvent?.(e) ?? []) r.queue.add(keyOf(mapped));
    }
  }

  private async enqueueAll(r: Running): Promise<void> {
    const all = await this.repo.listAll({ kind: r.controller.kind });
    for (const res of all) r.queue.add(keyOf({ kind: res.kind, project: res.metadata.project ?? "", name: res.metadata.name }));
  }

  private async work(r: Running): Promise<void> {
    const { controller, queue } = r;
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      const ref = refOfKey(key);
      const end = this.metrics.duration.startTimer({ controller: controller.name });
      try {
        const result = await controller.reconcile(ref, this.abort.signal);
        queue.forget(key);
        if (result?.requeueAfterMs !== undefined) {
          queue.addAfter(key, result.requeueAfterMs);
          this.metrics.reconciles.inc({ controller: controller.name, result: "requeue" });
        } else this.metrics.reconciles.inc({ controller: controller.name, result: "success" });
      } catch (e) {
        this.metrics.reconciles.inc({ controller: controller.name, result: "error" });
        if (this.abort.signal.aborted) {
          queue.done(key);
          return;
        }
        const delay = queue.addRateLimited(key);
        this.log.warn(
          { controller: controller.name, resource: formatRef(ref), err: errorMessage(e), retryInMs: delay, attempt: queue.retries(key) },
          "reconcile failed; will retry",
        );
      } finally {
        end();
        queue.done(key);
      }
    }
  }
}
