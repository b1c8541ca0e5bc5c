/**
 * REST routes of the resource API, generated for every registered kind from its schemas:
 *   cluster kinds:  /api/v1/{plural}[/{name}]
 *   project kinds:  /api/v1/projects/{project}/{plural}[/{name}], and /api/v1/{plural} across projects
 * plus POST /api/v1/apply (create-or-update of one or many documents, JSON or YAML).
 */
import { Type, type TSchema } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { InvalidInputError } from "../platform/errors.ts";
import type { RegisteredKind } from "./kinds.ts";
import type { Resource, ResourceRef } from "./model.ts";
import type { ResourceService } from "./service.ts";

const ErrorResponse = Type.Object(
  {
    error: Type.Object({
      code: Type.String(),
      message: Type.String(),
      details: Type.Optional(Type.Array(Type.Object({ path: Type.String(), reason: Type.String() }))),
    }),
  },
  { description: "Error; `details` names each offending field" },
);
const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse };

const ListQuery = Type.Object({
  labelSelector: Type.Optional(Type.String({ description: "e.g. app=etl,tier!=dev,env in (a,b)" })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  continue: Type.Optional(Type.String({ description: "token from a previous page's metadata.continue" })),
});
const DeleteQuery = Type.Object({ resourceVersion: Type.Optional(Type.String({ pattern: "^[0-9]+$" })) });

function listSchema(kind: string, item: TSchema) {
  return Type.Object({
    apiVersion: Type.String(),
    kind: Type.Literal(`${kind}List`),
    items: Type.Array(item),
    metadata: Type.Object({ continue: Type.Optional(Type.String()) }),
  });
}

/** "List", or what a list GET answers ("ProjectList"), so that `get -o yaml | apply` works for lists too. */
export function isListKind(kind: unknown): boolean {
  return typeof kind === "string" && /^([A-Z][A-Za-z0-9]*)?List$/.test(kind);
}

export function listBody(kind: string, items: Resource[], continueToken?: string) {
  return { apiVersion: "forja.dev/v1", kind: `${kind}List`, items, metadata: continueToken ? { continue: continueToken } : {} };
}

export function resourceRoutes(service: ResourceService) {
  return (app: FastifyInstance) => {
    for (const reg of service.registry.all()) registerKind(app, service, reg);

    app.get("/api/v1/kinds", { schema: { tags: ["resources"], summary: "The kinds this server serves (discovery for clients)" } }, () => ({
      items: service.registry.all().map(({ def }) => ({
        kind: def.kind,
        plural: def.plural,
        singular: def.singular,
        shortNames: [...(def.shortNames ?? [])],
        scope: def.scope,
        description: def.description,
        columns: [...(def.columns ?? [])],
        userWritable: def.userWritable !== false,
      })),
    }));

    app.post(
      "/api/v1/apply",
      {
        schema: {
          tags: ["resources"],
          summary: "Create or update resources (like kubectl apply). JSON: one document, an array, or {items: [...]}; YAML: one or more documents.",
          body: Type.Unknown(),
          response: {
            200: Type.Object({
              items: Type.Array(
                Type.Object({ action: Type.Union([Type.Literal("created"), Type.Literal("configured"), Type.Literal("unchanged")]), resource: Type.Unknown() }),
              ),
            }),
            ...errors,
          },
        },
      },
      async (req) => {
        const body = req.body;
        let docs: unknown[];
        if (Array.isArray(body)) docs = body;
        else if (body && typeof body === "object" && Array.isArray((body as { items?: unknown }).items) && !(body as { kind?: unknown }).kind) {
          docs = (body as { items: unknown[] }).items;
        } else if (body && typeof body === "object" && isListKind((body as { kind?: unknown }).kind) && !("spec" in body)) {
          const items = (body as { items?: unknown }).items ?? [];
          if (!Array.isArray(items)) throw InvalidInputError.field("items", "must be an array of resource documents");
          docs = items;
        } else if (body === undefined || body === null || body === "") {
          throw InvalidInputError.field("body", "is empty: send one or more resource documents");
        } else docs = [body];
        return { items: await service.apply(req.principal, docs) };
      },
    );
  };
}

function registerKind(app: FastifyInstance, service: ResourceService, reg: RegisteredKind): void {
  const { def } = reg;
  const tags = [def.plural];
  const item = reg.resourceSchema;
  const manifest = reg.manifestSchema;
  const projectScoped = def.scope === "Project";
  const collection = projectScoped ? `/api/v1/projects/:project/${def.plural}` : `/api/v1/${def.plural}`;
  const member = `${collection}/:name`;
  const params = projectScoped ? Type.Object({ project: Type.String(), name: Type.String() }) : Type.Object({ name: Type.String() });
  const collParams = projectScoped ? Type.Object({ project: Type.String() }) : undefined;
  const refFrom = (p: { project?: string; name: string }): ResourceRef => ({ kind: def.kind, project: projectScoped ? (p.project ?? "") : "", name: p.name });

  type Q = { labelSelector?: string; limit?: number; continue?: string };
  const list = async (principal: Parameters<ResourceService["list"]>[0], project: string | undefined, q: Q) => {
    const page = await service.list(principal, {
      kind: def.kind,
      ...(project ? { project } : {}),
      ...(q.labelSelector ? { labelSelector: q.labelSelector } : {}),
      ...(q.limit ? { limit: q.limit } : {}),
      ...(q.continue ? { continueToken: q.continue } : {}),
    });
    return listBody(def.kind, page.items, page.continueToken);
  };

  app.get(
    collection,
    { schema: { tags, summary: `List ${def.plural}`, ...(collParams ? { params: collParams } : {}), querystring: ListQuery, response: { 200: listSchema(def.kind, item), ...errors } } },
    async (req) => list(req.principal, (req.params as { project?: string }).project, req.query as Q),
  );
  if (projectScoped) {
    app.get(
      `/api/v1/${def.plural}`,
      { schema: { tags, summary: `List ${def.plural} in every project you can read`, querystring: ListQuery, response: { 200: listSchema(def.kind, item), ...errors } } },
      async (req) => list(req.principal, undefined, req.query as Q),
    );
  }
  app.get(member, { schema: { tags, summary: `Get a ${def.singular}`, params, response: { 200: item, ...errors } } }, async (req) =>
    service.get(req.principal, refFrom(req.params as { project?: string; name: string })),
  );
  if (def.userWritable !== false) {
    app.post(
      collection,
      { schema: { tags, summary: `Create a ${def.singular}`, ...(collParams ? { params: collParams } : {}), body: manifest, response: { 201: item, ...errors } } },
      async (req, reply) => {
        const p = req.params as { project?: string };
        const body = req.body as { metadata: { project?: string } };
        if (projectScoped && body.metadata.project !== undefined && body.metadata.project !== p.project) {
          throw InvalidInputError.field("metadata.project", `must match the project in the URL ("${p.project}")`);
        }
        if (projectScoped) body.metadata.project = p.project;
        return reply.status(201).send(await service.create(req.principal, body));
      },
    );
    app.put(
      member,
      { schema: { tags, summary: `Replace a ${def.singular}'s spec, labels and annotations (send metadata.resourceVersion for optimistic concurrency)`, params, body: manifest, response: { 200: item, ...errors } } },
      async (req) => {
        const p = req.params as { project?: string; name: string };
        const body = req.body as { metadata: { project?: string } };
        if (projectScoped && body.metadata.project === undefined) body.metadata.project = p.project;
        return service.update(req.principal, refFrom(p), body);
      },
    );
  }
  app.delete(
    member,
    { schema: { tags, summary: `Delete a ${def.singular}`, params, querystring: DeleteQuery, response: { 200: item, ...errors } } },
    async (req) => service.delete(req.principal, refFrom(req.params as { project?: string; name: string }), (req.query as { resourceVersion?: string }).resourceVersion),
  );
}
