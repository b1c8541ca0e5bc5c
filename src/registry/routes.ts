/**
 * Forja's native registry API (used by the CLI and the web UI): models of a project with their
 * versions and aliases, aliases and stages, and lineage between model versions, tracking runs
 * and pipeline runs. Objects keep MLflow's shapes so both APIs show the same thing.
 */
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { parseVersion } from "./model.ts";
import type { RegistryService } from "./service.ts";

const ModelParams = Type.Object({ project: Type.String(), name: Type.String() });
const VersionParams = Type.Object({ project: Type.String(), name: Type.String(), version: Type.String() });
const AliasParams = Type.Object({ project: Type.String(), name: Type.String(), alias: Type.String() });

type ModelP = { project: string; name: string };
type VersionP = ModelP & { version: string };
type AliasP = ModelP & { alias: string };

export function registryRoutes(service: RegistryService) {
  return (app: FastifyInstance) => {
    const tags = ["models"];
    app.get(
      "/api/v1/projects/:project/models",
      {
        schema: {
          tags,
          summary: "Registered models of a project (MLflow registry filter syntax in `filter`)",
          params: Type.Object({ project: Type.String() }),
          querystring: Type.Object({
            filter: Type.Optional(Type.String()),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
            continue: Type.Optional(Type.String()),
          }),
        },
      },
      async (req) => {
        const { project } = req.params as { project: string };
        const q = req.query as { filter?: string; limit?: number; continue?: string };
        const page = await service.searchModels(req.principal, project, {
          maxResults: q.limit ?? 1000,
          ...(q.filter ? { filter: q.filter } : {}),
          ...(q.continue ? { pageToken: q.continue } : {}),
        });
        return { items: page.items, metadata: page.nextPageToken ? { continue: page.nextPageToken } : {} };
      },
    );
    app.get(
      "/api/v1/projects/:project/models/:name",
      { schema: { tags, summary: "A registered model with all its versions and aliases", params: ModelParams } },
      async (req) => {
        const p = req.params as ModelP;
        return service.modelDetail(req.principal, p.project, p.name);
      },
    );
    app.get(
      "/api/v1/projects/:project/models/:name/versions",
      { schema: { tags, summary: "Versions of a registered model, newest first", params: ModelParams } },
      async (req) => {
        const p = req.params as ModelP;
        return { items: await service.versions(req.principal, p.project, p.name) };
      },
    );
    app.get(
      "/api/v1/projects/:project/models/:name/versions/:version/lineage",
      {
        schema: {
          tags,
          summary: "Where a model version came from: its tracking run and experiment, the run's datasets, the pipeline run and step",
          params: VersionParams,
        },
      },
      async (req) => {
        const p = req.params as VersionP;
        return service.lineage(req.principal, p.project, p.name, parseVersion(p.version));
      },
    );
    app.put(
      "/api/v1/projects/:project/models/:name/aliases/:alias",
      {
        schema: {
          tags,
          summary: "Point an alias at a version (moves it if set)",
          params: AliasParams,
          body: Type.Object({ version: Type.Union([Type.String(), Type.Integer({ minimum: 1 })]) }, { additionalProperties: false }),
        },
      },
      async (req) => {
        const p = req.params as AliasP;
        const version = parseVersion((req.body as { version: string | number }).version);
        await service.setAlias(req.principal, p.project, p.name, p.alias, version);
        return service.getVersion(req.principal, p.project, p.name, version);
      },
    );
    app.delete(
      "/api/v1/projects/:project/models/:name/aliases/:alias",
      { schema: { tags, summary: "Remove an alias", params: AliasParams } },
      async (req) => {
        const p = req.params as AliasP;
        await service.deleteAlias(req.principal, p.project, p.name, p.alias);
        return {};
      },
    );
    app.post(
      "/api/v1/projects/:project/models/:name/versions/:version/stage",
      {
        schema: {
          tags,
          summary: "Move a version to a stage (None, Staging, Production, Archived); archiveExisting archives the others in that stage",
          params: VersionParams,
          body: Type.Object({ stage: Type.String(), archiveExisting: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
        },
      },
      async (req) => {
        const p = req.params as VersionP;
        const b = req.body as { stage: string; archiveExisting?: boolean };
        return service.transitionStage(req.principal, p.project, p.name, parseVersion(p.version), b.stage, b.archiveExisting ?? false);
      },
    );
    app.get(
      "/api/v1/projects/:project/pipelineruns/:name/model-versions",
      { schema: { tags, summary: "Model versions registered from runs started by this pipeline run", params: ModelParams } },
      async (req) => {
        const p = req.params as ModelP;
        return { items: await service.versionsOfPipelineRun(req.principal, p.project, p.name) };
      },
    );
  };
}
