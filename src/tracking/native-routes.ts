/**
 * Forja's native tracking API (used by the CLI), in Forja's error format:
 *   GET/POST /api/v1/projects/{p}/experiments, GET/DELETE /api/v1/projects/{p}/experiments/{id}
 *   GET /api/v1/projects/{p}/runs?experiment=&filter=&orderBy=&limit=, GET /api/v1/projects/{p}/runs/{id}
 *   GET /api/v1/projects/{p}/pipelineruns/{name}/tracking-runs (lineage)
 * Bodies are the MLflow JSON shapes of experiments and runs.
 */
import { Type } from "@sinclair/typebox";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { MlflowError, type CallScope } from "../mlflow/index.ts";
import { AlreadyExistsError, ForbiddenError, InvalidInputError, NotFoundError, UnauthenticatedError } from "../platform/errors.ts";
import { runJson } from "./encode.ts";
import type { TrackingService } from "./service.ts";

/** MLflow errors → Forja domain errors (so the core error mapping applies). */
export function toForjaError(e: unknown): unknown {
  if (!(e instanceof MlflowError)) return e;
  switch (e.errorCode) {
    case "RESOURCE_DOES_NOT_EXIST":
    case "NOT_FOUND":
      return new NotFoundError(e.message);
    case "RESOURCE_ALREADY_EXISTS":
      return new AlreadyExistsError(e.message);
    case "PERMISSION_DENIED":
      return new ForbiddenError(e.message);
    case "UNAUTHENTICATED":
      return new UnauthenticatedError(e.message);
    case "INVALID_PARAMETER_VALUE":
    case "BAD_REQUEST":
    case "INVALID_STATE":
      return new InvalidInputError(e.message);
    case "ABORTED":
    case "ALREADY_EXISTS":
    case "CANCELLED":
    case "CUSTOMER_UNAUTHORIZED":
    case "DATA_LOSS":
    case "DEADLINE_EXCEEDED":
    case "ENDPOINT_NOT_FOUND":
    case "INTERNAL_ERROR":
    case "NOT_IMPLEMENTED":
    case "REQUEST_LIMIT_EXCEEDED":
    case "RESOURCE_CONFLICT":
    case "RESOURCE_EXHAUSTED":
    case "TEMPORARILY_UNAVAILABLE":
      return e.status < 500 ? new InvalidInputError(e.message) : e;
  }
}

async function wrap<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw toForjaError(e);
  }
}

const ProjectParams = Type.Object({ project: Type.String() });
const IdParams = Type.Object({ project: Type.String(), id: Type.String() });

function scope(req: FastifyRequest): CallScope {
  return { principal: req.principal, project: (req.params as { project: string }).project, scoped: true };
}

export function trackingNativeRoutes(svc: TrackingService) {
  return (app: FastifyInstance) => {
    const tags = ["tracking"];
    app.get("/api/v1/projects/:project/experiments", { schema: { tags, summary: "List the experiments of a project", params: ProjectParams, querystring: Type.Object({ view: Type.Optional(Type.String()) }) } }, async (req) =>
      wrap(async () => {
        const view = (req.query as { view?: string }).view;
        const res = await svc.searchExperiments(scope(req), { max_results: 50000, ...(view ? { view_type: view } : {}) });
        return { items: (res["experiments"] as unknown[] | undefined) ?? [] };
      }),
    );
    app.post(
      "/api/v1/projects/:project/experiments",
      { schema: { tags, summary: "Create an experiment", params: ProjectParams, body: Type.Object({ name: Type.String(), tags: Type.Optional(Type.Record(Type.String(), Type.String())) }, { additionalProperties: false }) } },
      async (req, reply) =>
        wrap(async () => {
          const body = req.body as { name: string; tags?: Record<string, string> };
          const call = scope(req);
          const { experiment_id } = await svc.createExperiment(call, { name: body.name, tags: Object.entries(body.tags ?? {}).map(([key, value]) => ({ key, value })) });
          return reply.status(201).send((await svc.getExperiment(call, { experiment_id })).experiment);
        }),
    );
    app.get("/api/v1/projects/:project/experiments/:id", { schema: { tags, summary: "Get an experiment by id or name", params: IdParams } }, async (req) =>
      wrap(async () => {
        const call = scope(req);
        const id = (req.params as { id: string }).id;
        const res = /^\d+$/.test(id) ? await svc.getExperiment(call, { experiment_id: id }) : await svc.getExperimentByName(call, { experiment_name: id });
        return res.experiment;
      }),
    );
    app.delete("/api/v1/projects/:project/experiments/:id", { schema: { tags, summary: "Delete an experiment (and its runs)", params: IdParams } }, async (req) =>
      wrap(async () => {
        const call = scope(req);
        let id = (req.params as { id: string }).id;
        if (!/^\d+$/.test(id)) id = String((await svc.getExperimentByName(call, { experiment_name: id })).experiment["experiment_id"]);
        await svc.deleteExperiment(call, { experiment_id: id });
        return {};
      }),
    );
    app.get(
      "/api/v1/projects/:project/runs",
      {
        schema: {
          tags,
          summary: "Search runs (MLflow filter grammar)",
          params: ProjectParams,
          querystring: Type.Object({
            experiment: Type.Optional(Type.String()),
            filter: Type.Optional(Type.String()),
            orderBy: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())])),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 50000 })),
            pageToken: Type.Optional(Type.String()),
          }),
        },
      },
      async (req) =>
        wrap(async () => {
          const q = req.query as { experiment?: string; filter?: string; orderBy?: string | string[]; limit?: number; pageToken?: string };
          const call = scope(req);
          let ids: string[];
          if (q.experiment) {
            ids = [/^\d+$/.test(q.experiment) ? q.experiment : String((await svc.getExperimentByName(call, { experiment_name: q.experiment })).experiment["experiment_id"])];
          } else {
            const all = await svc.searchExperiments(call, { max_results: 50000 });
            ids = ((all["experiments"] as { experiment_id: string }[] | undefined) ?? []).map((e) => e.experiment_id);
          }
          const res = await svc.searchRuns(call, {
            experiment_ids: ids,
            ...(q.filter ? { filter: q.filter } : {}),
            order_by: q.orderBy === undefined ? [] : Array.isArray(q.orderBy) ? q.orderBy : [q.orderBy],
            max_results: q.limit ?? 1000,
            ...(q.pageToken ? { page_token: q.pageToken } : {}),
          });
          return { items: (res["runs"] as unknown[] | undefined) ?? [], ...(res["next_page_token"] ? { nextPageToken: res["next_page_token"] } : {}) };
        }),
    );
    app.get("/api/v1/projects/:project/runs/:id", { schema: { tags, summary: "Get a run", params: IdParams } }, async (req) =>
      wrap(async () => (await svc.getRun(scope(req), { run_id: (req.params as { id: string }).id })).run),
    );
    app.get(
      "/api/v1/projects/:project/pipelineruns/:name/tracking-runs",
      { schema: { tags, summary: "Tracking runs recorded by the steps of a pipeline run", params: Type.Object({ project: Type.String(), name: Type.String() }) } },
      async (req) =>
        wrap(async () => {
          const { project, name } = req.params as { project: string; name: string };
          await svc.access.authorize(req.principal, "get", "Run", project);
          const rows = await svc.store.runsOfPipelineRun(`${project}/${name}`);
          const data = await svc.store.runData(rows.map((r) => r.run_id));
          return { items: rows.map((r) => ({ ...runJson(r, data.get(r.run_id)), pipeline_step: r.pipeline_step })) };
        }),
    );
  };
}
