/**
 * Serving routes.
 * - Data plane (Open Inference Protocol v2 REST, V1 `:predict`), per project under
 *   `/serving/{project}`: its own encapsulated plugin with OIP's `{"error": "..."}` bodies, raw
 *   body parsing (JSON and the binary tensor extension), and its own authentication (platform
 *   token of a project member, or a deployment key; cached, see auth.ts).
 * - Control plane under `/api/v1/projects/{p}/deployments/{name}/…`: keys, promote, rollback.
 */
import { Type } from "@sinclair/typebox";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Principal } from "../auth/principal.ts";
import type { RouteModule } from "../http/app.ts";
import { statusFor } from "../http/errors.ts";
import { ConflictError, isForjaError, NotFoundError } from "../platform/errors.ts";
import type { Resource } from "../resources/model.ts";
import type { PlatformContext } from "../server/feature.ts";
import { VERSION } from "../server/version.ts";
import type { InferenceAuth } from "./auth.ts";
import type { LiveDeployment, LoadedVersion, ServingEngine } from "./engine.ts";
import { encodeResponse, encodeV1, parseBody, parseInferRequest, parseV1Request } from "./infer.ts";
import type { DeploymentSpec, DeploymentStatus } from "./kinds.ts";
import { ServingError } from "./tensors.ts";

export interface ServingRouteDeps {
  readonly ctx: PlatformContext;
  readonly engine: ServingEngine;
  readonly auth: InferenceAuth;
}

interface P {
  project: string;
  name: string;
  version?: string;
}

const PUBLIC = { config: { public: true }, schema: { hide: true } } as const;

export function servingRoutes(deps: ServingRouteDeps): RouteModule {
  return async (app) => {
    controlPlane(app, deps);
    await app.register((sp, _opts, done) => {
      dataPlane(sp, deps);
      done();
    }, { prefix: "/serving/:project" });
  };
}

// ---------------------------------------------------------------------------------------------
// Data plane
// ---------------------------------------------------------------------------------------------

function dataPlane(app: FastifyInstance, { ctx, engine, auth }: ServingRouteDeps): void {
  const { metrics } = engine;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_req, body, done) => done(null, body));
  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err instanceof ServingError) return reply.status(err.status).send({ error: err.message });
    if (isForjaError(err)) return reply.status(statusFor(err.code)).send({ error: err.message });
    if (err.code === "FST_ERR_CTP_BODY_TOO_LARGE") return reply.status(413).send({ error: `request body is larger than ${ctx.config.bodyLimitBytes} bytes` });
    if (typeof err.statusCode === "number" && err.statusCode < 500) return reply.status(err.statusCode).send({ error: err.message });
    req.log.error({ err }, "inference failed");
    return reply.status(500).send({ error: "internal error" });
  });
  app.setNotFoundHandler((req, reply) => reply.status(404).send({ error: `no route for ${req.method} ${req.url.split("?")[0]}` }));

  const deployment = (p: P): LiveDeployment => {
    const d = engine.get(p.project, p.name);
    if (!d) throw new ServingError(404, `model '${p.name}' is not deployed in project '${p.project}'`);
    return d;
  };
  const versionOf = (d: LiveDeployment, p: P): LoadedVersion => {
    const r = d.route;
    if (!r) throw new ServingError(503, `model '${d.name}' is not ready`);
    if (p.version === undefined) return r.primary;
    const v = /^\d+$/.test(p.version) ? r.served.get(Number(p.version)) : undefined;
    if (!v) throw new ServingError(404, `model '${d.name}' has no served version '${p.version}'; served: ${[...r.served.keys()].join(", ")}`);
    return v;
  };
  const authorize = (req: FastifyRequest, p: P) => auth.check(req.headers.authorization, p.project, p.name);
  const metaAuth = async (req: FastifyRequest, project: string) => {
    // Server-level endpoints: any credential valid for the project.
    await auth.check(req.headers.authorization, project, "").catch((e: unknown) => {
      if (e instanceof ServingError && e.status === 403 && e.message.startsWith("this key belongs to deployment")) return "";
      throw e;
    });
  };

  app.get("/v2/health/live", PUBLIC, () => ({ live: true }));
  app.get("/v2/health/ready", PUBLIC, (req, reply) => {
    const { project } = req.params as P;
    const all = engine.inProject(project);
    const ready = all.every((d) => d.route !== undefined);
    return reply.status(ready ? 200 : 503).send({ ready });
  });
  app.get("/v2", PUBLIC, async (req) => {
    await metaAuth(req, (req.params as P).project);
    return { name: "forja", version: VERSION, extensions: ["binary_tensor_data"] };
  });

  const modelMeta = async (req: FastifyRequest) => {
    const p = req.params as P;
    await authorize(req, p);
    const d = deployment(p);
    const v = versionOf(d, p);
    return {
      name: d.name,
      versions: [...(d.route?.served.keys() ?? [])].map(String),
      platform: "onnx_onnxv1",
      inputs: v.inputs.map((i) => i.meta),
      outputs: v.outputs,
    };
  };
  app.get("/v2/models/:name", PUBLIC, modelMeta);
  app.get("/v2/models/:name/versions/:version", PUBLIC, modelMeta);

  const modelReady = async (req: FastifyRequest, reply: FastifyReply) => {
    const p = req.params as P;
    await authorize(req, p);
    const d = deployment(p);
    const ready = p.version === undefined ? d.route !== undefined : d.route?.served.has(Number(p.version)) === true;
    return reply.status(ready ? 200 : 503).send({ name: d.name, ready });
  };
  app.get("/v2/models/:name/ready", PUBLIC, modelReady);
  app.get("/v2/models/:name/versions/:version/ready", PUBLIC, modelReady);

  const infer = async (req: FastifyRequest, reply: FastifyReply) => {
    const t0 = performance.now();
    const p = req.params as P;
    const credential = await authorize(req, p);
    const d = deployment(p);
    if (!d.take(credential)) {
      metrics.requests.inc({ project: p.project, deployment: p.name, version: "", status: "429" });
      const rl = d.rateLimit;
      return reply
        .status(429)
        .header("retry-after", "1")
        .send({ error: `rate limit exceeded: ${rl?.rps} requests/s (burst ${rl?.burst}) per credential for deployment '${d.name}'` });
    }
    const v = p.version === undefined ? (d.pick() ?? versionOf(d, p)) : versionOf(d, p);
    v.inFlight++;
    d.inFlight.inc();
    try {
      const parsed = parseInferRequest(v, parseBody(req.body as Buffer | undefined, req.headers["inference-header-content-length"]));
      const out = await v.run(parsed.feeds);
      const enc = encodeResponse(d.name, v, parsed, out);
      if (d.route?.shadow && p.version === undefined) d.mirror(parsed.feeds, out);
      ctx.hooks.inferenceServed?.({ project: p.project, deployment: d.name, version: v.version, inputs: parsed.feeds, outputs: out });
      v.count(200);
      v.latency.observe((performance.now() - t0) / 1000);
      if (enc.headerLength !== undefined) {
        return reply.header("inference-header-content-length", String(enc.headerLength)).type("application/octet-stream").send(enc.body);
      }
      return reply.type("application/json").send(enc.body);
    } catch (e) {
      v.count(e instanceof ServingError ? e.status : 500);
      if (!(e instanceof ServingError)) throw new ServingError(500, `model execution failed: ${(e as Error).message ?? String(e)}`);
      throw e;
    } finally {
      v.inFlight--;
      d.inFlight.dec();
    }
  };
  app.post("/v2/models/:name/infer", PUBLIC, infer);
  app.post("/v2/models/:name/versions/:version/infer", PUBLIC, infer);

  // V1: GET /v1/models/{name} (ready), POST /v1/models/{name}:predict
  app.get("/v1/models/:name", PUBLIC, async (req, reply) => {
    const p = req.params as P;
    await authorize(req, p);
    const d = deployment(p);
    return reply.status(d.route ? 200 : 503).send({ name: d.name, ready: d.route !== undefined });
  });
  app.post("/v1/models/:target", PUBLIC, async (req, reply) => {
    const t0 = performance.now();
    const { project, target } = req.params as { project: string; target: string };
    const colon = target.lastIndexOf(":");
    if (colon <= 0 || target.slice(colon + 1) !== "predict") throw new ServingError(404, `no route for POST ${req.url}: use /v1/models/{name}:predict`);
    const p: P = { project, name: target.slice(0, colon) };
    const credential = await authorize(req, p);
    const d = deployment(p);
    if (!d.take(credential)) return reply.status(429).header("retry-after", "1").send({ error: `rate limit exceeded for deployment '${d.name}'` });
    const v = d.pick() ?? versionOf(d, p);
    v.inFlight++;
    d.inFlight.inc();
    try {
      const { json } = parseBody(req.body as Buffer | undefined, undefined);
      const { feeds, rows } = parseV1Request(v, json);
      const out = await v.run(feeds);
      if (d.route?.shadow) d.mirror(feeds, out);
      ctx.hooks.inferenceServed?.({ project, deployment: d.name, version: v.version, inputs: feeds, outputs: out });
      v.count(200);
      v.latency.observe((performance.now() - t0) / 1000);
      return reply.type("application/json").send(encodeV1(v, out, rows));
    } catch (e) {
      v.count(e instanceof ServingError ? e.status : 500);
      if (!(e instanceof ServingError)) throw new ServingError(500, `model execution failed: ${(e as Error).message ?? String(e)}`);
      throw e;
    } finally {
      v.inFlight--;
      d.inFlight.dec();
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Control plane
// ---------------------------------------------------------------------------------------------

const Params = Type.Object({ project: Type.String(), name: Type.String() });

function controlPlane(app: FastifyInstance, { ctx, auth }: ServingRouteDeps): void {
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
      const wanted =
        (req.body as { version?: number } | undefined)?.version ??
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
