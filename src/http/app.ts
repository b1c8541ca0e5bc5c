/**
 * The HTTP server: Fastify with one error mapping, authentication on every route that
 * is not explicitly public, JSON and YAML bodies, and an OpenAPI document generated from
 * the route schemas (which are the same TypeBox schemas the services validate with).
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from "fastify";
import swagger from "@fastify/swagger";
import { parseAllDocuments } from "yaml";
import type { Logger } from "pino";
import type { Principal } from "../auth/principal.ts";
import type { TokenService } from "../auth/tokens.ts";
import { InvalidInputError, UnauthenticatedError, errorMessage } from "../platform/errors.ts";
import { createAjv } from "../resources/validation.ts";
import { sendError } from "./errors.ts";

declare module "fastify" {
  interface FastifyRequest {
    principal: Principal;
  }
  interface FastifyContextConfig {
    /** No authentication (health probes only). */
    public?: boolean;
  }
}

export interface HttpOptions {
  readonly logger: Logger;
  readonly bodyLimitBytes: number;
  readonly tokens: TokenService;
  readonly version: string;
}

export type RouteModule = (app: FastifyInstance) => void | Promise<void>;

export type RawHandler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Requests served by a plain node:http handler ahead of Fastify, on the same listener. Only for
 * a latency-critical path that does its own authentication, parsing and error bodies (the
 * inference data plane and the MLflow logging calls, ADR 0011); everything else goes through
 * Fastify.
 */
export interface RawMount {
  /** Whether this mount serves the request (called for every request: keep it cheap). */
  readonly matches: (method: string, url: string) => boolean;
  readonly handle: RawHandler;
}

/** Parses `Authorization: Bearer <token>` or `Basic base64(user:token)` (for MLflow clients). */
export async function authenticate(req: { readonly headers: IncomingHttpHeaders }, tokens: TokenService): Promise<Principal> {
  const header = req.headers.authorization;
  if (!header) throw new UnauthenticatedError("missing Authorization header: send 'Authorization: Bearer <token>'");
  const [scheme = "", value = ""] = header.split(/\s+/, 2);
  if (/^bearer$/i.test(scheme) && value) return tokens.authenticate(value);
  if (/^basic$/i.test(scheme) && value) {
    const decoded = Buffer.from(value, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon > 0) {
      const principal = await tokens.authenticate(decoded.slice(colon + 1));
      if (principal.name === decoded.slice(0, colon)) return principal;
    }
    throw new UnauthenticatedError("invalid credentials: use your user name and an API token as password");
  }
  throw new UnauthenticatedError("unsupported Authorization scheme: use Bearer <token>");
}

/** The first line of a yaml error without its trailing " at line L, column C:" (we print the position once). */
export function yamlReason(message: string): string {
  return (message.split("\n")[0] ?? "").replace(/\s*at line \d+, column \d+:?\s*$/, "");
}

export function parseYamlBody(text: string): unknown {
  const docs = parseAllDocuments(text);
  const values: unknown[] = [];
  for (const [i, doc] of docs.entries()) {
    const err = doc.errors[0];
    if (err) {
      const pos = err.linePos?.[0];
      throw InvalidInputError.field(
        "body",
        `invalid YAML${docs.length > 1 ? ` in document ${i + 1}` : ""}${pos ? ` at line ${pos.line}, column ${pos.col}` : ""}: ${yamlReason(err.message)}`,
      );
    }
    let v: unknown;
    try {
      v = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      // e.g. "Excessive alias count" (a YAML bomb): bad input, not a server error.
      throw InvalidInputError.field("body", `invalid YAML${docs.length > 1 ? ` in document ${i + 1}` : ""}: ${errorMessage(e).split("\n")[0]}`);
    }
    if (v !== null && v !== undefined) values.push(v);
  }
  return values.length === 1 ? values[0] : values;
}

export async function buildHttpApp(options: HttpOptions, modules: readonly RouteModule[], raw: readonly RawMount[] = []): Promise<FastifyInstance> {
  const app = Fastify({
    serverFactory: (fastifyHandler) => {
      const server = createServer((req, res) => {
        const url = req.url ?? "";
        const method = req.method ?? "GET";
        for (const m of raw) if (m.matches(method, url)) return m.handle(req, res);
        fastifyHandler(req, res);
      });
      // Fastify's defaults for the server it would have created itself.
      server.keepAliveTimeout = 72_000;
      server.requestTimeout = 0;
      return server;
    },
    loggerInstance: options.logger as unknown as FastifyBaseLogger,
    bodyLimit: options.bodyLimitBytes,
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: false,
    return503OnClosing: true,
    forceCloseConnections: true,
  });

  // Bodies are validated strictly (a "5" is not a number); query strings and params are coerced.
  const strict = createAjv({ coerceTypes: false });
  const coercing = createAjv({ coerceTypes: true });
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === "body" ? strict : coercing).compile(schema));
  // Response schemas document the API; serialization stays plain JSON so no field is ever dropped.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  // Only JSON and YAML bodies: text/plain (a Fastify default) would reach handlers as a string.
  app.removeContentTypeParser("text/plain");
  app.addContentTypeParser(
    ["application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"],
    { parseAs: "string" },
    (_req, body, done) => {
      try {
        done(null, parseYamlBody(body as string));
      } catch (e) {
        done(e as Error, undefined);
      }
    },
  );

  app.setErrorHandler((err, req, reply) => sendError(err, req, reply, options.bodyLimitBytes));
  app.setNotFoundHandler((req, reply) =>
    reply.status(404).send({ error: { code: "NotFound", message: `no route for ${req.method} ${req.url.split("?")[0]}` } }),
  );

  app.decorateRequest("principal", undefined as unknown as Principal);
  app.addHook("onRequest", async (req) => {
    if (req.routeOptions.config.public) return;
    req.principal = await authenticate(req, options.tokens);
  });
  app.addHook("onResponse", (req, reply, done) => {
    if (reply.statusCode >= 400) {
      req.log.info({ method: req.method, url: req.url.split("?")[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, "request");
    }
    done();
  });

  await app.register(swagger, {
    openapi: {
      openapi: "3.0.3",
      info: {
        title: "Forja API",
        version: options.version,
        description: "Every object is a declarative resource with spec (intent) and status (observed). Authenticate with `Authorization: Bearer <token>`.",
      },
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
      security: [{ bearer: [] }],
    },
  });

  for (const m of modules) await m(app);

  app.get("/api/v1/openapi.json", { schema: { hide: true } }, () => app.swagger());
  return app;
}
