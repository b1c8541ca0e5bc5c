/** The tracking feature: MLflow-compatible experiments, runs and artifacts, plus the native API. */
import { TrackingAccess } from "../mlflow/index.ts";
import type { FeatureModule, PlatformContext } from "../server/feature.ts";
import { ArtifactService } from "./artifacts.ts";
import { trackingMigrations } from "./migrations.ts";
import { trackingMlflowLogging, trackingMlflowRoutes } from "./mlflow-routes.ts";
import { trackingNativeRoutes } from "./native-routes.ts";
import { TrackingService } from "./service.ts";
import { TrackingStore, purgeTrackingProject } from "./store.ts";
import { pipelineTracking } from "./pipeline-env.ts";

export interface Tracking {
  readonly service: TrackingService;
  readonly artifacts: ArtifactService;
}

export function createTracking(ctx: PlatformContext): Tracking {
  const access = new TrackingAccess({ database: ctx.database, authz: ctx.authz, repo: ctx.repo });
  const store = new TrackingStore(ctx.database, ctx.logger.child({ component: "tracking" }));
  return {
    service: new TrackingService(store, access),
    artifacts: new ArtifactService(ctx.database, ctx.artifacts, access, ctx.config.artifactMaxBytes),
  };
}

export function trackingFeature(): FeatureModule {
  let tracking: Tracking | undefined;
  const get = (ctx: PlatformContext): Tracking => (tracking ??= createTracking(ctx));
  return {
    name: "tracking",
    migrations: trackingMigrations,
    controllers(ctx) {
      // Every pipeline step gets an MLflow run tied to it, and a token (revoked when the run ends).
      const steps = pipelineTracking(ctx, get(ctx).service);
      ctx.hooks.pipelineStepEnv = steps.stepEnv;
      ctx.hooks.pipelineRunEnded = async (run) => {
        await steps.revokeRunTokens(run);
      };
      ctx.hooks.projectPurges.push((project) => purgeTrackingProject(ctx.database, project));
      return [];
    },
    routes(ctx) {
      const t = get(ctx);
      const mlflow = trackingMlflowRoutes(ctx, t.service, t.artifacts);
      const native = trackingNativeRoutes(t.service);
      return async (app) => {
        await mlflow(app);
        native(app);
      };
    },
    rawRoutes(ctx) {
      return trackingMlflowLogging(ctx, get(ctx).service);
    },
  };
}
