/**
 * Serving's control-plane routes under `/api/v1/projects/{p}/deployments/{name}/…`: inference
 * keys, promote, rollback. The data plane (OIP under `/serving/{project}`) is data-plane.ts.
 */
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { Principal } from "../auth/principal.ts";
import type { RouteModule } from "../http/app.ts";
import { ConflictError, NotFoundError } from "../platform/errors.ts";
import type { Resource } from "../resources/model.ts";
import type { PlatformContext } from "../server/feature.ts";
import type { InferenceAuth } from "./auth.ts";
import type { DeploymentSpec, DeploymentStatus } from "./kinds.ts";
import { type ModelSource, ModelSourceError } from "./model-source.ts";

export interface ServingRouteDeps {
  readonly ctx: PlatformContext;
  readonly auth: InferenceAuth;
  readonly source: ModelSource;
}

interface P {
  project: string;
  name: string;
  version?: string;
}

export function servingRoutes(deps: ServingRouteDeps): RouteModule {
  return (app) => controlPlane(app, deps);
}

// ---------------------------------------------------------------------------------------------
// Control plane
// ---------------------------------------------------------------------------------------------

const Params = Type.Object({ project: Type.String(), name: Type.String() });

function controlPlane(app: FastifyInstance, { ctx, auth, source }: ServingRouteDeps): void {
  const base = "/api/v1/projects/:project/deployments/:name";
  const existing = async (principal: Principal, p: P, verb: "get" | "update"): Promise<Resource> => {
    await ctx.authz.check(principal, verb, "Deployment", p.project, p.name);
    const r = await ctx.repo.get({ kind: "Deployment", project: p.project, name: p.name });
    if (!r) throw new NotFoundError(`deployment "${p.name}" not found in project "${p.project}"`);
    return r;
  };

  app.post(
    `${base}/keys`,
    {
      schema: {
        tags: ["serving"],
        summary: "Create an inference key for the deployment (the secret is returned once)",
        params: Params,
        body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false }),
      },
    },
    async (req, reply) => {
      const p = req.params as P;
      await existing(req.principal, p, "update");
      return reply.status(201).send(await auth.createKey(p.project, p.name, (req.body as { name: string }).name));
    },
  );
  app.get(`${base}/keys`, { schema: { tags: ["serving"], summary: "List the deployment's inference keys (never the secrets)", params: Params } }, async (req) => {
    const p = req.params as P;
    await existing(req.principal, p, "get");
    return { items: await auth.listKeys(p.project, p.name) };
  });
  app.delete(
    `${base}/keys/:key`,
    { schema: { tags: ["serving"], summary: "Revoke an inference key (by id or name); effective at once", params: Type.Object({ project: Type.String(), name: Type.String(), key: Type.String() }) } },
    async (req) => {
      const p = req.params as P & { key: string };
      await existing(req.principal, p, "update");
      return auth.revokeKey(p.project, p.name, p.key);
    },
  );

  const setSpec = (principal: Principal, r: Resource, spec: DeploymentSpec) =>
    ctx.resources.update(principal, { kind: "Deployment", project: r.metadata.project ?? "", name: r.metadata.name }, {
      apiVersion: r.apiVersion,
      kind: r.kind,
      metadata: { name: r.metadata.name, project: r.metadata.project, labels: r.metadata.labels, annotations: r.metadata.annotations, resourceVersion: r.metadata.resourceVersion },
      spec,
    });

  app.post(
    `${base}/promote`,
    {
      schema: {
        tags: ["serving"],
        summary: "Make a version the primary with 100% of traffic (default: the canary, else the shadow); pins spec.model.version",
        params: Params,
        body: Type.Optional(Type.Object({ version: Type.Optional(Type.Integer({ minimum: 1 })) }, { additionalProperties: false })),
      },
    },
    async (req) => {
      const p = req.params as P;
      const r = await existing(req.principal, p, "update");
      const spec = r.spec as DeploymentSpec;
      const status = r.status as DeploymentStatus;
      const primary = status.serving?.find((s) => s.role === "primary")?.version;
      const asked = (req.body as { version?: number } | undefined)?.version;
      if (asked !== undefined) {
        // A version the registry does not have would leave the deployment Failed, its canary gone.
        try {
          await source.resolve(p.project, { name: spec.model.name, version: asked });
        } catch (e) {
          if (e instanceof ModelSourceError) throw new NotFoundError(`version: ${e.message}`);
          throw e;
        }
      }
      const wanted =
        asked ??
        status.serving?.filter((s) => s.role === "canary").sort((a, b) => b.percent - a.percent)[0]?.version ??
        status.serving?.find((s) => s.role === "shadow")?.version;
      if (wanted === undefined) throw new ConflictError(`deployment "${p.name}" has no canary or shadow version to promote; pass {"version": N}`);
      if (wanted === primary && !spec.traffic && !spec.shadow) throw new ConflictError(`version ${wanted} is already the primary`);
      const next: DeploymentSpec = { ...spec, model: { name: spec.model.name, version: wanted } };
      delete next.traffic;
      if (status.serving?.find((s) => s.role === "shadow")?.version === wanted) delete next.shadow;
      return setSpec(req.principal, r, next);
    },
  );
  app.post(
    `${base}/rollback`,
    { schema: { tags: ["serving"], summary: "Serve the previous primary version again (kept loaded, so the switch is instant); pins spec.model.version", params: Params } },
    async (req) => {
      const p = req.params as P;
      const r = await existing(req.principal, p, "update");
      const spec = r.spec as DeploymentSpec;
      const previous = (r.status as DeploymentStatus).previousVersion;
      if (previous === undefined) throw new ConflictError(`deployment "${p.name}" has no previous version to roll back to`);
      const next: DeploymentSpec = { ...spec, model: { name: spec.model.name, version: previous } };
      delete next.traffic;
      return setSpec(req.principal, r, next);
    },
  );
}
