/** The pipelines feature: kinds, migrations, controllers and routes. */
import { join } from "node:path";
import type { Principal } from "../auth/principal.ts";
import type { FeatureModule } from "../server/feature.ts";
import { InvalidInputError } from "../platform/errors.ts";
import type { Manifest, Resource } from "../resources/model.ts";
import { PipelineKind, PipelineRunKind, PipelineScheduleKind, RUN_FINALIZER, type PipelineRunSpec } from "./kinds.ts";
import { pipelineRoutes } from "./routes.ts";
import { StepCache, stepCacheMigrations } from "./run/cache.ts";
import { PipelineRunController } from "./run/controller.ts";
import { StepExecutor } from "./run/executor.ts";
import { ScheduleController } from "./schedule/controller.ts";
import { CREATED_BY_ANNOTATION, MODIFIED_BY_ANNOTATION, PipelineService } from "./service.ts";

export function pipelinesFeature(): FeatureModule {
  let service: PipelineService | undefined;
  return {
  name: "pipelines",
  kinds: [PipelineKind, PipelineRunKind, PipelineScheduleKind],
  migrations: stepCacheMigrations,
  controllers(ctx) {
    ctx.resources.addHook({
      kind: "PipelineRun",
      admit(principal: Principal, manifest: Manifest, existing: Resource | undefined) {
        if (!existing) {
          // Recorded by the platform, never taken from the user: steps act as this user.
          const annotations = { ...(manifest.metadata.annotations ?? {}), [CREATED_BY_ANNOTATION]: principal.name };
          return { ...manifest, metadata: { ...manifest.metadata, annotations } };
        }
        const createdBy = existing.metadata.annotations[CREATED_BY_ANNOTATION];
        if (createdBy !== undefined) {
          manifest = { ...manifest, metadata: { ...manifest.metadata, annotations: { ...(manifest.metadata.annotations ?? {}), [CREATED_BY_ANNOTATION]: createdBy } } };
        }
        // What a run executes is fixed once created; only cancel and retry may change.
        const before = existing.spec as PipelineRunSpec;
        const after = manifest.spec as PipelineRunSpec;
        for (const field of ["pipelineRef", "pipelineSpec", "params", "cache", "timeoutSeconds"] as const) {
          if (JSON.stringify(before[field]) !== JSON.stringify(after[field])) {
            throw InvalidInputError.field(`spec.${field}`, "cannot change after the run was created (only spec.cancel and spec.retry can)");
          }
        }
        return manifest;
      },
      finalizers: () => [RUN_FINALIZER],
    });
    // Who last wrote a Pipeline or a PipelineSchedule, recorded by the platform on every write
    // (never taken from the user): a scheduled run acts as the lesser of the two
    // (PipelineService.startRun; docs/adr/0015-pipeline-run-identity-and-step-tokens.md).
    for (const kind of ["Pipeline", "PipelineSchedule"]) {
      ctx.resources.addHook({
        kind,
        admit(principal: Principal, manifest: Manifest) {
          const annotations: Record<string, string> = { ...(manifest.metadata.annotations ?? {}), [MODIFIED_BY_ANNOTATION]: principal.name };
          if (kind === "PipelineSchedule") delete annotations[CREATED_BY_ANNOTATION]; // no longer who the runs act as
          return { ...manifest, metadata: { ...manifest.metadata, annotations } };
        },
      });
    }
    const executor = new StepExecutor({
      artifacts: ctx.artifacts,
      runtime: ctx.runtime,
      runsDir: join(ctx.config.dataDir, "pipeline-runs"),
      maxArtifactBytes: ctx.config.artifactMaxBytes,
      stepEnv: () => ({ FORJA_URL: ctx.publicUrl() }),
      stepSecretEnv: async (run, node) => (ctx.hooks.pipelineStepEnv ? ctx.hooks.pipelineStepEnv(run, node) : {}),
    });
    const cache = new StepCache(ctx.database);
    service = new PipelineService(ctx.repo, ctx.authz, ctx.runtime);
    return [
      new PipelineRunController({
        repo: ctx.repo,
        runtime: ctx.runtime,
        executor,
        cache,
        logger: ctx.logger.child({ component: "pipelineruns" }),
        metrics: ctx.metrics,
        onRunEnded: async (run) => ctx.hooks.pipelineRunEnded?.(run),
        secrets: async (project, name, key) => {
          const secret = await ctx.repo.get({ kind: "Secret", project, name });
          return (secret?.spec as { data?: Record<string, string> } | undefined)?.data?.[key];
        },
      }),
      new ScheduleController({ repo: ctx.repo, pipelines: service, logger: ctx.logger.child({ component: "schedules" }) }),
    ];
  },
  routes(ctx) {
    return pipelineRoutes(service ?? new PipelineService(ctx.repo, ctx.authz, ctx.runtime));
  },
  };
}
