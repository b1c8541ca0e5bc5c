/** The MLflow tracking and mlflow-artifacts endpoints, mounted with the shared wire layer. */
import { MlflowError, mlflowBodyLimit, mlflowRawMount, mlflowRoutes, type MlflowCall, type MlflowEndpoint } from "../mlflow/index.ts";
import type { RawMount, RouteModule } from "../http/app.ts";
import type { PlatformContext } from "../server/feature.ts";
import type { ArtifactService } from "./artifacts.ts";
import type { TrackingService } from "./service.ts";

/**
 * The calls a training loop makes per step, served from node:http ahead of Fastify (ADR 0011):
 * log-batch, log-metric, log-parameter, set-tag. They are not in `trackingMlflowRoutes`.
 */
export function trackingMlflowLogging(ctx: PlatformContext, svc: TrackingService): RawMount {
  return mlflowRawMount({ tokens: ctx.tokens, logger: ctx.logger, bodyLimit: mlflowBodyLimit(ctx) }, [
    { path: "mlflow/runs/log-batch", handler: (c, input) => svc.logBatch(c, input) },
    { path: "mlflow/runs/log-metric", handler: (c, input) => svc.logMetric(c, input) },
    { path: "mlflow/runs/log-parameter", handler: (c, input) => svc.logParam(c, input) },
    { path: "mlflow/runs/set-tag", handler: (c, input) => svc.setTag(c, input) },
  ]);
}

/** Every other MLflow tracking endpoint and the mlflow-artifacts endpoints, mounted through Fastify. */
export function trackingMlflowRoutes(ctx: PlatformContext, svc: TrackingService, artifacts: ArtifactService): RouteModule {
  const ep = (method: MlflowEndpoint["method"], path: string, handler: (c: MlflowCall) => Promise<object | undefined | void>): MlflowEndpoint => ({
    method,
    path: `mlflow/${path}`,
    handler: async (c) => (await handler(c)) ?? undefined,
  });
  const notImplemented = (): never => {
    throw new MlflowError("NOT_IMPLEMENTED", "Multipart upload is not supported by this server; upload with a single PUT.");
  };
  const endpoints: MlflowEndpoint[] = [
    ep("POST", "experiments/create", (c) => svc.createExperiment(c, c.input)),
    ep("GET", "experiments/get", (c) => svc.getExperiment(c, c.input)),
    ep("GET", "experiments/get-by-name", (c) => svc.getExperimentByName(c, c.input)),
    ep("POST", "experiments/search", (c) => svc.searchExperiments(c, c.input)),
    ep("GET", "experiments/search", (c) => svc.searchExperiments(c, c.input)),
    ep("POST", "experiments/update", (c) => svc.updateExperiment(c, c.input)),
    ep("POST", "experiments/delete", (c) => svc.deleteExperiment(c, c.input)),
    ep("POST", "experiments/restore", (c) => svc.restoreExperiment(c, c.input)),
    ep("POST", "experiments/set-experiment-tag", (c) => svc.setExperimentTag(c, c.input)),
    ep("POST", "experiments/delete-experiment-tag", (c) => svc.deleteExperimentTag(c, c.input)),
    ep("POST", "runs/create", (c) => svc.createRun(c, c.input)),
    ep("GET", "runs/get", (c) => svc.getRun(c, c.input)),
    ep("POST", "runs/update", (c) => svc.updateRun(c, c.input)),
    ep("POST", "runs/delete", (c) => svc.deleteRun(c, c.input)),
    ep("POST", "runs/restore", (c) => svc.restoreRun(c, c.input)),
    ep("POST", "runs/delete-tag", (c) => svc.deleteTag(c, c.input)),
    ep("POST", "runs/log-inputs", (c) => svc.logInputs(c, c.input)),
    ep("POST", "runs/outputs", (c) => svc.logOutputs(c, c.input)),
    ep("POST", "runs/log-model", (c) => svc.logModel(c, c.input)),
    ep("POST", "runs/search", (c) => svc.searchRuns(c, c.input)),
    ep("GET", "metrics/get-history", (c) => svc.metricHistory(c, c.input)),
    ep("GET", "metrics/get-history-bulk-interval", (c) => svc.metricHistoryBulkInterval(c, c.input)),
    ep("GET", "artifacts/list", (c) => artifacts.listRun(c)),
    { method: "GET", path: "mlflow-artifacts/artifacts", handler: (c) => artifacts.list(c) },
    { method: "PUT", path: "mlflow-artifacts/artifacts/*", raw: true, handler: async (c) => (await artifacts.upload(c), undefined) },
    { method: "GET", path: "mlflow-artifacts/artifacts/*", raw: true, handler: async (c) => (await artifacts.download(c), undefined) },
    { method: "DELETE", path: "mlflow-artifacts/artifacts/*", handler: (c) => artifacts.delete(c) },
    { method: "POST", path: "mlflow-artifacts/mpu/create/*", raw: true, handler: notImplemented },
    { method: "POST", path: "mlflow-artifacts/mpu/complete/*", raw: true, handler: notImplemented },
    { method: "POST", path: "mlflow-artifacts/mpu/abort/*", raw: true, handler: notImplemented },
  ];
  return mlflowRoutes(ctx, endpoints);
}
