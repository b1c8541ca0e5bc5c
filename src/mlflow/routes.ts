/**
 * Mounting MLflow endpoints. `mlflowRoutes(ctx, endpoints)` registers each endpoint under the
 * four prefixes MLflow clients use, in an encapsulated Fastify plugin with MLflow's error format:
 *
 *   /api/<v>/...                          unscoped: project "default" (reads by id: any readable project)
 *   /ajax-api/<v>/...
 *   /projects/{project}/api/<v>/...       MLFLOW_TRACKING_URI=http://host/projects/{project}
 *   /projects/{project}/ajax-api/<v>/...
 *
 * An endpoint path is relative to the version root, e.g. "mlflow/experiments/create" or
 * "mlflow-artifacts/artifacts/*". Handlers get an `MlflowCall` (principal, project, decoded
 * input) and return the response object (`undefined` → `{}`), always with HTTP 200.
 * Authentication failures come out as 401 UNAUTHENTICATED / 403 PERMISSION_DENIED.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Principal } from "../auth/principal.ts";
import type { RouteModule } from "../http/app.ts";
import type { PlatformContext } from "../server/feature.ts";
import { MlflowError, toMlflowError } from "./errors.ts";
import { normalizeQuery, type MlflowInput } from "./wire.ts";

declare module "fastify" {
  interface FastifyContextConfig {
    /** MLflow route whose body is not JSON: the handler reads `request.raw` (artifact uploads). */
    mlflowRaw?: boolean;
  }
}

export type MlflowMethod = "GET" | "POST" | "PATCH" | "DELETE" | "PUT";

/** One request to an MLflow endpoint, decoded. */
export interface MlflowCall {
  readonly principal: Principal;
  /** The URI's project: `/projects/{project}/...`, or "default" for the unscoped form. */
  readonly project: string;
  /** True for `/projects/{project}/...` URIs. */
  readonly scoped: boolean;
  /** GET: the query string (repeated keys → arrays); other methods: the JSON body ({} if none). */
  readonly input: MlflowInput;
  /** Path parameters of the endpoint (e.g. `model_id`, or `*` for a wildcard). */
  readonly params: Readonly<Record<string, string>>;
  readonly request: FastifyRequest;
  readonly reply: FastifyReply;
}

/** A response body already serialized as a JSON object (for large responses: no intermediate objects). */
export class RawJson {
  constructor(readonly json: string) {}
}

/** The response object (or RawJson), or undefined for `{}`. A raw endpoint sends the reply itself. */
export type MlflowHandler = (call: MlflowCall) => Promise<object | undefined> | object | undefined;

export interface MlflowEndpoint {
  readonly method: MlflowMethod;
  /** Relative to `/api/<version>/`, e.g. "mlflow/runs/search". Fastify syntax for params (`:id`, `*`). */
  readonly path: string;
  /** API version segment; default "2.0". */
  readonly version?: "2.0" | "3.0";
  /** Body is not JSON: left unread in `request.raw` for the handler (which sends the reply itself). */
  readonly raw?: boolean;
  readonly handler: MlflowHandler;
}

export const DEFAULT_PROJECT = "default";
export const PROJECT_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** The project a request is about: the `{project}` of a scoped URI, else "default". */
export function resolveProject(req: FastifyRequest): { project: string; scoped: boolean } {
  const p = (req.params as Record<string, string | undefined> | undefined)?.["forjaProject"];
  if (p === undefined) return { project: DEFAULT_PROJECT, scoped: false };
  if (!PROJECT_NAME.test(p)) throw MlflowError.notFound(`Project '${p}' does not exist.`);
  return { project: p, scoped: true };
}

/** The body limit of MLflow JSON endpoints: the platform's, but at least JSON_BODY_LIMIT. */
export function mlflowBodyLimit(ctx: PlatformContext): number {
  return Math.max(ctx.config.bodyLimitBytes, JSON_BODY_LIMIT);
}

/** Every prefix an MLflow API version is served under. */
export function mlflowPrefixes(version: "2.0" | "3.0"): string[] {
  return [`/api/${version}`, `/ajax-api/${version}`, `/projects/:forjaProject/api/${version}`, `/projects/:forjaProject/ajax-api/${version}`];
}

/** JSON bodies up to this size (log-inputs may carry large dataset profiles). */
const JSON_BODY_LIMIT = 32 * 1024 * 1024;
export const JSON_ONLY = "Bad Request. Content-Type must be one of ['application/json']";

/** True for `application/json` with or without parameters. */
export function isJsonContentType(ct: string | undefined): boolean {
  return typeof ct === "string" && /^application\/json\s*(;|$)/i.test(ct.trim());
}

function isJson(req: FastifyRequest): boolean {
  return isJsonContentType(req.headers["content-type"]);
}

function sendMlflowError(err: unknown, req: FastifyRequest, reply: FastifyReply, bodyLimit: number): FastifyReply {
  const { status, body } = toMlflowError(err, bodyLimit);
  if (status >= 500 && status !== 501) req.log.error({ err }, "mlflow request failed");
  return reply.status(status).type("application/json").send(JSON.stringify(body));
}

/** Error handler, body parsing and content-type rule of an MLflow plugin scope. */
function setupScope(scope: FastifyInstance, bodyLimit: number): void {
  scope.setErrorHandler((err, req, reply) => sendMlflowError(err, req, reply, bodyLimit));
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser("*", (req, payload, done) => {
    if (req.routeOptions.config.mlflowRaw) {
      done(null, undefined); // the handler streams request.raw
      return;
    }
    if (req.method === "POST" && !isJson(req)) {
      done(MlflowError.invalid(JSON_ONLY), undefined);
      return;
    }
    // JSON (or, leniently, an untyped DELETE/PATCH body): read up to the limit, parse.
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    payload.on("data", (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > bodyLimit) {
        failed = true;
        done(Object.assign(new Error("too large"), { code: "FST_ERR_CTP_BODY_TOO_LARGE", statusCode: 413 }), undefined);
        return;
      }
      chunks.push(c);
    });
    payload.on("error", (e) => {
      if (!failed) {
        failed = true;
        done(e, undefined);
      }
    });
    payload.on("end", () => {
      if (failed) return;
      const text = Buffer.concat(chunks).toString("utf8");
      if (text.trim() === "") {
        done(null, {});
        return;
      }
      try {
        done(null, JSON.parse(text) as unknown);
      } catch (e) {
        if (!isJson(req)) done(null, {});
        else done(MlflowError.invalid(`Bad Request: the body is not valid JSON (${(e as Error).message})`), undefined);
      }
    });
  });
}

/** The 404s of MLflow prefixes: empty body (MLflow's answer for RPCs it does not serve). */
const notFoundDone = new WeakSet<object>();
async function registerNotFound(app: FastifyInstance, bodyLimit: number): Promise<void> {
  if (notFoundDone.has(app.server)) return;
  notFoundDone.add(app.server);
  for (const version of ["2.0", "3.0"] as const) {
    for (const prefix of mlflowPrefixes(version)) {
      await app.register(
        (scope, _opts, done) => {
          setupScope(scope, bodyLimit);
          scope.setNotFoundHandler((_req, reply) => reply.status(404).send(""));
          done();
        },
        { prefix },
      );
    }
  }
}

/**
 * A RouteModule serving `endpoints` under every MLflow prefix. Call it once per feature
 * (tracking, registry, ...); the 404 handlers of the prefixes are installed once.
 */
export function mlflowRoutes(ctx: PlatformContext, endpoints: readonly MlflowEndpoint[]): RouteModule {
  const bodyLimit = mlflowBodyLimit(ctx);
  return async (app) => {
    await registerNotFound(app, bodyLimit);
    for (const version of ["2.0", "3.0"] as const) {
      const mine = endpoints.filter((e) => (e.version ?? "2.0") === version);
      if (mine.length === 0) continue;
      for (const prefix of mlflowPrefixes(version)) {
        await app.register(
          (scope, _opts, done) => {
            setupScope(scope, bodyLimit);
            for (const e of mine) {
              scope.route({
                method: e.method,
                url: `/${e.path.replace(/^\//, "")}`,
                bodyLimit,
                config: { mlflowRaw: e.raw === true },
                schema: { hide: true },
                handler: async (request, reply) => {
                  if ((request.method === "POST" || (request.method === "PUT" && !e.raw)) && !e.raw && !isJson(request)) {
                    throw MlflowError.invalid(JSON_ONLY);
                  }
                  const { project, scoped } = resolveProject(request);
                  const body: unknown = request.body;
                  if (request.method !== "GET" && body !== undefined && (typeof body !== "object" || body === null || Array.isArray(body))) {
                    throw MlflowError.invalid("Bad Request: the body must be a JSON object");
                  }
                  const input: MlflowInput = request.method === "GET" ? normalizeQuery(request.query) : ((body as MlflowInput | undefined) ?? {});
                  const params: Record<string, string> = {};
                  for (const [k, v] of Object.entries((request.params as Record<string, string> | undefined) ?? {})) {
                    if (k !== "forjaProject") params[k] = v;
                  }
                  const result = await e.handler({ principal: request.principal, project, scoped, input, params, request, reply });
                  if (e.raw || reply.sent) return reply;
                  const text = result instanceof RawJson ? result.json : JSON.stringify(result ?? {});
                  return reply.status(200).type("application/json").send(text);
                },
              });
            }
            done();
          },
          { prefix },
        );
      }
    }
  };
}
