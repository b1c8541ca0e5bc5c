/**
 * First start: an admin user and a `default` project owned by it. Idempotent.
 */
import { SYSTEM } from "../auth/principal.ts";
import type { PlatformContext } from "./feature.ts";

export const ADMIN_USER = "admin";
export const DEFAULT_PROJECT = "default";

export async function bootstrap(ctx: PlatformContext): Promise<void> {
  const users = await ctx.repo.list({ kind: "User", project: "", limit: 1 });
  if (users.items.length > 0) return;
  await ctx.resources.apply(SYSTEM, [
    {
      apiVersion: "forja.dev/v1",
      kind: "User",
      metadata: { name: ADMIN_USER },
      spec: { displayName: "Platform administrator", admin: true, disabled: false },
    },
    {
      apiVersion: "forja.dev/v1",
      kind: "Project",
      metadata: { name: DEFAULT_PROJECT },
      spec: { displayName: "Default project", members: [{ user: ADMIN_USER, role: "owner" }] },
    },
  ]);
  ctx.logger.info({ user: ADMIN_USER, project: DEFAULT_PROJECT }, "first start: created the admin user and the default project");
}

/**
 * Makes sure the client config at `path` lets the local CLI reach this server as admin:
 * keeps a working one, otherwise mints a new admin token and writes it (mode 0600).
 * The token is never logged.
 */
export async function ensureLocalClientConfig(ctx: PlatformContext, path: string): Promise<"kept" | "written"> {
  const { readClientConfig, writeClientConfig } = await import("../client/config.ts");
  const url = ctx.publicUrl();
  const existing = readClientConfig(path);
  if (existing?.server === url && existing.token) {
    try {
      await ctx.tokens.authenticate(existing.token);
      return "kept";
    } catch {
      /* stale token: replace it */
    }
  }
  const created = await ctx.tokens.create(SYSTEM, { name: `local-cli-${new Date().toISOString().replace(/[:.]/g, "-")}`, user: ADMIN_USER });
  writeClientConfig(path, { ...(existing ?? {}), server: url, token: created.token, project: existing?.project ?? DEFAULT_PROJECT });
  return "written";
}
