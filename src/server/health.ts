/** Probes and metrics. /healthz: the process is up. /readyz: store reachable, controllers running. */
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { ForbiddenError, errorMessage } from "../platform/errors.ts";
import type { PlatformContext } from "./feature.ts";

export function healthRoutes(ctx: PlatformContext) {
  return (app: FastifyInstance) => {
    app.get("/healthz", { config: { public: true }, schema: { tags: ["health"], response: { 200: Type.Object({ status: Type.Literal("ok") }) } } }, () => ({
      status: "ok" as const,
    }));
    app.get("/readyz", { config: { public: true }, schema: { tags: ["health"] } }, async (_req, reply) => {
      const checks: Record<string, string> = {};
      const probe = async (name: string, fn: () => Promise<void>) => {
        try {
          await fn();
          checks[name] = "ok";
        } catch (e) {
          checks[name] = errorMessage(e);
        }
      };
      await probe("store", () => ctx.database.ping());
      await probe("artifacts", () => ctx.artifacts.ping());
      await probe("controllers", () => (ctx.controllers.isRunning ? Promise.resolve() : Promise.reject(new Error("not running"))));
      const ok = Object.values(checks).every((v) => v === "ok");
      return reply.status(ok ? 200 : 503).send({ status: ok ? "ready" : "not ready", checks });
    });
  };
}

/** Prometheus exposition; platform admins only (configure Prometheus with a bearer token). */
export function metricsRoutes(ctx: PlatformContext) {
  return (app: FastifyInstance) => {
    app.get("/metrics", { schema: { tags: ["health"], summary: "Prometheus metrics (admin token)" } }, async (req, reply) => {
      if (!req.principal.admin) throw new ForbiddenError("metrics are for platform admins");
      return reply.type(ctx.metrics.contentType).send(await ctx.metrics.metrics());
    });
  };
}
