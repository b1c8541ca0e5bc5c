/**
 * The in-memory side of serving: loaded model versions, each deployment's routing table
 * (primary, canary split, shadow), adaptive batching and per-credential token buckets. The
 * controller (controller.ts) builds it from the store; the data plane (infer.ts) only reads it.
 * A switch replaces the routing table in one assignment, after the new version is loaded, so
 * requests never see a half-switched deployment; old versions close once their in-flight
 * requests are done.
 */
import type * as ort from "onnxruntime-node";
import type { Counter } from "prom-client";
import { concat0, InputPlan, slice0, tensorMetaOf, type TensorMeta } from "./tensors.ts";
import type { CountSource, LatencySeries, ServingMetrics } from "./metrics.ts";
import type { Feeds, ModelRunner, Outputs } from "./runner.ts";

export interface BatchingOptions {
  readonly maxBatchSize: number;
  readonly maxDelayMs: number;
}

interface Pending {
  readonly feeds: Feeds;
  readonly rows: number;
  readonly resolve: (o: Outputs) => void;
  readonly reject: (e: unknown) => void;
}

/**
 * Merges concurrent requests along dimension 0 (up to maxBatchSize rows or maxDelayMs).
 * maxDelayMs 0 never waits: it merges the requests that arrived in the same turn of the event
 * loop (a burst of requests read from the sockets together) and runs them right after it.
 */
class Batcher {
  private queue: Pending[] = [];
  private rows = 0;
  /** Cancels the scheduled flush, when one is scheduled. */
  private cancelFlush: (() => void) | undefined;

  constructor(
    private readonly runner: ModelRunner,
    private readonly opts: BatchingOptions,
    private readonly firstInput: string,
    private readonly observe: (rows: number) => void,
  ) {}

  submit(feeds: Feeds): Promise<Outputs> {
    const rows = feeds[this.firstInput]?.dims[0] ?? 1;
    if (rows >= this.opts.maxBatchSize) {
      this.observe(rows);
      return this.runner.run(feeds);
    }
    // maxBatchSize bounds every run: a request that would overflow the waiting batch runs it first.
    if (this.queue.length && this.rows + rows > this.opts.maxBatchSize) this.flush();
    return new Promise<Outputs>((resolve, reject) => {
      this.queue.push({ feeds, rows, resolve, reject });
      this.rows += rows;
      if (this.rows >= this.opts.maxBatchSize) this.flush();
      else this.cancelFlush ??= this.schedule();
    });
  }

  private schedule(): () => void {
    if (this.opts.maxDelayMs > 0) {
      const t = setTimeout(() => this.flush(), this.opts.maxDelayMs);
      return () => clearTimeout(t);
    }
    const i = setImmediate(() => this.flush());
    return () => clearImmediate(i);
  }

  private flush(): void {
    this.cancelFlush?.();
    this.cancelFlush = undefined;
    const batch = this.queue;
    this.queue = [];
    this.rows = 0;
    // Groups of requests with equal trailing dimensions run together.
    const groups = new Map<string, Pending[]>();
    for (const p of batch) {
      const key = Object.entries(p.feeds)
        .map(([n, t]) => `${n}:${t.dims.slice(1).join("x")}`)
        .join(";");
      const g = groups.get(key);
      if (g) g.push(p);
      else groups.set(key, [p]);
    }
    for (const g of groups.values()) void this.runGroup(g);
  }

  private async runGroup(group: Pending[]): Promise<void> {
    try {
      if (group.length === 1) {
        const only = group[0] as Pending;
        this.observe(only.rows);
        only.resolve(await this.runner.run(only.feeds));
        return;
      }
      const feeds: Feeds = {};
      for (const name of Object.keys((group[0] as Pending).feeds)) feeds[name] = concat0(group.map((p) => p.feeds[name] as ort.Tensor));
      const total = group.reduce((s, p) => s + p.rows, 0);
      this.observe(total);
      const out = await this.runner.run(feeds);
      let at = 0;
      for (const p of group) {
        const mine: Outputs = {};
        for (const [name, t] of Object.entries(out)) mine[name] = t.dims[0] === total ? slice0(t, at, p.rows) : t;
        at += p.rows;
        p.resolve(mine);
      }
    } catch (e) {
      for (const p of group) p.reject(e);
    }
  }

  close(): void {
    if (this.queue.length) this.flush();
  }
}

/** One model version, loaded and ready to run. */
export class LoadedVersion implements CountSource {
  readonly inputs: readonly InputPlan[];
  readonly inputsByName: ReadonlyMap<string, InputPlan>;
  readonly outputs: readonly TensorMeta[];
  readonly outputNames: ReadonlySet<string>;
  readonly versionLabel: string;
  /** Every input and output has a variable first dimension. */
  readonly batchable: boolean;
  inFlight = 0;
  /**
   * Runs the model on the calling thread and returns its outputs, when this version can (an
   * inline runner without batching); the data plane then answers in the turn that read the request.
   */
  readonly runSync: ((feeds: Feeds) => Outputs) | undefined;
  private batcher: Batcher | undefined;
  /** Per HTTP status: answers not yet added to the counter, and the counter's series. */
  private readonly counts = new Map<number, { pending: number; readonly series: Counter.Internal }>();
  readonly latency: LatencySeries;

  constructor(
    readonly project: string,
    readonly deployment: string,
    readonly version: number,
    readonly digest: string,
    readonly runner: ModelRunner,
    readonly loadSeconds: number,
    private readonly metrics: ServingMetrics,
    batching: BatchingOptions | undefined,
    /** Runtime and batching settings it was loaded with (a change reloads). */
    readonly configKey = "",
  ) {
    this.inputs = runner.inputs.map((m) => new InputPlan(tensorMetaOf(m)));
    this.inputsByName = new Map(this.inputs.map((p) => [p.meta.name, p]));
    this.outputs = runner.outputs.map(tensorMetaOf);
    this.outputNames = new Set(this.outputs.map((o) => o.name));
    this.versionLabel = String(version);
    this.batchable = this.inputs.every((p) => p.batchable) && this.outputs.every((o) => o.shape[0] === -1);
    this.latency = metrics.latency.labels({ project, deployment, version: this.versionLabel });
    if (batching && this.batchable) {
      const size = metrics.batchSize.labels({ project, deployment, version: this.versionLabel });
      this.batcher = new Batcher(runner, batching, this.inputs[0]?.meta.name ?? "", (rows) => size.observe(rows));
    }
    this.runSync = this.batcher ? undefined : runner.runSync;
    metrics.track(this);
  }

  get batching(): boolean {
    return this.batcher !== undefined;
  }

  /** Counts a request's answer (forja_inference_requests_total, brought in when metrics are read). */
  count(status: number): void {
    let c = this.counts.get(status);
    if (!c) {
      c = { pending: 0, series: this.metrics.requests.labels({ project: this.project, deployment: this.deployment, version: this.versionLabel, status: String(status) }) };
      this.counts.set(status, c);
    }
    c.pending++;
  }

  flushCounts(): void {
    for (const c of this.counts.values()) {
      if (c.pending === 0) continue;
      c.series.inc(c.pending);
      c.pending = 0;
    }
  }

  run(feeds: Feeds): Promise<Outputs> {
    return this.batcher ? this.batcher.submit(feeds) : this.runner.run(feeds);
  }

  /** Waits (bounded) for in-flight requests, then frees the session(s). */
  async close(drainMs = 30_000): Promise<void> {
    this.batcher?.close();
    const until = Date.now() + drainMs;
    while (this.inFlight > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    this.metrics.untrack(this);
    await this.runner.close();
  }
}

export interface RouteEntry {
  /** Cumulative percent upper bound (exclusive) for this entry. */
  readonly upTo: number;
  readonly v: LoadedVersion;
}

export interface RouteTable {
  readonly primary: LoadedVersion;
  readonly entries: readonly RouteEntry[];
  readonly shadow?: { readonly v: LoadedVersion; readonly percent: number };
  /** Versions addressable by `/versions/{v}`. */
  readonly served: ReadonlyMap<number, LoadedVersion>;
}

export interface ShadowStats {
  version: number;
  requests: number;
  disagreements: number;
  errors: number;
  latencySeconds: number;
}

interface Bucket {
  tokens: number;
  last: number;
}

/** A deployment as the data plane sees it. */
export class LiveDeployment {
  route: RouteTable | undefined;
  readonly versions = new Map<number, LoadedVersion>();
  rateLimit: { readonly rps: number; readonly burst: number } | undefined;
  private buckets = new Map<string, Bucket>();
  shadowStats: ShadowStats | undefined;
  /** Requests of callers being processed (forja_inference_in_flight_requests). */
  inFlight = 0;

  constructor(
    readonly project: string,
    readonly name: string,
    readonly metrics: ServingMetrics,
  ) {}

  /** Weighted choice among the route's entries. */
  pick(): LoadedVersion | undefined {
    const r = this.route;
    if (!r) return undefined;
    if (r.entries.length === 1) return r.primary;
    const x = Math.random() * 100;
    for (const e of r.entries) if (x < e.upTo) return e.v;
    return r.primary;
  }

  /** Token bucket per credential: 0 when a token was taken, else the whole seconds until one is there (Retry-After). */
  take(credential: string): number {
    const limit = this.rateLimit;
    if (!limit) return 0;
    const now = performance.now();
    let b = this.buckets.get(credential);
    if (!b) {
      if (this.buckets.size > 10_000) this.buckets = new Map();
      b = { tokens: limit.burst, last: now };
      this.buckets.set(credential, b);
    }
    b.tokens = Math.min(limit.burst, b.tokens + ((now - b.last) / 1000) * limit.rps);
    b.last = now;
    if (b.tokens < 1) return Math.max(1, Math.ceil((1 - b.tokens) / limit.rps));
    b.tokens -= 1;
    return 0;
  }

  setRateLimit(rl: { requestsPerSecond: number; burst?: number | undefined } | undefined): void {
    const next = rl ? { rps: rl.requestsPerSecond, burst: rl.burst ?? Math.max(1, Math.ceil(rl.requestsPerSecond)) } : undefined;
    if (next?.rps !== this.rateLimit?.rps || next?.burst !== this.rateLimit?.burst) this.buckets = new Map();
    this.rateLimit = next;
  }

  /** Mirrors a request to the shadow version; never affects the caller. */
  mirror(feeds: Feeds, primary: Outputs): void {
    const s = this.route?.shadow;
    if (!s || (s.percent < 100 && Math.random() * 100 >= s.percent)) return;
    const v = s.v;
    const stats = this.shadowStats?.version === v.version ? this.shadowStats : (this.shadowStats = { version: v.version, requests: 0, disagreements: 0, errors: 0, latencySeconds: 0 });
    const labels = { project: this.project, deployment: this.name, version: v.versionLabel };
    v.inFlight++;
    // After the caller's answer: an inline shadow runs on this thread, and neither the caller nor
    // the primary's latency may wait for it (the turn writes its answers before this runs).
    setImmediate(() => this.runShadow(v, feeds, primary, stats, labels));
  }

  private runShadow(v: LoadedVersion, feeds: Feeds, primary: Outputs, stats: ShadowStats, labels: { project: string; deployment: string; version: string }): void {
    const t0 = performance.now();
    let running: Promise<Outputs>;
    try {
      running = v.run(feeds);
    } catch (e) {
      running = Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    running.then(
      (out) => {
        const secs = (performance.now() - t0) / 1000;
        const agree = sameOutputs(primary, out);
        stats.requests++;
        stats.latencySeconds += secs;
        if (!agree) stats.disagreements++;
        this.metrics.shadowLatency.observe(labels, secs);
        this.metrics.shadowRequests.inc({ ...labels, result: agree ? "agree" : "disagree" });
      },
      () => {
        stats.requests++;
        stats.errors++;
        this.metrics.shadowRequests.inc({ ...labels, result: "error" });
      },
    ).finally(() => v.inFlight--);
  }
}

/** Outputs present in both agree: integers and strings exactly, floats within 1e-4 (relative) — a changed label is a disagreement. */
export function sameOutputs(a: Outputs, b: Outputs): boolean {
  for (const [name, ta] of Object.entries(a)) {
    const tb = b[name];
    if (!tb) continue;
    if (ta.size !== tb.size || ta.type !== tb.type) return false;
    const da = ta.data as ArrayLike<number | bigint | string>;
    const db = tb.data as ArrayLike<number | bigint | string>;
    const float = ta.type === "float32" || ta.type === "float64";
    for (let i = 0; i < da.length; i++) {
      const x = da[i];
      const y = db[i];
      if (float) {
        const fx = x as number;
        const fy = y as number;
        if (Math.abs(fx - fy) > 1e-4 * Math.max(1, Math.abs(fx), Math.abs(fy))) return false;
      } else if (x !== y) return false;
    }
  }
  return true;
}

export class ServingEngine {
  private readonly deployments = new Map<string, LiveDeployment>();
  constructor(readonly metrics: ServingMetrics) {
    const deployments = this.deployments;
    metrics.inFlightNow = function* () {
      for (const d of deployments.values()) yield { project: d.project, deployment: d.name, requests: d.inFlight };
    };
  }

  get(project: string, name: string): LiveDeployment | undefined {
    return this.deployments.get(`${project}/${name}`);
  }

  ensure(project: string, name: string): LiveDeployment {
    const key = `${project}/${name}`;
    let d = this.deployments.get(key);
    if (!d) {
      d = new LiveDeployment(project, name, this.metrics);
      this.deployments.set(key, d);
    }
    return d;
  }

  inProject(project: string): LiveDeployment[] {
    return [...this.deployments.values()].filter((d) => d.project === project);
  }

  async remove(project: string, name: string): Promise<void> {
    const key = `${project}/${name}`;
    const d = this.deployments.get(key);
    if (!d) return;
    this.deployments.delete(key);
    d.route = undefined;
    this.metrics.ready.remove({ project, deployment: name });
    await Promise.all([...d.versions.values()].map((v) => v.close()));
    d.versions.clear();
    // A deployment created again under this name meanwhile keeps its series.
    if (!this.deployments.has(key)) await this.metrics.forgetDeployment(project, name);
  }

  async close(): Promise<void> {
    for (const d of [...this.deployments.values()]) await this.remove(d.project, d.name);
  }
}
