/**
 * Starts a real Forja server for a test: ephemeral port on 127.0.0.1, temp data dir,
 * SQLite by default (or a given database URL), and an admin token.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SYSTEM } from "../../src/auth/principal.ts";
import { ForjaClient } from "../../src/client/client.ts";
import { loadServerConfig } from "../../src/platform/config.ts";
import { createPlatform, type Platform } from "../../src/server/platform.ts";

export interface TestServer {
  readonly url: string;
  readonly dataDir: string;
  readonly adminToken: string;
  readonly platform: Platform;
  readonly admin: ForjaClient;
  /** A client for a new user with the given project roles. */
  user(name: string, roles?: Record<string, "owner" | "editor" | "viewer">): Promise<{ token: string; client: ForjaClient }>;
  fetch(path: string, init?: RequestInit & { token?: string | null }): Promise<Response>;
  stop(): Promise<void>;
}

export async function startTestServer(opts: { databaseUrl?: string; dataDir?: string; env?: Record<string, string> } = {}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), "forja-test-"));
  const config = loadServerConfig(
    { ...opts.env },
    { dataDir, host: "127.0.0.1", port: 0, logLevel: "silent", writeClientConfig: false, ...(opts.databaseUrl ? { databaseUrl: opts.databaseUrl } : {}) },
  );
  const platform = await createPlatform(config);
  const url = await platform.start();
  const { token: adminToken } = await platform.ctx.tokens.create(SYSTEM, { name: `test-${Date.now()}-${Math.random()}`, user: "admin" });
  const admin = new ForjaClient({ server: url, token: adminToken });
  return {
    url,
    dataDir,
    adminToken,
    platform,
    admin,
    async user(name, roles = {}) {
      await admin.apply([{ apiVersion: "forja.dev/v1", kind: "User", metadata: { name }, spec: {} }]);
      for (const [project, role] of Object.entries(roles)) {
        const p = await admin.get<{ spec: { members: { user: string; role: string }[] } }>("Project", project).catch(() => undefined);
        const members = (p?.spec.members ?? []).filter((m) => m.user !== name);
        await admin.apply([{ apiVersion: "forja.dev/v1", kind: "Project", metadata: { name: project }, spec: { members: [...members, { user: name, role }] } }]);
      }
      const { token } = await platform.ctx.tokens.create(SYSTEM, { name: `t-${Math.random()}`, user: name });
      return { token, client: new ForjaClient({ server: url, token }) };
    },
    fetch(path, init = {}) {
      const headers = new Headers(init.headers);
      const token = init.token === undefined ? adminToken : init.token;
      if (token) headers.set("authorization", `Bearer ${token}`);
      return fetch(url + path, { ...init, headers });
    },
    async stop() {
      await platform.stop();
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
