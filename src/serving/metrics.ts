/** Prometheus metrics of the serving data plane (seconds, sub-millisecond buckets). */
import { Counter, Gauge, Histogram, type Metric, type Registry } from "prom-client";

export const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Counts kept as plain numbers on the request path and added to the metrics when they are read. */
export interface CountSource {
  flushCounts(): void;
}

export interface InFlight {
  readonly project: string;
  readonly deployment: string;
  readonly requests: number;
}

/**
 * The per-request series (request counts, in-flight requests) are not updated through prom-client
 * on every request: labelled updates hash their labels each time (~1 µs and ~1 KB of garbage per
 * request over three updates). They are kept as numbers by the engine and brought in when the
 * registry is read (`collect`), so /metrics shows the same series with the same values.
 */
export class ServingMetrics {
  readonly requests: Counter<"project" | "deployment" | "version" | "status">;
  readonly latency: LatencyHistogram;
  readonly inFlight: Gauge<"project" | "deployment">;
  readonly batchSize: Histogram<"project" | "deployment" | "version">;
  readonly loadSeconds: Histogram<"project" | "deployment" | "result">;
  readonly shadowRequests: Counter<"project" | "deployment" | "version" | "result">;
  readonly shadowLatency: Histogram<"project" | "deployment" | "version">;
  readonly ready: Gauge<"project" | "deployment">;
  private readonly sources = new Set<CountSource>();
  /** The engine's deployments and their requests in flight (set by the ServingEngine). */
  inFlightNow: () => Iterable<InFlight> = () => [];

  constructor(registry: Registry) {
    const registers = [registry];
    const sources = this.sources;
    this.requests = new Counter({
      name: "forja_inference_requests_total",
      help: "Inference requests by deployment, served version and HTTP status.",
      labelNames: ["project", "deployment", "version", "status"],
      registers,
      collect() {
        for (const s of sources) s.flushCounts();
      },
    });
    this.latency = new LatencyHistogram({
      name: "forja_inference_request_duration_seconds",
      help: "Inference latency from request body to response, by deployment and version.",
      labelNames: ["project", "deployment", "version"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    const inFlightNow = () => this.inFlightNow();
    this.inFlight = new Gauge({
      name: "forja_inference_in_flight_requests",
      help: "Inference requests being processed.",
      labelNames: ["project", "deployment"],
      registers,
      collect() {
        this.reset();
        for (const d of inFlightNow()) this.set({ project: d.project, deployment: d.deployment }, d.requests);
      },
    });
    this.batchSize = new Histogram({
      name: "forja_inference_batch_size",
      help: "Rows per model execution when adaptive batching is on.",
      labelNames: ["project", "deployment", "version"],
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
      registers,
    });
    this.loadSeconds = new Histogram({
      name: "forja_model_load_duration_seconds",
      help: "Time to fetch and load a model version (result: success or failure).",
      labelNames: ["project", "deployment", "result"],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.shadowRequests = new Counter({
      name: "forja_inference_shadow_requests_total",
      help: "Mirrored requests by shadow version and result (agree, disagree, error).",
      labelNames: ["project", "deployment", "version", "result"],
      registers,
    });
    this.shadowLatency = new Histogram({
      name: "forja_inference_shadow_duration_seconds",
      help: "Latency of the shadow version on mirrored requests.",
      labelNames: ["project", "deployment", "version"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.ready = new Gauge({
      name: "forja_deployment_ready",
      help: "1 when the deployment serves its desired versions.",
      labelNames: ["project", "deployment"],
      registers,
    });
  }

  /**
   * Drops every series of a deployment that is gone, so /metrics (and what Prometheus scrapes)
   * no longer shows it. Called once its versions are closed (their last counts flushed).
   */
  async forgetDeployment(project: string, deployment: string): Promise<void> {
    this.latency.forget(project, deployment);
    for (const metric of [this.requests, this.inFlight, this.batchSize, this.loadSeconds, this.shadowRequests, this.shadowLatency, this.ready] as const) {
      await removeSeriesOf(metric, project, deployment);
    }
  }

  /** Counts of `source` are flushed whenever the metrics are read, until `untrack`. */
  track(source: CountSource): void {
    this.sources.add(source);
  }

  /** Flushes what is left and stops tracking. */
  untrack(source: CountSource): void {
    source.flushCounts();
    this.sources.delete(source);
  }
}

/**
 * Removes the series of one deployment from a prom-client metric. prom-client removes one exact
 * label set at a time, so the metric's current series are listed first (a histogram's buckets
 * share their series' labels, plus `le`).
 */
async function removeSeriesOf(metric: Counter<string> | Gauge<string> | Histogram<string>, project: string, deployment: string): Promise<void> {
  const { values } = await metric.get();
  const done = new Set<string>();
  for (const { labels } of values) {
    if (labels["project"] !== project || labels["deployment"] !== deployment) continue;
    const { le: _bucket, ...series } = labels;
    const key = JSON.stringify(series);
    if (done.has(key)) continue;
    done.add(key);
    metric.remove(series as Record<string, string | number>);
  }
}

type LatencyLabels = { readonly project: string; readonly deployment: string; readonly version: string };

/** One label set of a LatencyHistogram: `observe` only counts (no allocation, no label hashing). */
export class LatencySeries {
  /** Observations per bucket (not cumulative); the last is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: LatencyLabels,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(seconds: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && seconds > (b[i] as number)) i++;
    (this.counts[i] as number)++;
    this.sum += seconds;
    this.count++;
  }
}

/**
 * The request-latency histogram, observed on every inference. prom-client's Histogram hashes
 * the labels of every observation (~0.7 µs and ~350 B of garbage per request, measured); this
 * one is observed through a series object kept by the loaded version, and gives the registry
 * the same series, in the same exposition format, when it is read (metrics.test.ts compares
 * the two).
 */
export class LatencyHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  readonly name: string;
  readonly help: string;
  private readonly bounds: readonly number[];
  private readonly series = new Map<string, LatencySeries>();

  /** prom-client's configuration shape; the label names are fixed. */
  constructor(o: { name: string; help: string; labelNames: readonly ["project", "deployment", "version"]; buckets: readonly number[]; registers: readonly Registry[] }) {
    this.name = o.name;
    this.help = o.help;
    this.bounds = o.buckets;
    for (const r of o.registers) r.registerMetric(this as unknown as Metric);
  }

  labels(labels: LatencyLabels): LatencySeries {
    const key = JSON.stringify([labels.project, labels.deployment, labels.version]);
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = new LatencySeries({ project: labels.project, deployment: labels.deployment, version: labels.version }, this.bounds)));
    return s;
  }

  get(): { name: string; help: string; type: "histogram"; aggregator: "sum"; values: { labels: Record<string, string | number>; sharedLabels: LatencyLabels; value: number; metricName: string }[] } {
    const values = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.series.values()) {
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += s.counts[i] as number;
        values.push({ labels: { le: this.bounds[i] as number }, sharedLabels: s.labels, value: acc, metricName: bucket });
      }
      values.push({ labels: { le: "+Inf" }, sharedLabels: s.labels, value: s.count, metricName: bucket });
      values.push({ labels: {}, sharedLabels: s.labels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: {}, sharedLabels: s.labels, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Drops the series of a deployment that is gone. */
  forget(project: string, deployment: string): void {
    for (const [key, s] of this.series) if (s.labels.project === project && s.labels.deployment === deployment) this.series.delete(key);
  }

  reset(): void {
    for (const s of this.series.values()) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}
