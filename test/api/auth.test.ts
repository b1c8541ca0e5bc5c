/**
 * Authentication (bearer and basic, bad tokens, public routes) and authorization (admin,
 * project roles, tenancy, self-service projects, tokens) over HTTP. Plus: the secret of a
 * token never reaches the server log.
 */
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectError, type Json, project, type Res, type Server, startServer, user, widget } from "./harness.ts";

let s: Server;
beforeAll(async () => {
  s = await startServer();
});
afterAll(async () => s?.stop());

const basic = (name: string, secret: string) => `Basic ${Buffer.from(`${name}:${secret}`).toString("base64")}`;
const whoamiWith = (authorization: string) => s.fetch("/api/v1/whoami", { token: null, headers: { authorization } });

describe("authentication", () => {
  it("answers 401 with WWW-Authenticate when no token is sent", async () => {
    const res = await s.call("GET", "/api/v1/projects", undefined, null);
    expectError(res, 401);
    expect(res.body.error.code).toBe("Unauthenticated");
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer realm=/);
  });

  it.each([
    ["garbage", "Bearer not-a-token"],
    ["a well-formed but unknown token", `Bearer forja_${"A".repeat(43)}`],
    ["an absurdly long token", `Bearer forja_${"x".repeat(10_000)}`],
    ["an unsupported scheme", "Token abc"],
    ["a bare scheme", "Bearer"],
    ["basic without a colon", `Basic ${Buffer.from("nocolon").toString("base64")}`],
    ["basic that is not base64", "Basic %%%"],
  ])("answers 401 for %s", async (_what, authorization) => {
    const res = await whoamiWith(authorization);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect(((await res.json()) as Json).error.code).toBe("Unauthenticated");
  });

  it("accepts a valid bearer token (scheme case-insensitive)", async () => {
    const { token } = await s.user("auth-bearer");
    for (const scheme of ["Bearer", "bearer"]) {
      const res = await whoamiWith(`${scheme} ${token}`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as Json).user).toBe("auth-bearer");
    }
  });

  it("accepts Basic user:token, and refuses a valid token under another user's name", async () => {
    const { token } = await s.user("auth-basic");
    const ok = await whoamiWith(basic("auth-basic", token));
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as Json).user).toBe("auth-basic");
    expect((await whoamiWith(basic("admin", token))).status).toBe(401);
    expect((await whoamiWith(basic("auth-basic", "forja_wrong"))).status).toBe(401);
  });

  it("refuses a revoked token", async () => {
    const { client } = await s.user("auth-revoked");
    const created = await client.createToken({ name: "soon-revoked" });
    expect((await whoamiWith(`Bearer ${created.token}`)).status).toBe(200);
    await client.revokeToken(created.id);
    expect((await whoamiWith(`Bearer ${created.token}`)).status).toBe(401);
  });

  it("refuses an expired token", async () => {
    const { client } = await s.user("auth-expired");
    const created = await client.createToken({ name: "short", expiresInSeconds: 1 });
    expect(created.expiresAt).toBeDefined();
    expect((await whoamiWith(`Bearer ${created.token}`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, Date.parse(created.expiresAt!) - Date.now() + 50));
    const res = await whoamiWith(`Bearer ${created.token}`);
    expect(res.status).toBe(401);
  });

  it("refuses the tokens of a disabled user", async () => {
    const { token } = await s.user("auth-disabled");
    expect((await whoamiWith(`Bearer ${token}`)).status).toBe(200);
    await s.admin.apply([user("auth-disabled", { disabled: true })]);
    expect((await whoamiWith(`Bearer ${token}`)).status).toBe(401);
  });

  it("serves /healthz and /readyz without a token", async () => {
    expect((await s.fetch("/healthz", { token: null })).status).toBe(200);
    const ready = await s.fetch("/readyz", { token: null });
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as Json).status).toBe("ready");
  });

  it("requires a token on every other route in the OpenAPI document (and on the document itself)", async () => {
    const doc = (await s.call("GET", "/api/v1/openapi.json")).body;
    const publicPaths = new Set(["/healthz", "/readyz"]);
    const checked: string[] = [];
    for (const [path, ops] of Object.entries<Record<string, unknown>>(doc.paths)) {
      for (const method of Object.keys(ops)) {
        if (!["get", "post", "put", "patch", "delete"].includes(method)) continue;
        const url = path.replace(/\{[^}]+\}/g, "x");
        const init: RequestInit & { token: null } = { method: method.toUpperCase(), token: null };
        if (method === "post" || method === "put" || method === "patch") {
          init.headers = { "content-type": "application/json" };
          init.body = "{}";
        }
        const res = await s.fetch(url, init);
        if (publicPaths.has(path)) expect(res.status, `${method} ${path}`).toBe(200);
        else {
          expect(res.status, `${method.toUpperCase()} ${path} without a token`).toBe(401);
          // And a garbage token is no better than none.
          const bad = await s.fetch(url, { ...init, token: "forja_garbage" });
          expect(bad.status, `${method.toUpperCase()} ${path} with a bad token`).toBe(401);
          checked.push(`${method.toUpperCase()} ${path}`);
        }
      }
    }
    // The walk really covered the API (so it cannot pass vacuously).
    expect(checked).toEqual(
      expect.arrayContaining([
        "GET /metrics",
        "GET /api/v1/whoami",
        "POST /api/v1/tokens",
        "DELETE /api/v1/tokens/{id}",
        "POST /api/v1/apply",
        "GET /api/v1/kinds",
        "GET /api/v1/projects",
        "POST /api/v1/projects",
        "PUT /api/v1/projects/{name}",
        "DELETE /api/v1/projects/{name}",
        "GET /api/v1/users/{name}",
        "POST /api/v1/projects/{project}/widgets",
        "GET /api/v1/widgets",
      ]),
    );
    expect((await s.fetch("/api/v1/openapi.json", { token: null })).status).toBe(401);
    // Unknown routes do not reveal what exists to the unauthenticated.
    expect((await s.fetch("/api/v1/nothing-here", { token: null })).status).toBe(401);
  });
});

describe("authorization by role", () => {
  let viewer: Server["admin"];
  let editor: Server["admin"];
  let owner: Server["admin"];
  let outsider: Server["admin"];
  let viewerToken: string;
  let editorToken: string;
  let ownerToken: string;

  beforeAll(async () => {
    await s.admin.create(project("rbac", [{ user: "admin", role: "owner" }]));
    await s.admin.create(widget("rbac", "w1", { size: 1 }));
    await s.admin.create(project("rbac-b"));
    await s.admin.create(widget("rbac-b", "secret", { size: 1 }));
    ({ client: viewer, token: viewerToken } = await s.user("rb-viewer", { rbac: "viewer" }));
    ({ client: editor, token: editorToken } = await s.user("rb-editor", { rbac: "editor" }));
    ({ client: owner, token: ownerToken } = await s.user("rb-owner", { rbac: "owner" }));
    ({ client: outsider } = await s.user("rb-outsider"));
  });

  it("a viewer reads but cannot write (403)", async () => {
    expect((await viewer.get<Res>("widgets", "w1", "rbac")).spec.size).toBe(1);
    expect((await viewer.list("widgets", { project: "rbac" })).items).toHaveLength(1);
    expect((await viewer.get<Res>("projects", "rbac")).metadata.name).toBe("rbac");
    const denied = [
      await s.call("POST", "/api/v1/projects/rbac/widgets", widget("rbac", "v-new"), viewerToken),
      await s.call("PUT", "/api/v1/projects/rbac/widgets/w1", widget("rbac", "w1", { size: 2 }), viewerToken),
      await s.call("DELETE", "/api/v1/projects/rbac/widgets/w1", undefined, viewerToken),
      await s.call("POST", "/api/v1/apply", widget("rbac", "v-new"), viewerToken),
    ];
    for (const res of denied) {
      expectError(res, 403);
      expect(res.body.error.code).toBe("Forbidden");
      expect(res.body.error.message).toContain("viewer");
    }
    expect((await s.admin.get<Res>("widgets", "w1", "rbac")).spec.size).toBe(1);
    expectError(await s.call("GET", "/api/v1/projects/rbac/widgets/v-new"), 404);
  });

  it("an editor writes resources in its project but cannot change the Project (403)", async () => {
    const created = await editor.create<Json>(widget("rbac", "e1", { size: 3 }));
    expect(created.metadata.name).toBe("e1");
    expect((await editor.update<Json>(widget("rbac", "e1", { size: 4 }))).spec.size).toBe(4);
    expect((await editor.apply([widget("rbac", "e2")])).items[0]!.action).toBe("created");
    await editor.delete("widgets", "e1", "rbac");

    const p = await editor.get<Res>("projects", "rbac");
    const promote = { apiVersion: p.apiVersion, kind: "Project", metadata: { name: "rbac" }, spec: { members: [...p.spec.members.filter((m: Json) => m.user !== "rb-editor"), { user: "rb-editor", role: "owner" }] } };
    expectError(await s.call("PUT", "/api/v1/projects/rbac", promote, editorToken), 403);
    expectError(await s.call("POST", "/api/v1/apply", promote, editorToken), 403);
    expectError(await s.call("DELETE", "/api/v1/projects/rbac", undefined, editorToken), 403);
    const after = await s.admin.get<Res>("projects", "rbac");
    expect(after.spec.members).toContainEqual({ user: "rb-editor", role: "editor" });
    expect(after.metadata.deletionTimestamp).toBeUndefined();
  });

  it("an owner changes members, and the change takes effect", async () => {
    const { token: newcomerToken } = await s.user("rb-newcomer");
    expectError(await s.call("GET", "/api/v1/projects/rbac/widgets", undefined, newcomerToken), 403);
    const p = await owner.get<Res>("projects", "rbac");
    const final = await s.call(
      "PUT",
      "/api/v1/projects/rbac",
      { apiVersion: p.apiVersion, kind: "Project", metadata: { name: "rbac" }, spec: { members: [...p.spec.members, { user: "rb-newcomer", role: "viewer" }] } },
      ownerToken,
    );
    expect(final.status, JSON.stringify(final.body)).toBe(200);
    expect((await s.call("GET", "/api/v1/projects/rbac/widgets", undefined, newcomerToken)).status).toBe(200);
  });

  it("a member of one project gets 403 on another's resources, and does not see it listed", async () => {
    for (const [method, path, body] of [
      ["GET", "/api/v1/projects/rbac-b", undefined],
      ["GET", "/api/v1/projects/rbac-b/widgets", undefined],
      ["GET", "/api/v1/projects/rbac-b/widgets/secret", undefined],
      ["POST", "/api/v1/projects/rbac-b/widgets", widget("rbac-b", "x")],
      ["PUT", "/api/v1/projects/rbac-b/widgets/secret", widget("rbac-b", "secret", { size: 9 })],
      ["DELETE", "/api/v1/projects/rbac-b/widgets/secret", undefined],
      ["POST", "/api/v1/apply", widget("rbac-b", "x")],
    ] as const) {
      const res = await s.call(method, path, body, editorToken);
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.body.error.message).toContain("rbac-b");
    }
    const projects = (await editor.list("projects")).items.map((p) => p.metadata.name);
    expect(projects).toEqual(["rbac"]);
    const widgets = (await editor.list("widgets")).items.map((w) => `${w.metadata.project}/${w.metadata.name}`);
    expect(widgets.every((w) => w.startsWith("rbac/"))).toBe(true);
    expect(widgets).not.toContain("rbac-b/secret");
    // A user in no project sees none (and admin sees both).
    expect((await outsider.list("projects")).items).toEqual([]);
    expect((await outsider.list("widgets")).items).toEqual([]);
    expect((await s.admin.list("projects")).items.map((p) => p.metadata.name)).toEqual(expect.arrayContaining(["rbac", "rbac-b"]));
    // whoami reports the roles.
    expect((await editor.whoami()).projects).toEqual([{ name: "rbac", role: "editor" }]);
  });

  it("non-admins cannot create or change users, not even themselves into admins (403)", async () => {
    expectError(await s.call("POST", "/api/v1/users", user("rb-sneaky"), editorToken), 403);
    expectError(await s.call("POST", "/api/v1/apply", user("rb-sneaky"), editorToken), 403);
    expectError(await s.call("PUT", "/api/v1/users/rb-editor", user("rb-editor", { admin: true }), editorToken), 403);
    expectError(await s.call("DELETE", "/api/v1/users/rb-viewer", undefined, editorToken), 403);
    expectError(await s.call("GET", "/api/v1/users/rb-sneaky"), 404);
    expect((await editor.whoami()).admin).toBe(false);
    // Metrics are for admins.
    expect((await s.fetch("/metrics", { token: editorToken })).status).toBe(403);
  });

  it("users create projects themselves and become their owner (self-service)", async () => {
    const res = await s.call("POST", "/api/v1/projects", project("rb-mine"), viewerToken);
    expect(res.status).toBe(201);
    expect(res.body.spec.members).toEqual([{ user: "rb-viewer", role: "owner" }]);
    // ...and as owner may write in it, and delete it.
    expect((await viewer.create<Json>(widget("rb-mine", "w"))).metadata.project).toBe("rb-mine");
    // Listing it with others' members does not demote the creator.
    const withOther = await s.call("POST", "/api/v1/projects", project("rb-mine2", [{ user: "rb-editor", role: "viewer" }]), viewerToken);
    expect(withOther.body.spec.members).toEqual([
      { user: "rb-editor", role: "viewer" },
      { user: "rb-viewer", role: "owner" },
    ]);
    expect((await s.call("DELETE", "/api/v1/projects/rb-mine", undefined, viewerToken)).status).toBe(200);
  });
});

describe("self-service disabled", () => {
  it("only admins create projects when FORJA_SELF_SERVICE_PROJECTS=false", async () => {
    const closed = await startServer({ env: { FORJA_SELF_SERVICE_PROJECTS: "false" } });
    try {
      const { token } = await closed.user("ss-user");
      expectError(await closed.call("POST", "/api/v1/projects", project("ss-p"), token), 403);
      expect((await closed.call("POST", "/api/v1/projects", project("ss-p"))).status).toBe(201);
    } finally {
      await closed.stop();
    }
  });
});

describe("tokens", () => {
  let alice: Server["admin"];
  let bob: Server["admin"];
  beforeAll(async () => {
    ({ client: alice } = await s.user("tk-alice"));
    ({ client: bob } = await s.user("tk-bob"));
  });

  it("shows the secret once on create; lists never show it", async () => {
    const res = await s.call("POST", "/api/v1/tokens", { name: "ci" }, (await s.user("tk-carol")).token);
    expect(res.status).toBe(201);
    const secret: string = res.body.token;
    expect(secret).toMatch(/^forja_[A-Za-z0-9_-]{40,}$/);
    expect(res.body).toMatchObject({ name: "ci", user: "tk-carol", prefix: secret.slice(0, 12) });
    expect((await whoamiWith(`Bearer ${secret}`)).status).toBe(200);

    const list = await s.fetch("/api/v1/tokens", { token: secret });
    const text = await list.text();
    expect(list.status).toBe(200);
    expect(text).not.toContain(secret);
    expect(text).not.toContain(secret.slice(12));
    const items = JSON.parse(text).items;
    expect(items.map((t: Json) => String(t.name))).toContain("ci");
    for (const t of items) expect(t).not.toHaveProperty("token");
    // Admin's view of everyone's tokens has no secret either.
    const all = await s.fetch("/api/v1/tokens");
    expect(await all.text()).not.toContain(secret.slice(12));
  });

  it("refuses a second active token with the same name (409) and bad names (400)", async () => {
    await alice.createToken({ name: "dup" });
    expectError(await s.call("POST", "/api/v1/tokens", { name: "dup", user: "tk-alice" }), 409);
    expectError(await s.call("POST", "/api/v1/tokens", { name: "has space" }), 400, "name");
    expectError(await s.call("POST", "/api/v1/tokens", { name: "x", expiresAt: "2001-01-01T00:00:00Z" }), 400, "expiresAt");
    expectError(await s.call("POST", "/api/v1/tokens", { name: "x", user: "no-such-user" }), 400, "user");
  });

  it("revokes by id and by name", async () => {
    const byId = await alice.createToken({ name: "rev-id" });
    const byName = await alice.createToken({ name: "rev-name" });
    expect((await alice.revokeToken(byId.id)).revokedAt).toBeDefined();
    expect((await alice.revokeToken("rev-name")).id).toBe(byName.id);
    expect((await whoamiWith(`Bearer ${byId.token}`)).status).toBe(401);
    expect((await whoamiWith(`Bearer ${byName.token}`)).status).toBe(401);
    const names = (await alice.listTokens()).map((t) => t.name);
    expect(names).not.toContain("rev-id");
    expect(names).not.toContain("rev-name");
    expect((await alice.listTokens({ includeRevoked: true })).map((t) => t.name)).toEqual(expect.arrayContaining(["rev-id", "rev-name"]));
    await expect(alice.revokeToken(byId.id)).rejects.toMatchObject({ status: 404 });
  });

  it("a user cannot list, revoke or create others' tokens; an admin can", async () => {
    const bobs = await bob.createToken({ name: "bobs" });
    // Alice: bob's list is forbidden, his token is "not found" to her (no existence oracle).
    await expect(alice.listTokens({ user: "tk-bob" })).rejects.toMatchObject({ status: 403 });
    await expect(alice.revokeToken(bobs.id)).rejects.toMatchObject({ status: 404 });
    await expect(alice.revokeToken("bobs")).rejects.toMatchObject({ status: 404 });
    await expect(alice.createToken({ name: "for-bob", user: "tk-bob" })).rejects.toMatchObject({ status: 403 });
    expect((await alice.listTokens()).every((t) => t.user === "tk-alice")).toBe(true);
    expect((await whoamiWith(`Bearer ${bobs.token}`)).status).toBe(200);

    // Admin: sees and revokes bob's tokens, and mints one for him.
    expect((await s.admin.listTokens({ user: "tk-bob" })).map((t) => t.name)).toContain("bobs");
    expect((await s.admin.listTokens()).map((t) => t.user)).toEqual(expect.arrayContaining(["tk-alice", "tk-bob"]));
    await s.admin.revokeToken(bobs.id);
    expect((await whoamiWith(`Bearer ${bobs.token}`)).status).toBe(401);
    const minted = await s.admin.createToken({ name: "minted", user: "tk-bob" });
    expect(((await (await whoamiWith(`Bearer ${minted.token}`)).json()) as Json).user).toBe("tk-bob");
  });
});

describe("server log", () => {
  it("never contains a token, at level debug", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString("utf8"));
        done();
      },
    });
    const logged = await startServer({ logger: pino({ level: "debug" }, sink) });
    const secrets: string[] = [logged.adminToken];
    try {
      const { token, client } = await logged.user("log-user", { "log-p": "viewer" });
      secrets.push(token);
      const created = await client.createToken({ name: "log-created" });
      secrets.push(created.token);
      // Successful, failing and forbidden requests, with bearer and basic auth.
      await client.list("projects");
      await logged.fetch("/api/v1/projects/log-p/widgets", { method: "POST", token, headers: { "content-type": "application/json" }, body: JSON.stringify(widget("log-p", "w")) });
      await logged.fetch("/api/v1/projects/nope", { token });
      await logged.fetch("/api/v1/whoami", { token: null, headers: { authorization: basic("log-user", created.token) } });
      await logged.fetch("/api/v1/whoami", { token: null, headers: { authorization: basic("admin", created.token) } });
      await logged.fetch(`/api/v1/whoami?token=${created.token}`, { token: created.token });
      await logged.fetch("/api/v1/apply", { method: "POST", token, headers: { "content-type": "application/json" }, body: "{not json" });
      await logged.fetch("/api/v1/tokens", { method: "POST", token, headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "log-created" }) });
      await client.revokeToken(created.id);
      await logged.fetch("/api/v1/whoami", { token: created.token });
    } finally {
      await logged.stop();
    }
    const log = lines.join("");
    // The capture works: failed requests and lifecycle events are there.
    expect(log).toContain('"status":403');
    expect(log).toContain('"status":401');
    expect(log).toContain("forja is up");
    for (const secret of secrets) {
      expect(log).not.toContain(secret);
      expect(log).not.toContain(secret.slice(12)); // not even the part after the public prefix
    }
  });
});
