/**
 * A small typed tracking SDK for Node pipeline steps. Reads MLFLOW_TRACKING_URI,
 * MLFLOW_TRACKING_TOKEN, MLFLOW_RUN_ID (and MLFLOW_EXPERIMENT_ID) — the variables Forja sets
 * for every step — and speaks the MLflow REST API.
 *
 *   import { tracking } from "../src/sdk/index.ts";
 *   await tracking.logParams({ lr: 0.01 });
 *   await tracking.logMetrics({ loss: 0.3 }, { step: 1 });
 *   await tracking.logArtifact("model.onnx", "model/model.onnx");
 *   const v = await tracking.registerModelVersion("churn", "model");
 *   await tracking.setAlias("churn", "champion", v.version);
 *   // Drift monitoring: the training features, next to the model (see src/monitoring/README.md).
 *   await tracking.logReferenceData(trainRows, { features: ["age", "income"] });
 */
import { readFile } from "node:fs/promises";
import { basename } from "node:path";

export interface TrackingConfig {
  readonly uri: string;
  readonly token?: string;
  readonly runId: string;
  readonly experimentId?: string;
}

export class TrackingError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
  ) {
    super(message);
    this.name = "TrackingError";
  }
}

type Scalar = string | number | boolean;
type ReferenceValue = string | number | boolean | null;

/** `reference.json`: a model version's reference dataset for drift (src/monitoring). */
export const REFERENCE_FORMAT = "forja.reference/v1";
export interface ReferenceData {
  readonly format: typeof REFERENCE_FORMAT;
  /** Column names, in the order of the model input's last dimension. */
  readonly features: readonly string[];
  /** The model input the features feed (default: the first input). */
  readonly input?: string;
  readonly rows: readonly (readonly ReferenceValue[])[];
}

export class TrackingClient {
  constructor(readonly config: TrackingConfig) {}

  static fromEnv(env: NodeJS.ProcessEnv = process.env): TrackingClient {
    const uri = env.MLFLOW_TRACKING_URI;
    const runId = env.MLFLOW_RUN_ID;
    if (!uri || !runId) throw new Error("MLFLOW_TRACKING_URI and MLFLOW_RUN_ID must be set (Forja sets them for pipeline steps)");
    return new TrackingClient({ uri: uri.replace(/\/+$/, ""), runId, ...(env.MLFLOW_TRACKING_TOKEN ? { token: env.MLFLOW_TRACKING_TOKEN } : {}), ...(env.MLFLOW_EXPERIMENT_ID ? { experimentId: env.MLFLOW_EXPERIMENT_ID } : {}) });
  }

  private async call<T>(method: string, path: string, body?: unknown, raw?: { data: Uint8Array; contentType: string }): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.config.token) headers.authorization = `Bearer ${this.config.token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    if (raw) headers["content-type"] = raw.contentType;
    const res = await fetch(`${this.config.uri}/api/2.0/${path}`, { method, headers, body: raw ? raw.data : body !== undefined ? JSON.stringify(body) : null });
    const text = await res.text();
    if (!res.ok) {
      let code = "UNKNOWN";
      let message = text || res.statusText;
      try {
        const e = JSON.parse(text) as { error_code?: string; message?: string };
        code = e.error_code ?? code;
        message = e.message ?? message;
      } catch {
        /* not JSON */
      }
      throw new TrackingError(res.status, code, `${method} ${path}: ${res.status} ${code}: ${message}`);
    }
    return (text ? JSON.parse(text) : {}) as T;
  }

  async logParams(params: Record<string, Scalar>): Promise<void> {
    const list = Object.entries(params).map(([key, value]) => ({ key, value: String(value) }));
    for (let i = 0; i < list.length; i += 100) await this.call("POST", "mlflow/runs/log-batch", { run_id: this.config.runId, params: list.slice(i, i + 100) });
  }

  async logMetrics(metrics: Record<string, number>, opts: { step?: number; timestamp?: number } = {}): Promise<void> {
    const timestamp = opts.timestamp ?? Date.now();
    const list = Object.entries(metrics).map(([key, value]) => ({ key, value: Number.isNaN(value) ? "NaN" : value === Infinity ? "Infinity" : value === -Infinity ? "-Infinity" : value, timestamp, step: opts.step ?? 0 }));
    for (let i = 0; i < list.length; i += 1000) await this.call("POST", "mlflow/runs/log-batch", { run_id: this.config.runId, metrics: list.slice(i, i + 1000) });
  }

  async setTags(tags: Record<string, Scalar>): Promise<void> {
    const list = Object.entries(tags).map(([key, value]) => ({ key, value: String(value) }));
    for (let i = 0; i < list.length; i += 100) await this.call("POST", "mlflow/runs/log-batch", { run_id: this.config.runId, tags: list.slice(i, i + 100) });
  }

  /** Uploads a local file to the run's artifacts at `artifactPath` (default: its basename). */
  async logArtifact(localPath: string, artifactPath = basename(localPath)): Promise<void> {
    await this.logBytes(await readFile(localPath), artifactPath);
  }

  /** Uploads bytes to the run's artifacts at `artifactPath`. */
  async logBytes(data: Uint8Array, artifactPath: string): Promise<void> {
    const run = await this.call<{ run: { info: { artifact_uri: string } } }>("GET", `mlflow/runs/get?run_id=${encodeURIComponent(this.config.runId)}`);
    const root = run.run.info.artifact_uri.replace(/^mlflow-artifacts:\/+/, "");
    const path = `${root}/${artifactPath}`.split("/").map(encodeURIComponent).join("/");
    await this.call("PUT", `mlflow-artifacts/artifacts/${path}`, undefined, { data, contentType: "application/octet-stream" });
  }

  /**
   * Records the model's reference dataset (typically the training features) for drift
   * monitoring, as `<modelPath>/reference.json` beside the model: a version registered from
   * `runs:/<run>/<modelPath>` then carries its reference. `features` names the columns in the
   * order of the model's input tensor; rows are objects (keyed by feature) or arrays (in that
   * order). At most `maxRows` rows are kept (an even sample), default 5000.
   */
  async logReferenceData(
    rows: readonly (Readonly<Record<string, ReferenceValue>> | readonly ReferenceValue[])[],
    opts: { features: readonly string[]; modelPath?: string; input?: string; maxRows?: number },
  ): Promise<{ path: string; rows: number }> {
    const features = [...opts.features];
    if (features.length === 0) throw new Error("logReferenceData: features must name at least one column");
    const max = opts.maxRows ?? 5000;
    const n = Math.min(rows.length, max);
    const picked: ReferenceValue[][] = [];
    for (let i = 0; i < n; i++) {
      const r = rows[Math.floor((i * rows.length) / n)] as Readonly<Record<string, ReferenceValue>> | readonly ReferenceValue[];
      picked.push(Array.isArray(r) ? [...(r as readonly ReferenceValue[])] : features.map((f) => (r as Readonly<Record<string, ReferenceValue>>)[f] ?? null));
    }
    const doc: ReferenceData = { format: REFERENCE_FORMAT, features, ...(opts.input ? { input: opts.input } : {}), rows: picked };
    const path = `${(opts.modelPath ?? "model").replace(/\/+$/, "")}/reference.json`;
    await this.logBytes(new TextEncoder().encode(JSON.stringify(doc)), path);
    return { path, rows: picked.length };
  }

  /** The version an alias points at (with its tags), or undefined when the model or alias does not exist. */
  async getModelVersionByAlias(name: string, alias: string): Promise<{ version: string; run_id?: string; tags: Record<string, string> } | undefined> {
    try {
      const res = await this.call<{ model_version: { version: string; run_id?: string; tags?: { key: string; value: string }[] } }>(
        "GET",
        `mlflow/registered-models/alias?name=${encodeURIComponent(name)}&alias=${encodeURIComponent(alias)}`,
      );
      const mv = res.model_version;
      return { version: mv.version, ...(mv.run_id ? { run_id: mv.run_id } : {}), tags: Object.fromEntries((mv.tags ?? []).map((t) => [t.key, t.value])) };
    } catch (e) {
      if (e instanceof TrackingError && (e.status === 404 || e.errorCode === "RESOURCE_DOES_NOT_EXIST" || e.errorCode === "INVALID_PARAMETER_VALUE")) return undefined;
      throw e;
    }
  }

  /** Sets a tag on a model version. */
  async setModelVersionTag(name: string, version: string, key: string, value: string): Promise<void> {
    await this.call("POST", "mlflow/model-versions/set-tag", { name, version, key, value });
  }

  /** Registers the run's `artifactPath` as a new version of `name` (creating the model if needed). */
  async registerModelVersion(name: string, artifactPath: string, opts: { description?: string; tags?: Record<string, string> } = {}): Promise<{ name: string; version: string }> {
    try {
      await this.call("POST", "mlflow/registered-models/create", { name });
    } catch (e) {
      if (!(e instanceof TrackingError && (e.errorCode === "RESOURCE_ALREADY_EXISTS" || e.errorCode === "ALREADY_EXISTS"))) throw e;
    }
    const res = await this.call<{ model_version: { name: string; version: string } }>("POST", "mlflow/model-versions/create", {
      name,
      source: `runs:/${this.config.runId}/${artifactPath}`,
      run_id: this.config.runId,
      ...(opts.description ? { description: opts.description } : {}),
      ...(opts.tags ? { tags: Object.entries(opts.tags).map(([key, value]) => ({ key, value })) } : {}),
    });
    return { name: res.model_version.name, version: res.model_version.version };
  }

  async setAlias(name: string, alias: string, version: string): Promise<void> {
    await this.call("POST", "mlflow/registered-models/alias", { name, alias, version });
  }
}

/** The step's tracking client, built from the environment on first use. */
let fromEnv: TrackingClient | undefined;
const lazy = (): TrackingClient => (fromEnv ??= TrackingClient.fromEnv());
export const tracking = {
  logParams: (p: Record<string, Scalar>) => lazy().logParams(p),
  logMetrics: (m: Record<string, number>, o?: { step?: number; timestamp?: number }) => lazy().logMetrics(m, o),
  setTags: (t: Record<string, Scalar>) => lazy().setTags(t),
  logArtifact: (local: string, path?: string) => lazy().logArtifact(local, path),
  registerModelVersion: (name: string, path: string, o?: { description?: string; tags?: Record<string, string> }) => lazy().registerModelVersion(name, path, o),
  setAlias: (name: string, alias: string, version: string) => lazy().setAlias(name, alias, version),
  logReferenceData: (...a: Parameters<TrackingClient["logReferenceData"]>) => lazy().logReferenceData(...a),
  getModelVersionByAlias: (name: string, alias: string) => lazy().getModelVersionByAlias(name, alias),
  setModelVersionTag: (name: string, version: string, key: string, value: string) => lazy().setModelVersionTag(name, version, key, value),
};
