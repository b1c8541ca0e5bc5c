/** The model-registry feature: tables, the MLflow registry + logged-models API, the native API. */
import { TrackingAccess, mlflowRoutes } from "../mlflow/index.ts";
import { InvalidInputError } from "../platform/errors.ts";
import type { FeatureModule, PlatformContext } from "../server/feature.ts";
import { LoggedModelStore } from "./logged-models.ts";
import { registryMigrations } from "./migrations.ts";
import { registryMlflowEndpoints } from "./mlflow-routes.ts";
import { registryRoutes } from "./routes.ts";
import { RegistryService, type ExperimentResolver } from "./service.ts";
import { RegistryStore, purgeRegistryProject } from "./store.ts";
import { SqlTrackingLookup, type TrackingLookup } from "./tracking.ts";

/**
 * Experiments through the MLflow layer's access rules (scoped URIs, "0" = the project's Default
 * experiment); without tracking tables, the URI's project and `mlflow-artifacts:/<id>`.
 */
function experimentResolver(ctx: PlatformContext, tracking: TrackingLookup): ExperimentResolver {
  const access = new TrackingAccess({ database: ctx.database, authz: ctx.authz, repo: ctx.repo });
  return {
    async resolve(scope, experimentId, verb) {
      if (await tracking.available()) {
        const e = await access.experiment(scope, experimentId, verb === "create" ? "update" : verb);
        return { experimentId: String(e.experiment_id), project: e.project, artifactLocation: e.artifact_location };
      }
      if (!/^\d{1,15}$/u.test(experimentId)) throw InvalidInputError.field("experiment_id", `Invalid value '${experimentId}': experiment ids are integers.`);
      await ctx.authz.check(scope.principal, verb, "Experiment", scope.project);
      return { experimentId, project: scope.project, artifactLocation: `mlflow-artifacts:/${experimentId}` };
    },
  };
}

export function createRegistryService(ctx: PlatformContext): RegistryService {
  const tracking = new SqlTrackingLookup(ctx.database);
  return new RegistryService({
    store: new RegistryStore(ctx.database),
    loggedModels: new LoggedModelStore(ctx.database),
    tracking,
    experiments: experimentResolver(ctx, tracking),
    authz: ctx.authz,
    repo: ctx.repo,
  });
}

export function registryFeature(): FeatureModule {
  return {
    name: "registry",
    migrations: registryMigrations,
    controllers(ctx) {
      ctx.hooks.projectPurges.push((project) => purgeRegistryProject(ctx.database, project));
      return [];
    },
    routes(ctx) {
      const service = createRegistryService(ctx);
      const mlflow = mlflowRoutes(ctx, registryMlflowEndpoints(service));
      const native = registryRoutes(service);
      return async (app) => {
        await mlflow(app);
        native(app);
      };
    },
  };
}
