/**
 * The resource API over HTTP: CRUD, optimistic concurrency, list selectors and pages,
 * apply (single, multi-document YAML, {items}, all-or-nothing), generation and status
 * semantics, round-trips, discovery, OpenAPI, and project deletion cascading.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { API, eventually, expectError, type Json, project, type Res, type Server, startServer, user, widget } from "./harness.ts";

let s: Server;
beforeAll(async () => {
  s = await startServer();
});
afterAll(async () => s?.stop());

const yamlPost = (path: string, text: string) =>
  s.fetch(path, { method: "POST", headers: { "content-type": "application/yaml" }, body: text }).then(async (r) => ({ status: r.status, body: (await r.json()) as Json }));

describe("create, get, update, delete", () => {
  it("creates a project with 201 and server-set metadata, and gets it back", async () => {
    const res = await s.call("POST", "/api/v1/projects", project("crud-a", [{ user: "admin", role: "owner" }], { labels: { team: "ml" } }));
    expect(res.status).toBe(201);
    const m = res.body.metadata;
    expect(m).toMatchObject({ name: "crud-a", generation: 1, labels: { team: "ml" }, finalizers: ["forja.dev/project-cleanup"] });
    expect(m.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(m.resourceVersion).toMatch(/^\d+$/);
    expect(Date.parse(m.createdAt)).not.toBeNaN();
    expect(res.body.status.phase).toMatch(/^(Pending|Active)$/);

    const got = await s.call("GET", "/api/v1/projects/crud-a");
    expect(got.status).toBe(200);
    expect(got.body.metadata.uid).toBe(m.uid);
    expect(got.body.spec.members).toEqual([{ user: "admin", role: "owner" }]);
  });

  it("answers 409 AlreadyExists for a second create of the same name, and 404 for a missing one", async () => {
    await s.call("POST", "/api/v1/projects", project("crud-dup"));
    expectError(await s.call("POST", "/api/v1/projects", project("crud-dup")), 409);
    const missing = await s.call("GET", "/api/v1/projects/no-such-project");
    expectError(missing, 404);
    expect(missing.body.error.message).toContain("no-such-project");
  });

  it("creates a project-scoped resource under its project's URL", async () => {
    await s.admin.create(project("crud-w"));
    const res = await s.call("POST", "/api/v1/projects/crud-w/widgets", widget("crud-w", "w1", { size: 3 }));
    expect(res.status).toBe(201);
    expect(res.body.metadata.project).toBe("crud-w");
    // metadata.project may be left out: the URL says it.
    const { metadata: _m, ...rest } = widget("crud-w", "w2");
    const res2 = await s.call("POST", "/api/v1/projects/crud-w/widgets", { ...rest, metadata: { name: "w2" } });
    expect(res2.status).toBe(201);
    expect(res2.body.metadata.project).toBe("crud-w");
    // ...but may not contradict it.
    expectError(await s.call("POST", "/api/v1/projects/crud-w/widgets", widget("other", "w3")), 400, "metadata.project");
    expect((await s.call("GET", "/api/v1/projects/crud-w/widgets/w1")).body.spec).toEqual({ size: 3 });
  });

  it("refuses to create into a project that does not exist (no orphans)", async () => {
    const res = await s.call("POST", "/api/v1/projects/ghost/widgets", widget("ghost", "w"));
    expectError(res, 404);
    expect(res.body.error.message).toContain("ghost");
    expectError(await s.call("POST", "/api/v1/apply", widget("ghost", "w")), 404);
    expect((await s.call("GET", "/api/v1/widgets")).body.items.filter((w: Json) => w.metadata.project === "ghost")).toEqual([]);
  });

  it("updates with the current resourceVersion, and refuses a stale one with 409 and a message", async () => {
    await s.admin.create(project("crud-u"));
    const created = (await s.call("POST", "/api/v1/projects/crud-u/widgets", widget("crud-u", "w", { size: 1 }))).body;
    const rv = created.metadata.resourceVersion;
    const ok = await s.call("PUT", "/api/v1/projects/crud-u/widgets/w", widget("crud-u", "w", { size: 2 }, { resourceVersion: rv }));
    expect(ok.status).toBe(200);
    expect(ok.body.spec.size).toBe(2);
    expect(ok.body.metadata.resourceVersion).not.toBe(rv);

    const stale = await s.call("PUT", "/api/v1/projects/crud-u/widgets/w", widget("crud-u", "w", { size: 3 }, { resourceVersion: rv }));
    expectError(stale, 409);
    expect(stale.body.error.code).toBe("Conflict");
    expect(stale.body.error.message).toMatch(/modified/);
    expect(stale.body.error.message).toContain(rv);
    expect((await s.admin.get<Res>("widgets", "w", "crud-u")).spec.size).toBe(2);
  });

  it("updates without a resourceVersion (last write wins)", async () => {
    await s.admin.create(project("crud-nrv"));
    // The controller writes status concurrently; an update without a precondition still succeeds.
    const res = await s.call("PUT", "/api/v1/projects/crud-nrv", { ...project("crud-nrv"), spec: { members: [], description: "d" } });
    expect(res.status).toBe(200);
    expect(res.body.spec.description).toBe("d");
  });

  it("rejects an update whose body names another resource than the URL", async () => {
    await s.admin.create(project("crud-mm"));
    expectError(await s.call("PUT", "/api/v1/projects/crud-mm", project("other-name")), 400, "metadata.name");
    expectError(await s.call("PUT", "/api/v1/projects/not-there", project("not-there")), 404);
  });

  it("deletes: a resource without finalizers is gone at once; a stale resourceVersion is refused", async () => {
    await s.admin.create(project("crud-d"));
    const w = (await s.call("POST", "/api/v1/projects/crud-d/widgets", widget("crud-d", "w"))).body;
    await s.call("PUT", "/api/v1/projects/crud-d/widgets/w", widget("crud-d", "w", { size: 2 }));
    expectError(await s.call("DELETE", `/api/v1/projects/crud-d/widgets/w?resourceVersion=${w.metadata.resourceVersion}`), 409);
    const del = await s.call("DELETE", "/api/v1/projects/crud-d/widgets/w");
    expect(del.status).toBe(200);
    expect(del.body.metadata.name).toBe("w");
    expectError(await s.call("GET", "/api/v1/projects/crud-d/widgets/w"), 404);
    expectError(await s.call("DELETE", "/api/v1/projects/crud-d/widgets/w"), 404);
  });
});

describe("list", () => {
  beforeAll(async () => {
    await s.admin.create(project("lst"));
    const labels: Record<string, Record<string, string>> = {
      a: { env: "prod", tier: "web" },
      b: { env: "dev", tier: "web" },
      c: { env: "staging" },
      d: {},
      e: { env: "prod", "example.com/owner": "ml" },
    };
    await s.admin.apply(Object.entries(labels).map(([n, l]) => widget("lst", n, { size: 1 }, { labels: l })));
  });

  const names = async (query: string): Promise<string[]> => {
    const res = await s.call("GET", `/api/v1/projects/lst/widgets${query}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.kind).toBe("WidgetList");
    return (res.body.items as Res[]).map((i) => i.metadata.name);
  };

  it("lists everything sorted by name without a selector", async () => {
    expect(await names("")).toEqual(["a", "b", "c", "d", "e"]);
  });

  it.each([
    ["env=prod", ["a", "e"]],
    ["env==prod", ["a", "e"]],
    ["env!=prod", ["b", "c", "d"]],
    ["env in (dev,staging)", ["b", "c"]],
    ["env notin (prod)", ["b", "c", "d"]],
    ["tier", ["a", "b"]],
    ["!env", ["d"]],
    ["env=prod,tier=web", ["a"]],
    ["example.com/owner=ml", ["e"]],
    ["env=nope", []],
  ])("selects with labelSelector %s", async (selector, expected) => {
    expect(await names(`?labelSelector=${encodeURIComponent(selector)}`)).toEqual(expected);
  });

  it("rejects a malformed selector with 400 naming labelSelector", async () => {
    expectError(await s.call("GET", `/api/v1/projects/lst/widgets?labelSelector=${encodeURIComponent("env in (a")}`), 400, "labelSelector");
    expectError(await s.call("GET", `/api/v1/projects/lst/widgets?labelSelector=${encodeURIComponent("bad key!=x")}`), 400, "labelSelector");
  });

  it("pages with limit and continue, without gaps or repeats", async () => {
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const res = await s.call("GET", `/api/v1/projects/lst/widgets?limit=2${token ? `&continue=${encodeURIComponent(token)}` : ""}`);
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.items.map((i: Json) => String(i.metadata.name)));
      token = res.body.metadata.continue;
      pages++;
    } while (token && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toEqual(["a", "b", "c", "d", "e"]);
    // Pages combine with selectors.
    const sel = await s.call("GET", `/api/v1/projects/lst/widgets?limit=1&labelSelector=env%3Dprod`);
    expect(sel.body.items.map((i: Json) => String(i.metadata.name))).toEqual(["a"]);
    const next = await s.call("GET", `/api/v1/projects/lst/widgets?limit=1&labelSelector=env%3Dprod&continue=${sel.body.metadata.continue}`);
    expect(next.body.items.map((i: Json) => String(i.metadata.name))).toEqual(["e"]);
  });

  it("rejects bad limit and continue values with 400 naming them", async () => {
    expectError(await s.call("GET", "/api/v1/projects/lst/widgets?limit=0"), 400, "query.limit");
    expectError(await s.call("GET", "/api/v1/projects/lst/widgets?limit=1001"), 400, "query.limit");
    expectError(await s.call("GET", "/api/v1/projects/lst/widgets?limit=two"), 400, "query.limit");
    expectError(await s.call("GET", "/api/v1/projects/lst/widgets?continue=garbage"), 400, "continue");
  });

  it("lists a project-scoped kind across projects at /api/v1/{plural}", async () => {
    const res = await s.call("GET", "/api/v1/widgets?labelSelector=env%3Dprod");
    expect(res.status).toBe(200);
    expect(res.body.items.map((i: Json) => `${i.metadata.project}/${i.metadata.name}`)).toEqual(["lst/a", "lst/e"]);
  });
});

describe("apply", () => {
  it("reports created, then unchanged, then configured", async () => {
    // A User: no controller writes its status, so its resourceVersion moves only with our writes.
    const doc = user("ap-1", { displayName: "A" });
    const first = await s.call("POST", "/api/v1/apply", doc);
    expect(first.status).toBe(200);
    expect(first.body.items.map((i: Json) => String(i.action))).toEqual(["created"]);
    const again = await s.call("POST", "/api/v1/apply", doc);
    expect(again.body.items.map((i: Json) => String(i.action))).toEqual(["unchanged"]);
    expect(again.body.items[0].resource.metadata.resourceVersion).toBe(first.body.items[0].resource.metadata.resourceVersion);
    const changed = await s.call("POST", "/api/v1/apply", user("ap-1", { displayName: "x" }));
    expect(changed.body.items.map((i: Json) => String(i.action))).toEqual(["configured"]);
    expect(changed.body.items[0].resource.spec.displayName).toBe("x");
  });

  it("accepts multi-document YAML with Content-Type application/yaml, in order", async () => {
    const text = [
      "apiVersion: forja.dev/v1\nkind: User\nmetadata:\n  name: ap-yaml-user\nspec:\n  displayName: Yam L",
      "# a comment-only document is skipped\n",
      "apiVersion: forja.dev/v1\nkind: Project\nmetadata: {name: ap-yaml}\nspec:\n  members:\n    - {user: ap-yaml-user, role: editor}",
      "apiVersion: forja.dev/v1\nkind: Widget\nmetadata: {name: w, project: ap-yaml}\nspec: {size: 7}",
    ].join("\n---\n");
    const res = await yamlPost("/api/v1/apply", text);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    // Reported in the order submitted (the Project is written first internally).
    expect(res.body.items.map((i: Json) => `${i.resource.kind}/${i.resource.metadata.name}:${i.action}`)).toEqual([
      "User/ap-yaml-user:created",
      "Project/ap-yaml:created",
      "Widget/w:created",
    ]);
    expect((await s.admin.get<Res>("widgets", "w", "ap-yaml")).spec.size).toBe(7);
    expect((await s.admin.get<Res>("users", "ap-yaml-user")).spec.displayName).toBe("Yam L");
  });

  it("accepts {items: [...]} JSON, a JSON array, and a kind: List", async () => {
    const a = await s.call("POST", "/api/v1/apply", { items: [user("ap-i1"), user("ap-i2")] });
    expect(a.status).toBe(200);
    expect(a.body.items.map((i: Json) => String(i.action))).toEqual(["created", "created"]);
    const b = await s.call("POST", "/api/v1/apply", [user("ap-i1"), user("ap-i3")]);
    expect(b.body.items.map((i: Json) => String(i.action))).toEqual(["unchanged", "created"]);
    const c = await s.call("POST", "/api/v1/apply", { apiVersion: API, kind: "List", items: [user("ap-i4")] });
    expect(c.body.items.map((i: Json) => `${i.resource.metadata.name}:${i.action}`)).toEqual(["ap-i4:created"]);
  });

  it("is all-or-nothing: one bad document in three → 400 naming items[1].spec..., nothing written", async () => {
    await s.admin.create(project("ap-aon"));
    const res = await s.call("POST", "/api/v1/apply", {
      items: [widget("ap-aon", "good-1"), widget("ap-aon", "bad", { size: "big" }), widget("ap-aon", "good-2")],
    });
    expectError(res, 400, "items[1].spec.size");
    for (const n of ["good-1", "bad", "good-2"]) expectError(await s.call("GET", `/api/v1/projects/ap-aon/widgets/${n}`), 404);

    // Same in YAML, with the bad document in the middle.
    const yaml = [widget("ap-aon", "y1"), { ...widget("ap-aon", "y2"), spec: { size: 1, bogus: true } }, widget("ap-aon", "y3")].map((d) => stringify(d)).join("---\n");
    const y = await yamlPost("/api/v1/apply", yaml);
    expectError(y, 400, "items[1].spec.bogus");
    expect((await s.admin.list("widgets", { project: "ap-aon" })).items).toEqual([]);
  });

  it("is all-or-nothing when a later document fails at write time (rolls back earlier writes)", async () => {
    await s.admin.create(project("ap-rb", [{ user: "admin", role: "owner" }]));
    await s.admin.create(widget("ap-rb", "exists"));
    // The third document is valid but forbidden (the editor only views ap-rb-other): the
    // first two, already written in the transaction, must be rolled back.
    const { client } = await s.user("ap-rb-editor", { "ap-rb": "editor", "ap-rb-other": "viewer" });
    await expect(
      client.apply([widget("ap-rb", "new-1"), widget("ap-rb", "exists", { size: 9 }), widget("ap-rb-other", "nope")]),
    ).rejects.toMatchObject({ status: 403 });
    expectError(await s.call("GET", "/api/v1/projects/ap-rb/widgets/new-1"), 404);
    expect((await s.admin.get<Res>("widgets", "exists", "ap-rb")).spec.size).toBe(1);
  });

  it("rejects the same resource twice in one request", async () => {
    const res = await s.call("POST", "/api/v1/apply", [user("ap-twice"), user("ap-twice")]);
    expectError(res, 400, "items[1].metadata.name");
    expectError(await s.call("GET", "/api/v1/users/ap-twice"), 404);
  });
});

describe("generation, status and round-trips", () => {
  it("bumps generation only when spec changes (not labels, annotations or status)", async () => {
    await s.admin.create(project("gen"));
    const w0 = (await s.call("POST", "/api/v1/projects/gen/widgets", widget("gen", "w", { size: 1 }))).body;
    expect(w0.metadata.generation).toBe(1);
    const w1 = (await s.call("PUT", "/api/v1/projects/gen/widgets/w", widget("gen", "w", { size: 1 }, { labels: { a: "b" }, annotations: { note: "hi" } }))).body;
    expect(w1.metadata.generation).toBe(1);
    expect(w1.metadata.labels).toEqual({ a: "b" });
    expect(Number(w1.metadata.resourceVersion)).toBeGreaterThan(Number(w0.metadata.resourceVersion));
    const w2 = (await s.call("PUT", "/api/v1/projects/gen/widgets/w", widget("gen", "w", { size: 2 }, { labels: { a: "b" }, annotations: { note: "hi" } }))).body;
    expect(w2.metadata.generation).toBe(2);
    // Identical PUT: nothing changes, not even the resourceVersion.
    const w3 = (await s.call("PUT", "/api/v1/projects/gen/widgets/w", widget("gen", "w", { size: 2 }, { labels: { a: "b" }, annotations: { note: "hi" } }))).body;
    expect(w3.metadata).toMatchObject({ generation: 2, resourceVersion: w2.metadata.resourceVersion });

    // The project controller writes status; that does not bump the project's generation.
    const p = await eventually(async () => {
      const r = await s.admin.get<Res>("projects", "gen");
      return r.status.phase === "Active" ? r : undefined;
    }, "project gen Active");
    expect(p.metadata.generation).toBe(1);
    expect(p.status.observedGeneration).toBe(1);
  });

  it("treats the same spec with keys in another order as unchanged", async () => {
    await s.call("POST", "/api/v1/apply", user("keyorder", { admin: false, disabled: false }));
    const res = await s.call("POST", "/api/v1/apply", user("keyorder", { disabled: false, admin: false }));
    expect(res.body.items[0].action).toBe("unchanged");
    expect(res.body.items[0].resource.metadata.generation).toBe(1);
    // Defaults filled in by the server count as the same spec, too.
    expect((await s.call("POST", "/api/v1/apply", user("keyorder"))).body.items[0].action).toBe("unchanged");
    await s.call("POST", "/api/v1/apply", { ...user("keyorder"), metadata: { name: "keyorder", labels: { a: "1", b: "2" } } });
    const labels = await s.call("POST", "/api/v1/apply", { ...user("keyorder"), metadata: { name: "keyorder", labels: { b: "2", a: "1" } } });
    expect(labels.body.items[0].action).toBe("unchanged");
  });

  it("ignores status sent by users on create, update and apply", async () => {
    const created = await s.call("POST", "/api/v1/projects", { ...project("st"), status: { phase: "Terminating", members: 99 } });
    expect(created.status).toBe(201);
    expect(created.body.status).toEqual({ phase: "Pending" });
    const w = await s.call("POST", "/api/v1/projects/st/widgets", { ...widget("st", "w"), status: { fake: true } });
    expect(w.body.status).toEqual({});
    const put = await s.call("PUT", "/api/v1/projects/st/widgets/w", { ...widget("st", "w"), status: { fake: true } });
    expect(put.body.status).toEqual({});
    const ap = await s.call("POST", "/api/v1/apply", { ...widget("st", "w"), status: { fake: 1 } });
    expect(ap.body.items[0]).toMatchObject({ action: "unchanged", resource: { status: {} } });
    expect((await s.admin.get<Res>("widgets", "w", "st")).status).toEqual({});
  });

  it("round-trips: a resource as served (YAML) applies back unchanged, read-only metadata included", async () => {
    await s.admin.create(project("rt", [{ user: "admin", role: "owner" }], { labels: { a: "1" }, annotations: { n: "x" } }));
    await s.admin.create(widget("rt", "w", { size: 4, tags: ["x"] }, { labels: { k: "v" } }));
    const served = await eventually(async () => {
      const r = await s.admin.get<Res>("projects", "rt");
      return r.status.phase === "Active" ? r : undefined;
    }, "project rt Active");
    for (const doc of [served, await s.admin.get<Res>("widgets", "w", "rt")]) {
      const text = stringify(doc);
      expect(text).toContain("resourceVersion:");
      expect(text).toContain("uid:");
      const res = await yamlPost("/api/v1/apply", text);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.items[0].action).toBe("unchanged");
      expect(res.body.items[0].resource.metadata.uid).toBe(doc.metadata.uid);
    }
    // And as JSON through PUT.
    const w = await s.admin.get<Res>("widgets", "w", "rt");
    const put = await s.call("PUT", "/api/v1/projects/rt/widgets/w", w);
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(put.body.metadata.resourceVersion).toBe(w.metadata.resourceVersion);
  });

  it("ignores read-only metadata on apply (uid, generation, createdAt are the server's)", async () => {
    await s.admin.create(project("ro"));
    const w = (await s.call("POST", "/api/v1/projects/ro/widgets", widget("ro", "w"))).body;
    const res = await s.call("POST", "/api/v1/apply", widget("ro", "w", { size: 5 }, { uid: "forged", generation: 42, createdAt: "2000-01-01T00:00:00Z", resourceVersion: w.metadata.resourceVersion }));
    expect(res.status).toBe(200);
    expect(res.body.items[0].resource.metadata).toMatchObject({ uid: w.metadata.uid, generation: 2, createdAt: w.metadata.createdAt });
  });
});

describe("discovery and OpenAPI", () => {
  it("lists the kinds at /api/v1/kinds", async () => {
    const res = await s.call("GET", "/api/v1/kinds");
    expect(res.status).toBe(200);
    const byKind = Object.fromEntries(res.body.items.map((k: Json): [string, Json] => [String(k.kind), k]));
    expect(byKind.Project).toMatchObject({ plural: "projects", singular: "project", shortNames: ["proj"], scope: "Cluster", userWritable: true });
    expect(byKind.Project.columns.map((c: Json) => String(c.header))).toEqual(["PHASE", "MEMBERS", "AGE"]);
    expect(byKind.User).toMatchObject({ plural: "users", scope: "Cluster" });
    expect(byKind.Widget).toMatchObject({ plural: "widgets", scope: "Project" });
  });

  it("serves a valid-looking OpenAPI 3 document with every kind's paths and schemas", async () => {
    const res = await s.call("GET", "/api/v1/openapi.json");
    expect(res.status).toBe(200);
    const doc = res.body;
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });
    for (const p of [
      "/api/v1/projects",
      "/api/v1/projects/{name}",
      "/api/v1/users",
      "/api/v1/users/{name}",
      "/api/v1/projects/{project}/widgets",
      "/api/v1/projects/{project}/widgets/{name}",
      "/api/v1/widgets",
      "/api/v1/apply",
      "/api/v1/kinds",
      "/api/v1/tokens",
      "/api/v1/whoami",
    ]) {
      expect(doc.paths, p).toHaveProperty([p]);
    }
    // Fastify's ":param" syntax must not leak into the document.
    expect(Object.keys(doc.paths).filter((p) => p.includes(":"))).toEqual([]);
    const projectPaths = doc.paths["/api/v1/projects/{name}"];
    expect(Object.keys(projectPaths).sort()).toEqual(["delete", "get", "put"]);
    expect(projectPaths.get.parameters).toContainEqual(expect.objectContaining({ in: "path", name: "name", required: true }));
    // The request body of PUT carries the Project spec, with its members.
    const body = projectPaths.put.requestBody.content["application/json"].schema;
    expect(body.properties.spec.properties.members.type).toBe("array");
    expect(body.properties.spec.properties.members.items.properties.role).toBeDefined();
    expect(projectPaths.get.responses["200"].content["application/json"].schema.properties.spec.properties).toHaveProperty("members");
    // Every operation declares responses.
    for (const [path, ops] of Object.entries<Json>(doc.paths)) {
      for (const [method, op] of Object.entries<Json>(ops)) expect(Object.keys(op.responses ?? {}).length, `${method} ${path}`).toBeGreaterThan(0);
    }
  });
});

describe("project deletion", () => {
  it("cascades: the project goes Terminating, its resources are deleted, then it is gone", async () => {
    await s.admin.create(project("doomed"));
    await s.admin.apply([widget("doomed", "w1"), widget("doomed", "w2")]);
    // A resource whose own cleanup is still pending holds the project in Terminating (users
    // cannot set finalizers; another controller would, so the test sets one directly).
    const repo = s.platform.ctx.repo;
    await repo.create({ kind: "Widget", project: "doomed", name: "held", finalizers: ["test/hold"], spec: { size: 1 }, status: {} });
    await s.admin.create(project("survivor"));
    await s.admin.create(widget("survivor", "w1"));

    const del = await s.call("DELETE", "/api/v1/projects/doomed");
    expect(del.status).toBe(200);
    expect(del.body.metadata.deletionTimestamp).toBeDefined();

    const terminating = await eventually(async () => {
      const r = await s.admin.get<Res>("projects", "doomed");
      return r.status.phase === "Terminating" ? r : undefined;
    }, "project doomed Terminating");
    expect(terminating.metadata.deletionTimestamp).toBe(del.body.metadata.deletionTimestamp);
    // Its resources are being deleted: the plain ones are gone, the held one is marked.
    const remaining = await eventually(async () => {
      const items = (await s.admin.list("widgets", { project: "doomed" })).items;
      return items.length === 1 ? items : undefined;
    }, "plain widgets deleted");
    expect(remaining[0]!.metadata).toMatchObject({ name: "held", deletionTimestamp: expect.any(String) });
    // While terminating, nothing new may be created in it.
    const late = await s.call("POST", "/api/v1/projects/doomed/widgets", widget("doomed", "late"));
    expectError(late, 409);
    expect(late.body.error.message).toContain("being deleted");

    await repo.update({ kind: "Widget", project: "doomed", name: "held" }, { finalizers: [] });
    await eventually(async () => ((await s.call("GET", "/api/v1/projects/doomed")).status === 404 ? true : undefined), "project doomed to disappear");
    expect((await s.admin.list("widgets", { project: "doomed" })).items).toEqual([]);
    expect((await s.admin.list("widgets", { project: "survivor" })).items.map((w) => w.metadata.name)).toEqual(["w1"]);
    // The name is free again, and the new project starts empty.
    expect((await s.call("POST", "/api/v1/projects", project("doomed"))).status).toBe(201);
    expect((await s.admin.list("widgets", { project: "doomed" })).items).toEqual([]);
  });
});
