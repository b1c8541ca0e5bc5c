/**
 * Drift of a deployment: the payload log (a time window of the served version's rows) against
 * the version's reference dataset, per feature with Evidently's defaults (./drift), dataset
 * drift when ≥ 50 % of the features drift. Results also feed the Prometheus gauges
 * forja_feature_drift_score / forja_dataset_drift (refreshed periodically, bounded rows).
 */
import { Gauge, type Registry } from "prom-client";
import { InvalidInputError, NotFoundError } from "../platform/errors.ts";
import type { ResourceRepository } from "../resources/repository.ts";
import type { DeploymentSpec, DeploymentStatus } from "../serving/kinds.ts";
import type { Database } from "../store/database.ts";
import { datasetDrift, type DriftMethod, type DriftRow } from "./drift/index.ts";
import type { PayloadLog, PayloadStats } from "./payload-log.ts";
import type { ReferenceStore } from "./reference.ts";

/** Rows of the payload log compared at most (the newest). */
export const DRIFT_MAX_ROWS = 20_000;
export const DEFAULT_WINDOW = "24h";

export type DriftStatus = "Drift" | "NoDrift" | "NoData" | "NoReference";

export interface FeatureDrift {
  readonly feature: string;
  readonly type: string;
  readonly method: DriftMethod;
  readonly score: number;
  readonly statistic: number;
  readonly pValue?: number;
  readonly threshold: number;
  readonly drifted: boolean;
  readonly referenceCount: number;
  readonly currentCount: number;
}

export interface DriftReport {
  readonly project: string;
  readonly deployment: string;
  readonly model: string;
  readonly version: number | null;
  readonly status: DriftStatus;
  readonly message: string;
  readonly window: { readonly spec: string; readonly from: string; readonly to: string; readonly rows: number };
  readonly reference: { readonly path: string; readonly rows: number } | null;
  /** null unless status is Drift or NoDrift. */
  readonly datasetDrift: boolean | null;
  readonly driftedFeatures: number;
  readonly featureCount: number;
  readonly driftedShare: number;
  readonly shareThreshold: number;
  readonly features: readonly FeatureDrift[];
  /** Features left out of the comparison: no value in the reference or in the window. */
  readonly unmeasuredFeatures: readonly string[];
  /** Label counts in the window. */
  readonly predictions: Readonly<Record<string, number>>;
  readonly payloadLog: PayloadStats;
  readonly computedAt: string;
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "30s", "15m", "1h", "7d" (or plain seconds) → ms. */
export function parseWindow(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([smhd]?)$/u.exec(text.trim());
  const ms = m ? Number(m[1]) * (UNITS[m[2] || "s"] ?? 1000) : NaN;
  if (!(ms > 0) || ms > 366 * UNITS.d!) throw InvalidInputError.field("window", `"${text}" is not a duration like 30s, 15m, 1h or 7d (at most 366d)`);
  return ms;
}

export class DriftService {
  private readonly featureScore: Gauge<"project" | "deployment" | "version" | "feature" | "method">;
  private readonly datasetGauge: Gauge<"project" | "deployment" | "version">;
  private readonly shareGauge: Gauge<"project" | "deployment" | "version">;
  /** Gauge label sets per deployment, removed when replaced. */
  private readonly published = new Map<string, { version: string; features: { feature: string; method: string }[] }>();

  constructor(
    private readonly deps: { database: Database; repo: ResourceRepository; references: ReferenceStore; payloads: PayloadLog },
    metrics: Registry,
  ) {
    this.featureScore = new Gauge({
      name: "forja_feature_drift_score",
      help: "Drift score per feature of a deployment's payload log vs the version's reference (p-value for ks/chisquare/z, distance otherwise)",
      labelNames: ["project", "deployment", "version", "feature", "method"],
      registers: [metrics],
    });
    this.datasetGauge = new Gauge({
      name: "forja_dataset_drift",
      help: "1 when at least half of a deployment's features drift (dataset drift), else 0",
      labelNames: ["project", "deployment", "version"],
      registers: [metrics],
    });
    this.shareGauge = new Gauge({ name: "forja_dataset_drift_share", help: "Share of a deployment's features that drift", labelNames: ["project", "deployment", "version"], registers: [metrics] });
  }

  async report(project: string, deployment: string, opts: { window?: string; since?: number; version?: number } = {}): Promise<DriftReport> {
    if (opts.since !== undefined && !(Number.isFinite(opts.since) && opts.since >= 0)) throw InvalidInputError.field("since", "must be a time (ms since the epoch or ISO 8601)");
    const windowSpec = opts.since !== undefined ? `since ${new Date(opts.since).toISOString()}` : (opts.window ?? DEFAULT_WINDOW);
    const windowMs = opts.since !== undefined ? 0 : parseWindow(windowSpec);
    const res = await this.deps.repo.get({ kind: "Deployment", project, name: deployment });
    if (!res) throw new NotFoundError(`deployment "${deployment}" not found in project "${project}"`);
    const spec = res.spec as DeploymentSpec;
    const status = res.status as DeploymentStatus;
    await this.deps.payloads.flush();

    const db = this.deps.database.db;
    const to = Date.now();
    const from = opts.since ?? to - windowMs;
    let version = opts.version ?? status.serving?.find((s) => s.role === "primary")?.version;
    if (version === undefined) {
      const last = await db.selectFrom("monitoring_payloads").select("version").where("project", "=", project).where("deployment", "=", deployment).orderBy("id", "desc").limit(1).executeTakeFirst();
      version = last ? Number(last.version) : undefined;
    }
    const base = {
      project,
      deployment,
      model: spec.model.name,
      version: version ?? null,
      payloadLog: this.deps.payloads.statsOf(project, deployment),
      computedAt: new Date(to).toISOString(),
    };
    const empty = (st: DriftStatus, message: string, rows: number, reference: DriftReport["reference"]): DriftReport => {
      this.forget(project, deployment);
      return {
      ...base,
      status: st,
      message,
      window: { spec: windowSpec, from: new Date(from).toISOString(), to: new Date(to).toISOString(), rows },
      reference,
      datasetDrift: null,
      driftedFeatures: 0,
      featureCount: 0,
      driftedShare: 0,
      shareThreshold: 0.5,
      features: [],
      unmeasuredFeatures: [],
      predictions: {},
      };
    };
    if (version === undefined) return empty("NoData", "nothing is served and nothing was logged yet", 0, null);

    const ref = await this.deps.references.forVersion(project, spec.model.name, version);
    const rows = await db
      .selectFrom("monitoring_payloads")
      .select(["inputs", "prediction"])
      .where("project", "=", project)
      .where("deployment", "=", deployment)
      .where("version", "=", version)
      .where("ts", ">=", from)
      .orderBy("id", "desc")
      .limit(DRIFT_MAX_ROWS)
      .execute();
    if (!ref) {
      return empty(
        "NoReference",
        `version ${version} of model "${spec.model.name}" has no reference dataset: log one at training time (SDK logReferenceData → <model dir>/reference.json)`,
        rows.length,
        null,
      );
    }
    const reference = { path: ref.path, rows: ref.rows.length };
    if (ref.rows.length === 0) return empty("NoReference", `the reference dataset of version ${version} (${ref.path}) has no rows: nothing to compare with`, rows.length, reference);
    if (rows.length === 0) return empty("NoData", `no logged requests for version ${version} in the last ${windowSpec}`, 0, reference);

    const features = ref.features;
    const predictions: Record<string, number> = {};
    const current: DriftRow[] = [];
    for (const r of rows) {
      const inputs = JSON.parse(r.inputs) as Record<string, unknown[]>;
      const values = (ref.input !== undefined ? inputs[ref.input] : undefined) ?? Object.values(inputs)[0] ?? [];
      const row: Record<string, number | string | boolean | null> = {};
      features.forEach((f, i) => (row[f] = (values[i] ?? null) as number | string | boolean | null));
      current.push(row);
      if (r.prediction !== null) {
        const p = String(JSON.parse(r.prediction) as unknown);
        predictions[p] = (predictions[p] ?? 0) + 1;
      }
    }
    const referenceRows: DriftRow[] = ref.rows.map((values) => Object.fromEntries(features.map((f, i) => [f, values[i] ?? null])));
    // A feature without a single value on one side (all missing, e.g. NaN sent in binary form)
    // cannot be compared; the others still are, and the report says which were left out.
    const hasValue = (data: readonly DriftRow[], f: string) => data.some((r) => r[f] !== null && r[f] !== undefined && !(typeof r[f] === "number" && Number.isNaN(r[f])));
    const unmeasured = features.filter((f) => !hasValue(referenceRows, f) || !hasValue(current, f));
    const measured = features.filter((f) => !unmeasured.includes(f));
    if (measured.length === 0) return empty("NoData", `no feature has values both in the reference and in the last ${windowSpec}: ${unmeasured.join(", ")}`, rows.length, reference);
    const result = datasetDrift(referenceRows, current, { columns: measured });
    const report: DriftReport = {
      ...base,
      status: result.drifted ? "Drift" : "NoDrift",
      message: `${result.driftedCount} of ${result.columnCount} features drift (dataset drift at ≥ ${result.shareThreshold * 100}%)${unmeasured.length ? `; not compared, no values: ${unmeasured.join(", ")}` : ""}`,
      window: { spec: windowSpec, from: new Date(from).toISOString(), to: new Date(to).toISOString(), rows: rows.length },
      reference,
      datasetDrift: result.drifted,
      driftedFeatures: result.driftedCount,
      featureCount: result.columnCount,
      driftedShare: result.driftedShare,
      shareThreshold: result.shareThreshold,
      features: result.columns.map((c) => ({
        feature: c.column,
        type: c.type,
        method: c.method,
        score: c.score,
        statistic: c.statistic,
        ...(c.pValue !== undefined ? { pValue: c.pValue } : {}),
        threshold: c.threshold,
        drifted: c.drifted,
        referenceCount: c.referenceCount,
        currentCount: c.currentCount,
      })),
      unmeasuredFeatures: unmeasured,
      predictions,
    };
    this.publish(report);
    return report;
  }

  /** Sets the gauges from a report (replacing the deployment's previous label sets). */
  publish(r: DriftReport): void {
    const k = `${r.project}/${r.deployment}`;
    this.forget(r.project, r.deployment);
    if (r.version === null || r.datasetDrift === null) return;
    const version = String(r.version);
    const labels = { project: r.project, deployment: r.deployment, version };
    for (const f of r.features) this.featureScore.set({ ...labels, feature: f.feature, method: f.method }, Number.isFinite(f.score) ? f.score : 0);
    this.datasetGauge.set(labels, r.datasetDrift ? 1 : 0);
    this.shareGauge.set(labels, r.driftedShare);
    this.published.set(k, { version, features: r.features.map((f) => ({ feature: f.feature, method: f.method })) });
  }

  forget(project: string, deployment: string): void {
    const k = `${project}/${deployment}`;
    const prev = this.published.get(k);
    if (!prev) return;
    const labels = { project, deployment, version: prev.version };
    for (const f of prev.features) this.featureScore.remove({ ...labels, ...f });
    this.datasetGauge.remove(labels);
    this.shareGauge.remove(labels);
    this.published.delete(k);
  }
}
