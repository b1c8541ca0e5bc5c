/** The serving feature: the Deployment kind, its controller, the OIP data plane and key/rollout endpoints. */
import type { FeatureModule, PlatformContext } from "../server/feature.ts";
import { InferenceAuth } from "./auth.ts";
import { DeploymentController } from "./controller.ts";
import { ServingEngine } from "./engine.ts";
import { DeploymentKind } from "./kinds.ts";
import { ServingMetrics } from "./metrics.ts";
import { servingMigrations } from "./migrations.ts";
import { ModelSource } from "./model-source.ts";
import { createDataPlane, DATA_PLANE_PREFIX } from "./data-plane.ts";
import { servingRoutes } from "./routes.ts";

export interface ServingOptions {
  /** How often each deployment re-resolves its aliases (they change in the registry). Default 2000. */
  readonly pollMs?: number;
}

interface Serving {
  readonly engine: ServingEngine;
  readonly auth: InferenceAuth;
}

export function servingFeature(options: ServingOptions = {}): FeatureModule {
  let serving: Serving | undefined;
  const get = (ctx: PlatformContext): Serving =>
    (serving ??= {
      engine: new ServingEngine(new ServingMetrics(ctx.metrics)),
      auth: new InferenceAuth({ database: ctx.database, tokens: ctx.tokens, authz: ctx.authz }),
    });
  return {
    name: "serving",
    kinds: [DeploymentKind],
    migrations: servingMigrations,
    controllers(ctx) {
      const s = get(ctx);
      return [
        new DeploymentController({
          repo: ctx.repo,
          engine: s.engine,
          source: new ModelSource(ctx.database, ctx.artifacts),
          metrics: s.engine.metrics,
          auth: s.auth,
          logger: ctx.logger.child({ component: "deployments" }),
          pollMs: options.pollMs ?? 2000,
          maxModelBytes: ctx.config.artifactMaxBytes,
        }),
      ];
    },
    routes(ctx) {
      const s = get(ctx);
      return servingRoutes({ ctx, auth: s.auth, source: new ModelSource(ctx.database, ctx.artifacts) });
    },
    rawRoutes(ctx) {
      const s = get(ctx);
      return { matches: (_method, url) => url.startsWith(DATA_PLANE_PREFIX), handle: createDataPlane({ ctx, engine: s.engine, auth: s.auth }) };
    },
  };
}
