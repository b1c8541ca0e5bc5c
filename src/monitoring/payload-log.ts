/**
 * Payload logging: the serving data plane calls `record` (through ctx.hooks.inferenceServed)
 * after each successful request. It samples (spec.monitoring.sampleRate, then at most
 * spec.monitoring.maxRowsPerSecond rows per deployment and second), turns the request
 * into rows (one per input row: the inputs' values and the label) and pushes them into a
 * bounded in-memory buffer — nothing on the request path waits for the store. A timer flushes
 * the buffer in short write transactions and rotates each deployment's log to its maxRows
 * (oldest deleted).
 * A full buffer drops rows and counts them (forja_payload_log_dropped_rows_total).
 */
import type { Logger } from "pino";
import { Counter, Gauge, type Registry } from "prom-client";
import { errorMessage } from "../platform/errors.ts";
import type { InferenceEvent, TensorLike } from "../server/feature.ts";
import type { Database } from "../store/database.ts";

export interface MonitoringConfig {
  readonly enabled: boolean;
  readonly sampleRate: number;
  readonly maxRows: number;
  /**
   * Rows logged per second at most (per deployment; later requests of the second are sampled
   * out). Under heavy traffic a log rotated to maxRows would otherwise only ever hold the last
   * second or two, at the cost of a store write per request.
   */
  readonly maxRowsPerSecond: number;
}

export const DEFAULT_MONITORING: MonitoringConfig = { enabled: true, sampleRate: 1, maxRows: 10_000, maxRowsPerSecond: 1000 };

/** Rows a deployment logged in the current one-second window. */
interface Window {
  start: number;
  rows: number;
}

export interface PayloadLogOptions {
  /** Rows the buffer holds before it drops (default 10,000). */
  readonly bufferRows?: number;
  /** Flush period (default 200 ms: small, frequent writes keep each pause of the server thread short). */
  readonly flushMs?: number;
  /** Rows of one request that are logged at most (default 100; a bigger batch logs its first rows). */
  readonly maxRowsPerRequest?: number;
}

interface Entry {
  readonly project: string;
  readonly deployment: string;
  readonly version: number;
  readonly ts: number;
  readonly inputs: string;
  readonly prediction: string | null;
}

export interface PayloadStats {
  /** Rows dropped because the buffer was full (since the server started). */
  readonly dropped: number;
  /** Rows written to the store (since the server started). */
  readonly written: number;
  /** Rows waiting in the buffer. */
  readonly buffered: number;
}

const key = (project: string, deployment: string) => `${project}/${deployment}`;

/** Rows per write transaction (about a millisecond on SQLite). */
const WRITE_CHUNK_ROWS = 256;

function cell(v: unknown): number | string | boolean | null {
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (typeof v === "bigint") return Number(v);
  if (typeof v === "string" || typeof v === "boolean") return v;
  return null;
}

/** Row i of a tensor whose first dimension is the batch: its trailing values, flattened. */
function rowOf(t: TensorLike, width: number, i: number): (number | string | boolean | null)[] {
  const out = new Array<number | string | boolean | null>(width);
  const base = i * width;
  // float32 values as their 7 significant digits (6.66, not 6.659999847412109).
  const f32 = t.type === "float32";
  for (let j = 0; j < width; j++) {
    const v = cell(t.data[base + j]);
    out[j] = f32 && typeof v === "number" ? Number(v.toPrecision(7)) : v;
  }
  return out;
}

export class PayloadLog {
  private buffer: Entry[] = [];
  private readonly configs = new Map<string, MonitoringConfig>();
  private readonly windows = new Map<string, Window>();
  private readonly stats = new Map<string, { dropped: number; written: number }>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private readonly bufferRows: number;
  private readonly flushMs: number;
  private readonly maxRowsPerRequest: number;
  private readonly rowsTotal: Counter<"project" | "deployment">;
  private readonly droppedTotal: Counter<"project" | "deployment">;

  constructor(
    private readonly database: Database,
    metrics: Registry,
    private readonly logger: Logger,
    opts: PayloadLogOptions = {},
  ) {
    this.bufferRows = opts.bufferRows ?? 10_000;
    this.flushMs = opts.flushMs ?? 200;
    this.maxRowsPerRequest = opts.maxRowsPerRequest ?? 100;
    this.rowsTotal = new Counter({ name: "forja_payload_log_rows_total", help: "Inference rows written to the payload log", labelNames: ["project", "deployment"], registers: [metrics] });
    this.droppedTotal = new Counter({
      name: "forja_payload_log_dropped_rows_total",
      help: "Inference rows not logged because the payload-log buffer was full",
      labelNames: ["project", "deployment"],
      registers: [metrics],
    });
    const buffer = () => this.buffer.length;
    new Gauge({
      name: "forja_payload_log_buffered_rows",
      help: "Rows waiting in the payload-log buffer",
      registers: [metrics],
      collect() {
        this.set(buffer());
      },
    });
  }

  start(): void {
    this.timer ??= setInterval(() => void this.flush(), this.flushMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  setConfig(project: string, deployment: string, config: MonitoringConfig | undefined): void {
    if (config) this.configs.set(key(project, deployment), config);
    else this.configs.delete(key(project, deployment));
    this.windows.delete(key(project, deployment));
  }

  config(project: string, deployment: string): MonitoringConfig {
    return this.configs.get(key(project, deployment)) ?? DEFAULT_MONITORING;
  }

  statsOf(project: string, deployment: string): PayloadStats {
    const s = this.stats.get(key(project, deployment));
    const k = key(project, deployment);
    return { dropped: s?.dropped ?? 0, written: s?.written ?? 0, buffered: this.buffer.filter((e) => key(e.project, e.deployment) === k).length };
  }

  private statOf(project: string, deployment: string) {
    const k = key(project, deployment);
    let s = this.stats.get(k);
    if (!s) this.stats.set(k, (s = { dropped: 0, written: 0 }));
    return s;
  }

  /** The hook: cheap, synchronous, never throws. */
  record(e: InferenceEvent): void {
    try {
      const k = key(e.project, e.deployment);
      const cfg = this.configs.get(k) ?? DEFAULT_MONITORING;
      if (!cfg.enabled || cfg.sampleRate <= 0) return;
      if (cfg.sampleRate < 1 && Math.random() >= cfg.sampleRate) return;
      const ts = Date.now();
      let w = this.windows.get(k);
      if (!w) this.windows.set(k, (w = { start: ts, rows: 0 }));
      else if (ts - w.start >= 1000) [w.start, w.rows] = [ts, 0];
      if (w.rows >= cfg.maxRowsPerSecond) return;
      const names = Object.keys(e.inputs);
      const first = e.inputs[names[0] ?? ""];
      if (!first) return;
      const batch = first.dims.length > 0 ? (first.dims[0] ?? 1) : 1;
      const rows = Math.min(batch, this.maxRowsPerRequest, cfg.maxRowsPerSecond - w.rows);
      w.rows += rows;
      const free = this.bufferRows - this.buffer.length;
      if (free < rows) {
        const dropped = rows - Math.max(0, free);
        this.statOf(e.project, e.deployment).dropped += dropped;
        this.droppedTotal.inc({ project: e.project, deployment: e.deployment }, dropped);
        if (free <= 0) return;
      }
      const take = Math.min(rows, free);
      const widths = names.map((n) => {
        const t = e.inputs[n] as TensorLike;
        return t.dims.length <= 1 ? 1 : t.dims.slice(1).reduce((a, b) => a * b, 1);
      });
      // The label: the first output with one value per row.
      const label = Object.values(e.outputs).find((t) => t.dims.length === 1 && t.dims[0] === batch);
      for (let i = 0; i < take; i++) {
        const inputs: Record<string, unknown> = {};
        names.forEach((n, j) => {
          const t = e.inputs[n] as TensorLike;
          inputs[n] = t.dims.length === 0 ? [cell(t.data[0])] : rowOf(t, widths[j] ?? 1, i);
        });
        this.buffer.push({
          project: e.project,
          deployment: e.deployment,
          version: e.version,
          ts,
          inputs: JSON.stringify(inputs),
          prediction: label ? JSON.stringify(cell(label.data[i])) : null,
        });
      }
    } catch (err) {
      this.logger.warn({ err: errorMessage(err) }, "payload log: could not record a request");
    }
  }

  /** Writes the buffer to the store and rotates the deployments it touched. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing.then(() => (this.buffer.length ? this.flush() : undefined));
    if (this.buffer.length === 0) return Promise.resolve();
    const batch = this.buffer;
    this.buffer = [];
    this.flushing = this.write(batch)
      .catch((err: unknown) => this.logger.warn({ err: errorMessage(err), rows: batch.length }, "payload log: flush failed; rows discarded"))
      .finally(() => {
        this.flushing = undefined;
      });
    return this.flushing;
  }

  private async write(batch: Entry[]): Promise<void> {
    const touched = new Map<string, { project: string; deployment: string; rows: number }>();
    for (const e of batch) {
      const k = key(e.project, e.deployment);
      const t = touched.get(k);
      if (t) t.rows++;
      else touched.set(k, { project: e.project, deployment: e.deployment, rows: 1 });
    }
    // Short transactions, each followed by a turn of the event loop: on SQLite a write blocks the
    // server thread, and inference latency must not pay for a long one.
    for (let i = 0; i < batch.length; i += WRITE_CHUNK_ROWS) {
      await this.insert(batch.slice(i, i + WRITE_CHUNK_ROWS));
      if (i + WRITE_CHUNK_ROWS < batch.length) await new Promise<void>((r) => setImmediate(r));
    }
    for (const t of touched.values()) {
      this.statOf(t.project, t.deployment).written += t.rows;
      this.rowsTotal.inc({ project: t.project, deployment: t.deployment }, t.rows);
      await this.rotate(t.project, t.deployment);
    }
  }

  private async insert(rows: Entry[]): Promise<void> {
    const native = this.database.native;
    if (!native) {
      await this.database.db.insertInto("monitoring_payloads").values(rows).execute();
      return;
    }
    // SQLite: one prepared single-row INSERT run per row (cheaper than building a multi-row one).
    await native.transaction((st) => {
      const insert = st.prepare("INSERT INTO monitoring_payloads (project, deployment, version, ts, inputs, prediction) VALUES (?, ?, ?, ?, ?, ?)");
      for (const e of rows) insert.run(e.project, e.deployment, e.version, e.ts, e.inputs, e.prediction);
    });
  }

  /** Deletes the oldest rows beyond the deployment's maxRows. */
  async rotate(project: string, deployment: string): Promise<number> {
    const max = this.config(project, deployment).maxRows;
    const db = this.database.db;
    const cut = await db
      .selectFrom("monitoring_payloads")
      .select("id")
      .where("project", "=", project)
      .where("deployment", "=", deployment)
      .orderBy("id", "desc")
      .limit(1)
      .offset(max)
      .executeTakeFirst();
    if (!cut) return 0;
    const res = await db.deleteFrom("monitoring_payloads").where("project", "=", project).where("deployment", "=", deployment).where("id", "<=", cut.id).executeTakeFirst();
    return Number(res.numDeletedRows);
  }

  /**
   * Forgets a deleted deployment's log: its rows (buffered, being written, stored), its counts
   * and its series. A flush under way is waited for, so none of its rows outlive the purge.
   */
  async purge(project: string, deployment: string): Promise<void> {
    const k = key(project, deployment);
    this.configs.delete(k);
    this.windows.delete(k);
    this.buffer = this.buffer.filter((e) => e.project !== project || e.deployment !== deployment);
    await this.flushing;
    await this.database.db.deleteFrom("monitoring_payloads").where("project", "=", project).where("deployment", "=", deployment).execute();
    this.stats.delete(k);
    this.rowsTotal.remove({ project, deployment });
    this.droppedTotal.remove({ project, deployment });
  }
}
