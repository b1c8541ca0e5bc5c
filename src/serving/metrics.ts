/** Prometheus metrics of the serving data plane (seconds, sub-millisecond buckets). */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

export const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class ServingMetrics {
  readonly requests: Counter<"project" | "deployment" | "version" | "status">;
  readonly latency: Histogram<"project" | "deployment" | "version">;
  readonly inFlight: Gauge<"project" | "deployment">;
  readonly batchSize: Histogram<"project" | "deployment" | "version">;
  readonly loadSeconds: Histogram<"project" | "deployment" | "result">;
  readonly shadowRequests: Counter<"project" | "deployment" | "version" | "result">;
  readonly shadowLatency: Histogram<"project" | "deployment" | "version">;
  readonly ready: Gauge<"project" | "deployment">;

  constructor(registry: Registry) {
    const registers = [registry];
    this.requests = new Counter({
      name: "forja_inference_requests_total",
      help: "Inference requests by deployment, served version and HTTP status.",
      labelNames: ["project", "deployment", "version", "status"],
      registers,
    });
    this.latency = new Histogram({
      name: "forja_inference_request_duration_seconds",
      help: "Inference latency from request body to response, by deployment and version.",
      labelNames: ["project", "deployment", "version"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.inFlight = new Gauge({
      name: "forja_inference_in_flight_requests",
      help: "Inference requests being processed.",
      labelNames: ["project", "deployment"],
      registers,
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
}
