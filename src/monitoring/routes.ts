/** Monitoring API: a deployment's drift report and its payload log. */
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { InvalidInputError } from "../platform/errors.ts";
import type { PlatformContext } from "../server/feature.ts";
import { DEFAULT_WINDOW, type DriftService } from "./drift-service.ts";
import type { PayloadLog } from "./payload-log.ts";

const Params = Type.Object({ project: Type.String(), name: Type.String() });
type P = { project: string; name: string };

export function monitoringRoutes(ctx: PlatformContext, drift: DriftService, payloads: PayloadLog) {
  return (app: FastifyInstance) => {
    const base = "/api/v1/projects/:project/deployments/:name";
    app.get(
      `${base}/drift`,
      {
        schema: {
          tags: ["monitoring"],
          summary: "Data drift of the deployment's logged requests against the served version's reference dataset (per feature and dataset)",
          params: Params,
          querystring: Type.Object({
            window: Type.Optional(Type.String({ description: `how far back: 30s, 15m, 1h, 7d (default ${DEFAULT_WINDOW})` })),
            since: Type.Optional(Type.String({ description: "only rows logged at or after this time (ISO 8601 or ms since the epoch); overrides window" })),
            version: Type.Optional(Type.Integer({ minimum: 1, description: "model version (default: the primary being served)" })),
          }),
        },
      },
      async (req) => {
        const p = req.params as P;
        const q = req.query as { window?: string; since?: string; version?: number };
        await ctx.authz.check(req.principal, "get", "Deployment", p.project, p.name);
        const since = q.since === undefined ? undefined : /^\d+$/.test(q.since) ? Number(q.since) : Date.parse(q.since);
        if (since !== undefined && Number.isNaN(since)) throw InvalidInputError.field("since", `"${q.since}" is not a time (ISO 8601 or ms since the epoch)`);
        return drift.report(p.project, p.name, {
          ...(q.window ? { window: q.window } : {}),
          ...(since !== undefined ? { since } : {}),
          ...(q.version !== undefined ? { version: q.version } : {}),
        });
      },
    );
    app.get(
      `${base}/payloads`,
      {
        schema: {
          tags: ["monitoring"],
          summary: "The deployment's payload log: newest rows first, with the log's size and dropped-row count",
          params: Params,
          querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })) }),
        },
      },
      async (req) => {
        const p = req.params as P;
        const limit = (req.query as { limit?: number }).limit ?? 100;
        await ctx.authz.check(req.principal, "get", "Deployment", p.project, p.name);
        await payloads.flush();
        const db = ctx.database.db;
        const rows = await db
          .selectFrom("monitoring_payloads")
          .select(["id", "version", "ts", "inputs", "prediction"])
          .where("project", "=", p.project)
          .where("deployment", "=", p.name)
          .orderBy("id", "desc")
          .limit(limit)
          .execute();
        const total = await db
          .selectFrom("monitoring_payloads")
          .select((eb) => eb.fn.countAll<number>().as("n"))
          .where("project", "=", p.project)
          .where("deployment", "=", p.name)
          .executeTakeFirst();
        return {
          config: payloads.config(p.project, p.name),
          rows: Number(total?.n ?? 0),
          ...payloads.statsOf(p.project, p.name),
          items: rows.map((r) => ({
            id: Number(r.id),
            version: Number(r.version),
            time: new Date(Number(r.ts)).toISOString(),
            inputs: JSON.parse(r.inputs) as unknown,
            prediction: r.prediction === null ? null : (JSON.parse(r.prediction) as unknown),
          })),
        };
      },
    );
  };
}
