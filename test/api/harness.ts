/**
 * Shared by the API tests: a real server (like test/support/server.ts) that also serves
 * `Widget`, a small project-scoped kind defined here — the core has no namespaced kind
 * yet, and tenancy, cascade deletion and project routes need one. Optionally logs through
 * a caller-supplied pino logger (to inspect what the server writes).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Type } from "@sinclair/typebox";
import type { Logger } from "pino";
import { expect } from "vitest";
import { SYSTEM } from "../../src/auth/principal.ts";
import { ForjaClient } from "../../src/client/client.ts";
import { loadServerConfig } from "../../src/platform/config.ts";
import type { KindDefinition } from "../../src/resources/kinds.ts";
import type { Resource } from "../../src/resources/model.ts";
import type { FeatureModule } from "../../src/server/feature.ts";
import { createPlatform, features, type Platform } from "../../src/server/platform.ts";

export const API = "forja.dev/v1";

export const WidgetSpec = Type.Object(
  {
    size: Type.Integer({ minimum: 1, maximum: 100 }),
    color: Type.Optional(Type.Union([Type.Literal("red"), Type.Literal("blue")])),
    tags: Type.Optional(Type.Array(Type.String({ maxLength: 32 }))),
  },
  { additionalProperties: false },
);

export const WidgetKind: KindDefinition<typeof WidgetSpec> = {
  kind: "Widget",
  plural: "widgets",
  singular: "widget",
  scope: "Project",
  description: "Test-only project-scoped kind.",
  spec: WidgetSpec,
  status: Type.Object({}),
  initialStatus: () => ({}),
  columns: [{ header: "SIZE", path: "spec.size" }],
};

const testFeature: FeatureModule = { name: "test-widgets", kinds: [WidgetKind] };

export interface Server {
  readonly url: string;
  readonly adminToken: string;
  readonly platform: Platform;
  readonly admin: ForjaClient;
  /** Creates (or re-uses) a user, gives it the roles, and returns a fresh token for it. */
  user(name: string, roles?: Record<string, "owner" | "editor" | "viewer">): Promise<{ token: string; client: ForjaClient }>;
  /** fetch relative to the server; authenticated as admin unless `token` is given (null: none). */
  fetch(path: string, init?: RequestInit & { token?: string | null }): Promise<Response>;
  /** JSON request; returns status and parsed body. */
  call(method: string, path: string, body?: unknown, token?: string | null): Promise<{ status: number; body: Json; headers: Headers }>;
  stop(): Promise<void>;
}

export async function startServer(opts: { env?: Record<string, string>; logger?: Logger } = {}): Promise<Server> {
  const dataDir = mkdtempSync(join(tmpdir(), "forja-api-test-"));
  const config = loadServerConfig({ ...opts.env }, { dataDir, host: "127.0.0.1", port: 0, logLevel: "silent", writeClientConfig: false });
  const platform = await createPlatform(config, { features: [...features(), testFeature], ...(opts.logger ? { logger: opts.logger } : {}) });
  const url = await platform.start();
  const { token: adminToken } = await platform.ctx.tokens.create(SYSTEM, { name: "test-admin", user: "admin" });
  const admin = new ForjaClient({ server: url, token: adminToken });
  let tokenSeq = 0;
  const doFetch = (path: string, init: RequestInit & { token?: string | null } = {}) => {
    const headers = new Headers(init.headers);
    const token = init.token === undefined ? adminToken : init.token;
    if (token) headers.set("authorization", `Bearer ${token}`);
    return fetch(url + path, { ...init, headers });
  };
  return {
    url,
    adminToken,
    platform,
    admin,
    async user(name, roles = {}) {
      await admin.apply([{ apiVersion: API, kind: "User", metadata: { name }, spec: {} }]);
      for (const [project, role] of Object.entries(roles)) {
        const p = await admin.get<Resource<{ members: { user: string; role: string }[] }>>("Project", project).catch(() => undefined);
        const members = (p?.spec.members ?? []).filter((m) => m.user !== name);
        await admin.apply([{ apiVersion: API, kind: "Project", metadata: { name: project }, spec: { members: [...members, { user: name, role }] } }]);
      }
      const { token } = await platform.ctx.tokens.create(SYSTEM, { name: `t${++tokenSeq}`, user: name });
      return { token, client: new ForjaClient({ server: url, token }) };
    },
    fetch: doFetch,
    async call(method, path, body, token) {
      const init: RequestInit & { token?: string | null } = { method };
      if (token !== undefined) init.token = token;
      if (body !== undefined) {
        init.headers = { "content-type": "application/json" };
        init.body = JSON.stringify(body);
      }
      const res = await doFetch(path, init);
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        /* not JSON: keep the text */
      }
      return { status: res.status, body: parsed, headers: res.headers };
    },
    async stop() {
      await platform.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A parsed JSON response body, read freely by assertions (JSON.parse's own type). */
export type Json = ReturnType<typeof JSON.parse>;

/** A resource as served, with spec and status read freely. */
export type Res = Resource<Json, Json>;

/** A manifest as the tests write them. */
export interface Doc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; project?: string; [field: string]: unknown };
  spec: Record<string, unknown>;
}

export function project(name: string, members: { user: string; role: string }[] = [], extra: Record<string, unknown> = {}): Doc {
  return { apiVersion: API, kind: "Project", metadata: { name, ...extra }, spec: { members } };
}

export function widget(projectName: string, name: string, spec: Record<string, unknown> = { size: 1 }, meta: Record<string, unknown> = {}): Doc {
  return { apiVersion: API, kind: "Widget", metadata: { name, project: projectName, ...meta }, spec };
}

export function user(name: string, spec: Record<string, unknown> = {}): Doc {
  return { apiVersion: API, kind: "User", metadata: { name }, spec };
}

/** Asserts an error response: the status, the error shape, and (optionally) that a field is named. */
export function expectError(res: { status: number; body: Json }, status: number, field?: string): void {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(typeof res.body?.error?.code).toBe("string");
  expect(typeof res.body?.error?.message).toBe("string");
  if (field !== undefined) {
    const paths = (res.body.error.details ?? []).map((d: { path: string }) => d.path);
    expect(res.body.error.message, `message should name ${field}`).toContain(field);
    if (res.body.error.details) expect(paths).toContain(field);
  }
}

/** Polls `fn` until it returns a value other than undefined (or times out). */
export async function eventually<T>(fn: () => Promise<T | undefined>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
