/**
 * The Deployment controller: resolves the spec's model references (aliases move in the registry,
 * so it polls every `pollMs`), loads missing versions, switches the routing table once every
 * needed version is loaded, and retires versions no longer needed (keeping the previous primary
 * loaded for an instant rollback). A model that fails to load makes the deployment Failed with
 * the reason; whatever was serving keeps serving, and nothing else is affected.
 */
import type { Logger } from "pino";
import type { Controller, ReconcileResult } from "../controllers/manager.ts";
import { errorMessage } from "../platform/errors.ts";
import type { Condition, Resource, ResourceRef } from "../resources/model.ts";
import type { ResourceRepository } from "../resources/repository.ts";
import type { InferenceAuth } from "./auth.ts";
import { LoadedVersion, type LiveDeployment, type RouteEntry, type ServingEngine } from "./engine.ts";
import type { DeploymentSpec, DeploymentStatus } from "./kinds.ts";
import type { ServingMetrics } from "./metrics.ts";
import { ModelSourceError, type ModelSource } from "./model-source.ts";
import { createRunner } from "./runner.ts";

export interface DeploymentControllerDeps {
  readonly repo: ResourceRepository;
  readonly engine: ServingEngine;
  readonly source: ModelSource;
  readonly metrics: ServingMetrics;
  readonly auth: InferenceAuth;
  readonly logger: Logger;
  readonly pollMs: number;
  readonly maxModelBytes: number;
}

interface Desired {
  readonly entries: readonly { version: number; percent: number }[];
  readonly shadow?: { version: number; percent: number };
}

interface LoadFailure {
  readonly until: number;
  readonly reason: string;
  readonly message: string;
}

const FAILURE_RETRY_MS = 15_000;
const SHADOW_STATUS_EVERY_MS = 5_000;

export class DeploymentController implements Controller {
  readonly name = "deployments";
  readonly kind = "Deployment";
  readonly workers = 2;
  readonly resyncSeconds = 30;
  private readonly failures = new Map<string, LoadFailure>();
  private readonly lastStatusWrite = new Map<string, number>();

  constructor(private readonly d: DeploymentControllerDeps) {}

  async reconcile(ref: ResourceRef): Promise<ReconcileResult | void> {
    let res = await this.d.repo.get(ref);
    if (!res || res.metadata.deletionTimestamp) {
      await this.d.engine.remove(ref.project, ref.name);
      if (!res) await this.d.auth.deleteKeys(ref.project, ref.name);
      return;
    }
    const spec = res.spec as DeploymentSpec;
    const live = this.d.engine.ensure(ref.project, ref.name);
    live.setRateLimit(spec.rateLimit);

    let desired: Desired;
    try {
      desired = await this.resolve(ref.project, spec);
    } catch (e) {
      const reason = e instanceof ModelSourceError ? e.reason : "ResolveFailed";
      await this.writeStatus(res, live, { phase: "Failed", reason, message: errorMessage(e) });
      return { requeueAfterMs: this.d.pollMs };
    }

    const configKey = JSON.stringify([spec.runtime ?? {}, spec.batching ?? null]);
    const needed = new Set([...desired.entries.map((e) => e.version), ...(desired.shadow ? [desired.shadow.version] : [])]);
    const toLoad = [...needed].filter((v) => live.versions.get(v)?.configKey !== configKey);
    const problems: LoadFailure[] = [];
    if (toLoad.length) {
      const pending = toLoad.filter((v) => !this.failureOf(ref, v, configKey));
      if (pending.length) {
        res = await this.writeStatus(res, live, { phase: "Progressing", reason: "LoadingModel", message: `loading version${pending.length > 1 ? "s" : ""} ${pending.join(", ")}` });
      }
      for (const v of toLoad) {
        const known = this.failureOf(ref, v, configKey);
        if (known) {
          problems.push(known);
          continue;
        }
        try {
          const loaded = await this.load(ref, spec, v, configKey);
          const old = live.versions.get(v);
          live.versions.set(v, loaded);
          if (old && !this.isRouted(live, old)) void old.close();
          else if (old) this.retireLater(live, old);
        } catch (e) {
          const f: LoadFailure = {
            until: Date.now() + FAILURE_RETRY_MS,
            reason: e instanceof ModelSourceError ? e.reason : "ModelLoadFailed",
            message: `version ${v}: ${errorMessage(e)}`,
          };
          this.failures.set(this.failureKey(ref, v, configKey), f);
          problems.push(f);
          this.d.logger.warn({ deployment: `${ref.project}/${ref.name}`, version: v, err: f.message }, "model failed to load");
        }
      }
    }
    if (problems.length) {
      const first = problems[0] as LoadFailure;
      await this.writeStatus(res, live, { phase: "Failed", reason: first.reason, message: problems.map((p) => p.message).join("; ") });
      return { requeueAfterMs: Math.max(this.d.pollMs, 1000) };
    }

    // Switch: one assignment.
    const previousPrimary = live.route?.primary.version;
    let upTo = 0;
    const entries: RouteEntry[] = [];
    for (const e of desired.entries) {
      if (e.percent === 0) continue;
      upTo += e.percent;
      entries.push({ upTo, v: live.versions.get(e.version) as LoadedVersion });
    }
    const primaryVersion = [...desired.entries].sort((a, b) => b.percent - a.percent)[0]?.version ?? 0;
    const primary = live.versions.get(primaryVersion) as LoadedVersion;
    const served = new Map<number, LoadedVersion>();
    for (const v of needed) served.set(v, live.versions.get(v) as LoadedVersion);
    const shadow = desired.shadow ? { v: live.versions.get(desired.shadow.version) as LoadedVersion, percent: desired.shadow.percent } : undefined;
    live.route = { primary, entries, served, ...(shadow ? { shadow } : {}) };
    this.d.metrics.ready.set({ project: ref.project, deployment: ref.name }, 1);

    const status = res.status as DeploymentStatus;
    let previousVersion = status.previousVersion;
    if (previousPrimary !== undefined && previousPrimary !== primaryVersion) previousVersion = previousPrimary;
    else if (previousPrimary === undefined && status.serving?.length) {
      const before = status.serving.find((s) => s.role === "primary")?.version;
      if (before !== undefined && before !== primaryVersion) previousVersion = before;
    }
    // Retire what is neither served nor the rollback target.
    for (const [n, v] of live.versions) {
      if (needed.has(n) || n === previousVersion) continue;
      live.versions.delete(n);
      void v.close();
    }

    // Batching needs a variable first (batch) dimension on every input and output; say so when a
    // version asked to batch cannot, rather than serving it unbatched without a word.
    const unbatched = spec.batching ? [...served.values()].filter((v) => !v.batching).map((v) => v.version) : [];
    const batchingNote = unbatched.length
      ? `; batching is off for version${unbatched.length > 1 ? "s" : ""} ${unbatched.join(", ")}: every input and output needs a variable first (batch) dimension`
      : "";
    await this.writeStatus(res, live, {
      phase: "Ready",
      reason: "Serving",
      message: `serving ${entries.map((e, i) => `version ${e.v.version} (${e.upTo - (entries[i - 1]?.upTo ?? 0)}%)`).join(", ")}${shadow ? `, shadow version ${shadow.v.version}` : ""}${batchingNote}`,
      ...(previousVersion !== undefined ? { previousVersion } : {}),
      serving: [
        ...desired.entries.map((e) => {
          const v = live.versions.get(e.version) as LoadedVersion;
          return { version: e.version, percent: e.percent, role: e.version === primaryVersion ? ("primary" as const) : ("canary" as const), digest: v.digest, loadSeconds: round(v.loadSeconds) };
        }),
        ...(shadow ? [{ version: shadow.v.version, percent: shadow.percent, role: "shadow" as const, digest: shadow.v.digest, loadSeconds: round(shadow.v.loadSeconds) }] : []),
      ],
      inputs: primary.inputs.map((p) => ({ ...p.meta, shape: [...p.meta.shape] })),
      outputs: primary.outputs.map((o) => ({ ...o, shape: [...o.shape] })),
    });
    return { requeueAfterMs: this.d.pollMs };
  }

  async stop(): Promise<void> {
    await this.d.engine.close();
  }

  private async resolve(project: string, spec: DeploymentSpec): Promise<Desired> {
    const name = spec.model.name;
    const targets = spec.traffic ?? [{ ...spec.model, percent: 100 }];
    const entries: { version: number; percent: number }[] = [];
    for (const t of targets) {
      const version = await this.d.source.resolve(project, { name, alias: t.alias, version: t.version });
      const same = entries.find((e) => e.version === version);
      if (same) same.percent += t.percent;
      else entries.push({ version, percent: t.percent });
    }
    const shadow = spec.shadow ? { version: await this.d.source.resolve(project, { name, alias: spec.shadow.alias, version: spec.shadow.version }), percent: spec.shadow.percent } : undefined;
    return { entries, ...(shadow ? { shadow } : {}) };
  }

  private async load(ref: ResourceRef, spec: DeploymentSpec, version: number, configKey: string): Promise<LoadedVersion> {
    const t0 = performance.now();
    const labels = { project: ref.project, deployment: ref.name };
    try {
      const located = await this.d.source.locate(ref.project, spec.model.name, version);
      const bytes = await this.d.source.read(located, this.d.maxModelBytes);
      const runner = await createRunner(bytes, {
        mode: spec.runtime?.mode ?? "inline",
        ...(spec.runtime?.workers !== undefined ? { workers: spec.runtime.workers } : {}),
        ...(spec.runtime?.intraOpThreads !== undefined ? { intraOpThreads: spec.runtime.intraOpThreads } : {}),
      });
      let loaded: LoadedVersion;
      try {
        loaded = new LoadedVersion(ref.project, ref.name, version, located.digest, runner, (performance.now() - t0) / 1000, this.d.metrics, spec.batching, configKey);
      } catch (e) {
        await runner.close();
        throw e;
      }
      this.d.metrics.loadSeconds.observe({ ...labels, result: "success" }, loaded.loadSeconds);
      this.d.logger.info({ deployment: `${ref.project}/${ref.name}`, version, seconds: round(loaded.loadSeconds), batching: loaded.batching }, "model loaded");
      return loaded;
    } catch (e) {
      this.d.metrics.loadSeconds.observe({ ...labels, result: "failure" }, (performance.now() - t0) / 1000);
      throw e;
    }
  }

  private isRouted(live: LiveDeployment, v: LoadedVersion): boolean {
    const r = live.route;
    return !!r && (r.primary === v || r.shadow?.v === v || r.entries.some((e) => e.v === v));
  }

  /** A replaced instance that may still be routed: close it once the next table is in place. */
  private retireLater(live: LiveDeployment, v: LoadedVersion): void {
    const check = () => {
      if (this.isRouted(live, v)) setTimeout(check, 100).unref();
      else void v.close();
    };
    setTimeout(check, 100).unref();
  }

  private failureKey(ref: ResourceRef, v: number, configKey: string): string {
    return `${ref.project}/${ref.name}/${v}/${configKey}`;
  }

  private failureOf(ref: ResourceRef, v: number, configKey: string): LoadFailure | undefined {
    const k = this.failureKey(ref, v, configKey);
    const f = this.failures.get(k);
    if (f && f.until <= Date.now()) {
      this.failures.delete(k);
      return undefined;
    }
    return f;
  }

  private async writeStatus(res: Resource, live: LiveDeployment, base: Omit<DeploymentStatus, "conditions" | "observedGeneration" | "url">): Promise<Resource> {
    const prev = res.status as DeploymentStatus;
    const ref = { kind: res.kind, project: res.metadata.project ?? "", name: res.metadata.name };
    const now = new Date().toISOString();
    const available = live.route !== undefined;
    const cond = (type: string, ok: boolean, reason: string, message?: string): Condition => {
      const before = prev.conditions?.find((c) => c.type === type);
      const status = ok ? "True" : "False";
      return { type, status, reason, ...(message ? { message } : {}), lastTransitionTime: before && before.status === status ? before.lastTransitionTime : now };
    };
    const s = live.shadowStats;
    const shadowVersion = live.route?.shadow?.v.version;
    const next: DeploymentStatus = {
      ...(base.phase === "Ready" ? {} : { serving: prev.serving, inputs: prev.inputs, outputs: prev.outputs, previousVersion: prev.previousVersion }),
      ...base,
      observedGeneration: res.metadata.generation,
      url: `/serving/${ref.project}/v2/models/${ref.name}`,
      ...(s && shadowVersion === s.version
        ? {
            shadow: {
              version: s.version,
              requests: s.requests,
              disagreements: s.disagreements,
              errors: s.errors,
              disagreementRate: s.requests ? round(s.disagreements / s.requests) : 0,
              meanLatencyMs: s.requests ? round((s.latencySeconds / s.requests) * 1000) : 0,
            },
          }
        : {}),
      conditions: [
        cond("Available", available, available ? "Serving" : base.reason ?? "NotLoaded", available ? undefined : base.message),
        cond("Ready", base.phase === "Ready", base.reason ?? base.phase, base.phase === "Ready" ? undefined : base.message),
      ],
    };
    for (const k of Object.keys(next) as (keyof DeploymentStatus)[]) if (next[k] === undefined) delete next[k];
    const key = `${ref.project}/${ref.name}`;
    const strip = (x: DeploymentStatus) => JSON.stringify({ ...x, shadow: undefined });
    const changed = strip(next) !== strip(prev);
    const shadowChanged = JSON.stringify(next.shadow) !== JSON.stringify(prev.shadow);
    if (!changed && !(shadowChanged && Date.now() - (this.lastStatusWrite.get(key) ?? 0) >= SHADOW_STATUS_EVERY_MS)) return res;
    this.lastStatusWrite.set(key, Date.now());
    return this.d.repo.update(ref, { status: next }, res.metadata.resourceVersion);
  }
}

const round = (x: number) => Math.round(x * 10_000) / 10_000;
