/**
 * The monitoring feature: payload logging of inference (hook `inferenceServed`, filled here,
 * called by serving), per-deployment settings from `spec.monitoring` (a controller on the
 * Deployment kind keeps them in memory and purges a deleted deployment's log), drift reports
 * (API, CLI `forja drift`) and drift gauges refreshed every `driftRefreshMs`.
 */
import type { Controller, ReconcileResult } from "../controllers/manager.ts";
import { errorMessage } from "../platform/errors.ts";
import type { ResourceRef } from "../resources/model.ts";
import type { FeatureModule, PlatformContext } from "../server/feature.ts";
import type { DeploymentSpec } from "../serving/kinds.ts";
import { DriftService } from "./drift-service.ts";
import { monitoringMigrations } from "./migrations.ts";
import { DEFAULT_MONITORING, PayloadLog, type PayloadLogOptions } from "./payload-log.ts";
import { ReferenceStore } from "./reference.ts";
import { monitoringRoutes } from "./routes.ts";

export interface MonitoringOptions extends PayloadLogOptions {
  /** How often the drift gauges are recomputed for every deployment (default 60 s; 0 = never). */
  readonly driftRefreshMs?: number;
}

interface Monitoring {
  readonly payloads: PayloadLog;
  readonly drift: DriftService;
}

class MonitoringConfigController implements Controller {
  readonly name = "monitoring";
  readonly kind = "Deployment";
  readonly resyncSeconds = 300;
  constructor(
    private readonly ctx: PlatformContext,
    private readonly m: Monitoring,
  ) {}

  async reconcile(ref: ResourceRef): Promise<ReconcileResult | void> {
    const res = await this.ctx.repo.get(ref);
    if (!res || res.metadata.deletionTimestamp) {
      this.m.drift.forget(ref.project, ref.name);
      await this.m.payloads.purge(ref.project, ref.name);
      return;
    }
    const spec = (res.spec as DeploymentSpec).monitoring;
    this.m.payloads.setConfig(ref.project, ref.name, {
      enabled: spec?.enabled ?? DEFAULT_MONITORING.enabled,
      sampleRate: spec?.sampleRate ?? DEFAULT_MONITORING.sampleRate,
      maxRows: spec?.maxRows ?? DEFAULT_MONITORING.maxRows,
      maxRowsPerSecond: spec?.maxRowsPerSecond ?? DEFAULT_MONITORING.maxRowsPerSecond,
    });
    await this.m.payloads.rotate(ref.project, ref.name);
  }
}

export function monitoringFeature(options: MonitoringOptions = {}): FeatureModule {
  let m: Monitoring | undefined;
  let timer: NodeJS.Timeout | undefined;
  let refreshing = false;
  const get = (ctx: PlatformContext): Monitoring => {
    if (m) return m;
    const payloads = new PayloadLog(ctx.database, ctx.metrics, ctx.logger.child({ component: "payload-log" }), options);
    const drift = new DriftService({ database: ctx.database, repo: ctx.repo, references: new ReferenceStore(ctx.database, ctx.artifacts), payloads }, ctx.metrics);
    m = { payloads, drift };
    ctx.hooks.inferenceServed = (e) => payloads.record(e);
    return m;
  };
  return {
    name: "monitoring",
    migrations: monitoringMigrations,
    controllers(ctx) {
      return [new MonitoringConfigController(ctx, get(ctx))];
    },
    routes(ctx) {
      const mon = get(ctx);
      return monitoringRoutes(ctx, mon.drift, mon.payloads);
    },
    start(ctx) {
      const mon = get(ctx);
      mon.payloads.start();
      const every = options.driftRefreshMs ?? 60_000;
      if (every > 0) {
        timer = setInterval(() => {
          if (refreshing) return;
          refreshing = true;
          void (async () => {
            for (const d of await ctx.repo.listAll({ kind: "Deployment" })) {
              await mon.drift.report(d.metadata.project ?? "", d.metadata.name).catch((e: unknown) => ctx.logger.debug({ err: errorMessage(e), deployment: d.metadata.name }, "drift refresh"));
            }
          })().finally(() => (refreshing = false));
        }, every);
        timer.unref();
      }
      return Promise.resolve();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await m?.payloads.stop();
    },
  };
}
