/**
 * The hot MLflow logging calls (`runs/log-batch`, `runs/log-metric`, ...) served straight from
 * node:http, ahead of Fastify, under the same four prefixes as every MLflow endpoint (see
 * routes.ts). A training loop calls them thousands of times per run, and for a 100-metric
 * log-batch Fastify's request pipeline (routing, hooks, content-type parser, reply) was the
 * largest cost left after the store (ADR 0012, "The HTTP path").
 *
 * The behaviour is the one the Fastify-mounted endpoints have, and the contract tests run
 * against it: authentication (Bearer or Basic) first, then the JSON content-type rule, the body
 * limit (413), JSON parsing, the object check; MLflow's error body and status for every failure;
 * HTTP 200 with `{}` on success. Only POSTs take this path; any other method on these paths
 * reaches Fastify, which answers MLflow's empty 404.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { RawMount } from "../http/app.ts";
import { authenticate } from "../http/app.ts";
import { discardBody, readLimitedBody, type BodyErrors } from "../http/body.ts";
import type { TokenService } from "../auth/tokens.ts";
import type { CallScope } from "./access.ts";
import { MlflowError, toMlflowError } from "./errors.ts";
import { DEFAULT_PROJECT, JSON_ONLY, PROJECT_NAME, isJsonContentType } from "./routes.ts";
import type { MlflowInput } from "./wire.ts";

/** A JSON POST endpoint whose answer is always `{}`. */
export interface RawMlflowEndpoint {
  /** Relative to `/api/2.0/`, e.g. "mlflow/runs/log-batch". */
  readonly path: string;
  readonly handler: (call: CallScope, input: MlflowInput) => Promise<unknown>;
}

export interface RawMlflowDeps {
  readonly tokens: TokenService;
  readonly logger: Logger;
  /** Bodies larger than this are refused with 413. */
  readonly bodyLimit: number;
}

const JSON_TYPE = "application/json; charset=utf-8";
const EMPTY = "{}";

/** Splits `/…/api/2.0/<path>` into project and endpoint, or undefined when it is not one of ours. */
function route(
  path: string,
  endpoints: ReadonlyMap<string, RawMlflowEndpoint>,
): { readonly endpoint: RawMlflowEndpoint; readonly project: string | undefined } | undefined {
  let rest = path;
  let project: string | undefined;
  if (path.startsWith("/projects/")) {
    const slash = path.indexOf("/", 10);
    if (slash < 0) return undefined;
    project = path.slice(10, slash);
    rest = path.slice(slash);
  }
  const endpoint = endpoints.get(rest);
  return endpoint ? { endpoint, project } : undefined;
}

/** A RawMount for `endpoints` under `/api/2.0`, `/ajax-api/2.0` and their `/projects/{p}/` forms. */
export function mlflowRawMount(deps: RawMlflowDeps, endpoints: readonly RawMlflowEndpoint[]): RawMount {
  const byPath = new Map<string, RawMlflowEndpoint>();
  for (const e of endpoints) {
    const p = e.path.replace(/^\//, "");
    byPath.set(`/api/2.0/${p}`, e);
    byPath.set(`/ajax-api/2.0/${p}`, e);
  }
  const log = deps.logger.child({ component: "mlflow" });

  const send = (req: IncomingMessage, res: ServerResponse, status: number, body: string) => {
    // An answer before the body was read (or after it was refused): drop the rest, bounded.
    discardBody(req);
    res.writeHead(status, { "content-type": JSON_TYPE, "content-length": Buffer.byteLength(body) });
    res.end(body);
  };

  const fail = (req: IncomingMessage, res: ServerResponse, path: string, err: unknown) => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const { status, body } = toMlflowError(err, deps.bodyLimit);
    if (status >= 500 && status !== 501) log.error({ err, method: req.method, url: path }, "mlflow request failed");
    log.info({ method: req.method, url: path, status }, "request");
    send(req, res, status, JSON.stringify(body));
  };

  const bodyErrors: BodyErrors = {
    tooLarge: () => Object.assign(new Error("too large"), { code: "FST_ERR_CTP_BODY_TOO_LARGE", statusCode: 413 }),
    incomplete: () => MlflowError.invalid("Bad Request: the request body is incomplete (the client closed the connection)"),
  };

  /** The body as a JSON object (`{}` if empty), with MLflow's errors. */
  const readJson = async (req: IncomingMessage): Promise<MlflowInput> => {
    const text = (await readLimitedBody(req, deps.bodyLimit, bodyErrors))?.toString("utf8") ?? "";
    if (text.trim() === "") return {};
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (e) {
      throw MlflowError.invalid(`Bad Request: the body is not valid JSON (${(e as Error).message})`);
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw MlflowError.invalid("Bad Request: the body must be a JSON object");
    return body as MlflowInput;
  };

  const serve = async (req: IncomingMessage, res: ServerResponse, endpoint: RawMlflowEndpoint, rawProject: string | undefined) => {
    const principal = await authenticate(req, deps.tokens);
    if (!isJsonContentType(req.headers["content-type"])) throw MlflowError.invalid(JSON_ONLY);
    let project = DEFAULT_PROJECT;
    if (rawProject !== undefined) {
      let decoded: string | undefined;
      try {
        decoded = decodeURIComponent(rawProject);
      } catch {
        decoded = undefined;
      }
      if (decoded === undefined || !PROJECT_NAME.test(decoded)) throw MlflowError.notFound(`Project '${decoded ?? rawProject}' does not exist.`);
      project = decoded;
    }
    const input = await readJson(req);
    await endpoint.handler({ principal, project, scoped: rawProject !== undefined }, input);
    send(req, res, 200, EMPTY);
  };

  return {
    matches: (method, url) => method === "POST" && route(pathOf(url), byPath) !== undefined,
    handle(req, res) {
      const path = pathOf(req.url ?? "/");
      const r = route(path, byPath);
      if (!r) throw new Error(`mlflowRawMount: ${path} is not one of its routes`); // matches() said it was
      serve(req, res, r.endpoint, r.project).catch((e: unknown) => fail(req, res, path, e));
    },
  };
}

function pathOf(url: string): string {
  const q = url.indexOf("?");
  return q < 0 ? url : url.slice(0, q);
}
