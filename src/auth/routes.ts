/** Routes for the caller's identity and API tokens. */
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { Authorizer } from "./authorizer.ts";
import type { TokenService } from "./tokens.ts";

const TokenInfo = Type.Object({
  id: Type.String(),
  user: Type.String(),
  name: Type.String(),
  prefix: Type.String(),
  createdAt: Type.String(),
  expiresAt: Type.Optional(Type.String()),
  lastUsedAt: Type.Optional(Type.String()),
  revokedAt: Type.Optional(Type.String()),
  /** A project-scoped token (pipeline steps) acts only in `project`, with at most `role`. */
  scope: Type.Optional(Type.Object({ project: Type.String(), role: Type.String() })),
});

export function authRoutes(tokens: TokenService, authz: Authorizer) {
  return (app: FastifyInstance) => {
    app.get(
      "/api/v1/whoami",
      {
        schema: {
          tags: ["auth"],
          summary: "The caller's identity and project roles",
          response: {
            200: Type.Object({
              user: Type.String(),
              admin: Type.Boolean(),
              projects: Type.Array(Type.Object({ name: Type.String(), role: Type.String() })),
              /** Set when the token acts only in one project, with at most `role` (pipeline step tokens). */
              scope: Type.Optional(Type.Object({ project: Type.String(), role: Type.String() })),
            }),
          },
        },
      },
      async (req) => {
        const p = req.principal;
        const names = (await authz.readableProjects({ ...p, admin: false })) ?? [];
        const projects = [];
        for (const name of names) projects.push({ name, role: (await authz.roleIn({ ...p, admin: false }, name)) ?? "viewer" });
        return { user: p.name, admin: p.admin, projects, ...(p.scope ? { scope: { project: p.scope.project, role: p.scope.role } } : {}) };
      },
    );
    app.get(
      "/api/v1/tokens",
      {
        schema: {
          tags: ["auth"],
          summary: "List API tokens (yours; admins: everyone's, or ?user=)",
          querystring: Type.Object({ user: Type.Optional(Type.String()), includeRevoked: Type.Optional(Type.Boolean()) }),
          response: { 200: Type.Object({ items: Type.Array(TokenInfo) }) },
        },
      },
      async (req) => {
        const q = req.query as { user?: string; includeRevoked?: boolean };
        return { items: await tokens.list(req.principal, { ...(q.user ? { user: q.user } : {}), ...(q.includeRevoked ? { includeRevoked: true } : {}) }) };
      },
    );
    app.post(
      "/api/v1/tokens",
      {
        schema: {
          tags: ["auth"],
          summary: "Create an API token. The secret is in the response only.",
          body: Type.Object(
            {
              name: Type.String({ minLength: 1, maxLength: 128 }),
              user: Type.Optional(Type.String()),
              expiresInSeconds: Type.Optional(Type.Integer({ minimum: 1 })),
              expiresAt: Type.Optional(Type.String({ format: "date-time" })),
            },
            { additionalProperties: false },
          ),
          response: { 201: Type.Intersect([TokenInfo, Type.Object({ token: Type.String() })]) },
        },
      },
      async (req, reply) => {
        const body = req.body as { name: string; user?: string; expiresInSeconds?: number; expiresAt?: string };
        return reply.status(201).send(await tokens.create(req.principal, body));
      },
    );
    app.delete(
      "/api/v1/tokens/:id",
      { schema: { tags: ["auth"], summary: "Revoke a token (by id, or by name for your own)", params: Type.Object({ id: Type.String() }), response: { 200: TokenInfo } } },
      async (req) => tokens.revoke(req.principal, (req.params as { id: string }).id),
    );
  };
}
