/**
 * Bad input gets a 4xx with error.code and error.message naming the field — never a 5xx.
 * Targeted cases first, then a sweep of malformed payloads over every write route listed in
 * the OpenAPI document (so a new route is covered as soon as it exists).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API, expectError, type Json, project, type Server, startServer, user, widget } from "./harness.ts";

let s: Server;
beforeAll(async () => {
  s = await startServer();
  await s.admin.create(project("bad"));
  await s.admin.create(widget("bad", "x"));
});
afterAll(async () => s?.stop());

async function post(path: string, body: string | Uint8Array, contentType?: string, method = "POST") {
  const res = await s.fetch(path, { method, body, ...(contentType ? { headers: { "content-type": contentType } } : {}) });
  const text = await res.text();
  let parsed: Json;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = { unparsable: text.slice(0, 200) };
  }
  return { status: res.status, body: parsed };
}
const json = (path: string, value: unknown) => post(path, JSON.stringify(value), "application/json");
const yaml = (path: string, text: string) => post(path, text, "application/yaml");

describe("syntax", () => {
  it("malformed JSON → 400 naming the body", async () => {
    const res = await post("/api/v1/apply", '{"apiVersion": "forja.dev/v1", "kind": ', "application/json");
    expectError(res, 400, "body");
    expect(res.body.error.message).toMatch(/JSON/);
  });

  it("malformed YAML → 400 with line and column", async () => {
    const res = await yaml("/api/v1/apply", "apiVersion: forja.dev/v1\nkind: User\nmetadata:\n  name: [unclosed\nspec: {}\n");
    expectError(res, 400, "body");
    expect(res.body.error.message).toMatch(/invalid YAML.* at line \d+, column \d+/);
    // The position is stated once, not repeated by the parser's own message.
    expect(res.body.error.message.match(/at line/g)).toHaveLength(1);
    const second = await yaml("/api/v1/apply", "apiVersion: forja.dev/v1\nkind: User\nmetadata: {name: ok}\nspec: {}\n---\nkind: [\n");
    expectError(second, 400, "body");
    expect(second.body.error.message).toContain("document 2");
    expectError(await s.call("GET", "/api/v1/users/ok"), 404);
  });

  it("a YAML alias bomb → 400, not a 5xx or an exhausted server", async () => {
    const bomb = [
      "a: &a [x, x, x, x, x, x, x, x, x, x]",
      "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]",
      "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]",
      "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]",
      "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]",
      "f: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]",
    ].join("\n");
    const res = await yaml("/api/v1/apply", bomb);
    expectError(res, 400, "body");
    expect(res.body.error.message).toMatch(/alias/i);
  });

  it("wrong Content-Type → 415", async () => {
    for (const ct of ["text/plain", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]) {
      const res = await post("/api/v1/projects", "name=x", ct);
      expect(res.status, ct).toBe(415);
      expect(res.body.error).toMatchObject({ code: "InvalidInput", message: expect.stringContaining("Content-Type") });
    }
  });

  it("empty body → 400", async () => {
    expectError(await post("/api/v1/apply", "", "application/json"), 400, "body");
    expectError(await post("/api/v1/projects", "", "application/json"), 400, "body");
    // No body and no Content-Type at all (e.g. curl -X POST).
    const bare = async (path: string) => {
      const res = await s.fetch(path, { method: "POST" });
      return { status: res.status, body: (await res.json()) as Json };
    };
    expectError(await bare("/api/v1/apply"), 400, "body");
    expectError(await bare("/api/v1/projects"), 400, "body");
    expectError(await yaml("/api/v1/apply", ""), 400);
    expectError(await yaml("/api/v1/apply", "# only a comment\n"), 400);
    expectError(await json("/api/v1/apply", []), 400, "items");
    expectError(await json("/api/v1/apply", { kind: "List", items: [] }), 400, "items");
  });
});

describe("fields", () => {
  it("unknown kind → 400 naming kind (with the known kinds)", async () => {
    const res = await json("/api/v1/apply", { apiVersion: API, kind: "Pipelin", metadata: { name: "x" }, spec: {} });
    expectError(res, 400, "kind");
    expect(res.body.error.message).toContain("Project");
    expectError(await json("/api/v1/apply", [user("fine"), { apiVersion: API, kind: "Nope", metadata: { name: "x" }, spec: {} }]), 400, "items[1].kind");
    expectError(await json("/api/v1/apply", { apiVersion: API, metadata: { name: "x" }, spec: {} }), 400, "kind");
    // The kind of a collection route is fixed.
    expectError(await json("/api/v1/projects", user("x")), 400, "kind");
  });

  it("wrong types → 400 naming the field", async () => {
    expectError(await json("/api/v1/projects", { ...project("t1"), spec: { members: "x" } }), 400, "spec.members");
    expectError(await json("/api/v1/apply", { ...project("t1"), spec: { members: "x" } }), 400, "spec.members");
    expectError(await json("/api/v1/apply", { ...project("t1"), spec: { members: [{ user: "a", role: "god" }] } }), 400, "spec.members[0].role");
    expectError(await json("/api/v1/apply", widget("bad", "t1", { size: "3" })), 400, "spec.size");
    expectError(await json("/api/v1/apply", widget("bad", "t1", { size: 3.5 })), 400, "spec.size");
    expectError(await json("/api/v1/apply", widget("bad", "t1", { size: 0 })), 400, "spec.size");
    expectError(await json("/api/v1/apply", { ...user("t1"), spec: { admin: "yes" } }), 400, "spec.admin");
    expectError(await json("/api/v1/apply", { ...user("t1"), spec: { email: "not-an-email" } }), 400, "spec.email");
    expectError(await json("/api/v1/apply", { ...user("t1"), metadata: "t1" }), 400, "metadata");
    expectError(await json("/api/v1/apply", { ...user("t1"), apiVersion: "forja.dev/v2" }), 400, "apiVersion");
  });

  it("several bad fields are all listed in details", async () => {
    const res = await json("/api/v1/apply", { apiVersion: API, kind: "Widget", metadata: { name: "Bad Name", project: "bad" }, spec: { size: "x", color: "green", bogus: 1 } });
    expectError(res, 400);
    const paths = res.body.error.details.map((d: Json) => String(d.path));
    expect(paths).toEqual(expect.arrayContaining(["metadata.name", "spec.size", "spec.color", "spec.bogus"]));
    expect(res.body.error.message).toMatch(/and \d+ more/);
  });

  it("missing metadata.name → 400 metadata.name", async () => {
    expectError(await json("/api/v1/apply", { apiVersion: API, kind: "User", metadata: {}, spec: {} }), 400, "metadata.name");
    expectError(await json("/api/v1/users", { apiVersion: API, kind: "User", metadata: {}, spec: {} }), 400, "metadata.name");
    expectError(await json("/api/v1/apply", { apiVersion: API, kind: "User", spec: {} }), 400, "metadata");
  });

  it.each(["Upper", "under_score", "-leading", "trailing-", "dot.ted", "a".repeat(64), "", "spa ce", "ünï"])("invalid name %j → 400 metadata.name", async (name) => {
    const res = await json("/api/v1/apply", { apiVersion: API, kind: "User", metadata: { name }, spec: {} });
    expectError(res, 400, "metadata.name");
    if (name.length > 0 && name.length <= 63) expect(res.body.error.message).toContain("lowercase");
  });

  it("unknown fields → 'is not a known field'", async () => {
    const res = await json("/api/v1/projects", { ...project("u1"), spec: { members: [], bogus: 1 } });
    expectError(res, 400, "spec.bogus");
    expect(res.body.error.message).toBe("spec.bogus: is not a known field");
    expectError(await json("/api/v1/apply", { ...project("u1"), extra: true }), 400, "extra");
    expectError(await json("/api/v1/apply", { ...project("u1"), metadata: { name: "u1", nmae: "typo" } }), 400, "metadata.nmae");
    expectError(await json("/api/v1/apply", { ...project("u1"), spec: { members: [{ user: "a", role: "owner", admin: true }] } }), 400, "spec.members[0].admin");
    expectError(await json("/api/v1/tokens", { name: "t", scope: "all" }), 400, "scope");
  });

  it("a project-scoped kind without a project → 400 metadata.project; a cluster kind with one → 400", async () => {
    const { metadata: _m, ...rest } = widget("bad", "w");
    expectError(await json("/api/v1/apply", { ...rest, metadata: { name: "w" } }), 400, "metadata.project");
    expectError(await json("/api/v1/apply", { ...user("u"), metadata: { name: "u", project: "bad" } }), 400, "metadata.project");
    // The project in the URL and in the body must agree.
    expectError(await json("/api/v1/projects/bad/widgets", widget("other", "w")), 400, "metadata.project");
    expectError(await post("/api/v1/projects/bad/widgets/x", JSON.stringify(widget("other", "x")), "application/json", "PUT"), 400, "metadata.project");
  });

  it("duplicate members → 400 spec.members[1].user", async () => {
    const res = await json("/api/v1/apply", project("dups", [{ user: "a", role: "owner" }, { user: "a", role: "viewer" }]));
    expectError(res, 400, "spec.members[1].user");
    expect(res.body.error.message).toContain("spec.members[0]");
    expectError(await json("/api/v1/projects", project("dups", [{ user: "b", role: "owner" }, { user: "c", role: "owner" }, { user: "b", role: "viewer" }])), 400, "spec.members[2].user");
    expectError(await s.call("GET", "/api/v1/projects/dups"), 404);
  });

  it("a string over its maxLength (but under the body limit) → 400 naming the field", async () => {
    const res = await json("/api/v1/apply", { ...project("long"), spec: { members: [], displayName: "x".repeat(300_000) } });
    expectError(res, 400, "spec.displayName");
    expect(JSON.stringify(res.body).length).toBeLessThan(2_000); // the value is not echoed back
  });

  it("a non-finite number → 400, not stored as null", async () => {
    const res = await post("/api/v1/apply", `{"apiVersion":"forja.dev/v1","kind":"Project","metadata":{"name":"inf"},"spec":{"members":[],"quota":{"cpu":1e999}}}`, "application/json");
    expectError(res, 400, "spec.quota.cpu");
    expectError(await yaml("/api/v1/projects", "apiVersion: forja.dev/v1\nkind: Project\nmetadata: {name: inf}\nspec: {quota: {cpu: .inf}}\n"), 400, "spec.quota.cpu");
    expectError(await s.call("GET", "/api/v1/projects/inf"), 404);
  });

  // Regression: Labels once lacked additionalProperties: false, so keys breaking the pattern
  // were accepted with any value type (an object value made the label insert fail with a 500).
  it("label keys and values are validated (400 naming metadata.labels)", async () => {
    const bad = [{ "bad key!": "v" }, { "a b": 5 }, { "a b": { x: 1 } }];
    for (const labels of bad) {
      const res = await json("/api/v1/apply", { ...user("lbl"), metadata: { name: "lbl", labels } });
      expect(res.status, JSON.stringify(labels)).toBe(400);
      expect(res.body.error.message).toContain("metadata.labels");
    }
  });

  it("a label value that breaks the pattern → 400 naming it", async () => {
    expectError(await json("/api/v1/apply", { ...user("lbl2"), metadata: { name: "lbl2", labels: { env: "has space" } } }), 400, "metadata.labels.env");
    expectError(await json("/api/v1/apply", { ...user("lbl2"), metadata: { name: "lbl2", labels: { env: "x".repeat(64) } } }), 400, "metadata.labels.env");
  });

  it("a bad resourceVersion → 400", async () => {
    expectError(await json("/api/v1/apply", { ...user("rv"), metadata: { name: "rv", resourceVersion: "abc" } }), 400, "metadata.resourceVersion");
    expectError(await s.call("DELETE", "/api/v1/projects/bad/widgets/x?resourceVersion=abc"), 400, "query.resourceVersion");
  });
});

describe("body size", () => {
  let small: Server;
  beforeAll(async () => {
    small = await startServer({ env: { FORJA_BODY_LIMIT_BYTES: "2048" } });
  });
  afterAll(async () => small?.stop());

  it("a body over FORJA_BODY_LIMIT_BYTES → 413 naming the limit, for JSON and YAML", async () => {
    const big = JSON.stringify({ ...project("big"), spec: { members: [], description: "x".repeat(3000) } });
    for (const [ct, body] of [
      ["application/json", big],
      ["application/yaml", `apiVersion: forja.dev/v1\nkind: Project\nmetadata: {name: big}\nspec:\n  description: ${"x".repeat(3000)}\n`],
    ] as const) {
      for (const path of ["/api/v1/apply", "/api/v1/projects"]) {
        const res = await small.fetch(path, { method: "POST", headers: { "content-type": ct }, body });
        expect(res.status, `${ct} ${path}`).toBe(413);
        const err = ((await res.json()) as Json).error;
        expect(err.code).toBe("PayloadTooLarge");
        expect(err.message).toContain("2048");
      }
    }
    // Just under the limit is fine.
    const ok = await small.call("POST", "/api/v1/apply", { ...project("fits"), spec: { members: [], description: "x".repeat(1500) } });
    expect(ok.status).toBe(200);
  });

  it("a 10-MB string field → 413 on the default limit (and the server carries on)", async () => {
    const res = await json("/api/v1/apply", { ...project("huge"), spec: { members: [], description: "x".repeat(10 * 1024 * 1024) } });
    expectError(res, 413);
    expect(res.body.error.code).toBe("PayloadTooLarge");
    expect((await s.fetch("/healthz", { token: null })).status).toBe(200);
    expectError(await s.call("GET", "/api/v1/projects/huge"), 404);
  });
});

describe("sweep: malformed payloads on every write route", () => {
  const doc = (over: Record<string, unknown>) => JSON.stringify({ apiVersion: API, kind: "User", metadata: { name: "sweep" }, spec: {}, ...over });
  const J = "application/json";
  const Y = "application/yaml";
  const payloads: [string, string, string | undefined][] = [
    ["truncated JSON", '{"apiVersion": "forja.dev/v1", "kind"', J],
    ["empty JSON", "", J],
    ["empty, no content type", "", undefined],
    ["JSON null", "null", J],
    ["JSON number", "42", J],
    ["JSON string", '"hello"', J],
    ["JSON true", "true", J],
    ["JSON empty array", "[]", J],
    ["JSON array of numbers", "[1,2,3]", J],
    ["JSON empty object", "{}", J],
    ["__proto__ pollution", '{"__proto__": {"admin": true}}', J],
    ["constructor pollution", '{"constructor": {"prototype": {"admin": true}}}', J],
    ["only apiVersion", '{"apiVersion":"forja.dev/v1"}', J],
    ["unknown kind", doc({ kind: "Nope" }), J],
    ["kind is a number", doc({ kind: 7 }), J],
    ["metadata is a string", doc({ metadata: "sweep" }), J],
    ["metadata.name missing", doc({ metadata: {} }), J],
    ["metadata.name invalid", doc({ metadata: { name: "Not_Valid" } }), J],
    ["metadata.name a number", doc({ metadata: { name: 5 } }), J],
    ["spec is a string", doc({ spec: "x" }), J],
    ["spec is an array", doc({ spec: [] }), J],
    ["wrong apiVersion", doc({ apiVersion: "v0" }), J],
    ["unknown top-level field", doc({ bogus: 1 }), J],
    ["labels is a string", doc({ metadata: { name: "sweep", labels: "x" } }), J],
    ["annotation value a number", doc({ metadata: { name: "sweep", annotations: { a: 5 } } }), J],
    ["deep nesting", `${"[".repeat(5000)}${"]".repeat(5000)}`, J],
    ["deep object nesting", `${'{"a":'.repeat(2000)}1${"}".repeat(2000)}`, J],
    ["invalid UTF-8", "\u00ff\u00fe{", J],
    ["broken YAML", "kind: [unclosed\n", Y],
    ["YAML tab indentation", "metadata:\n\tname: x\n", Y],
    ["YAML scalar", "just a string", Y],
    ["YAML list of scalars", "- 1\n- 2\n", Y],
    ["text/plain", "hello", "text/plain"],
    ["form body", "a=b", "application/x-www-form-urlencoded"],
    ["octet-stream", "\u0000\u0001", "application/octet-stream"],
  ];

  it(`answers 4xx with error.code and error.message for ${payloads.length} payloads on every POST/PUT route`, async () => {
    const doc = (await s.call("GET", "/api/v1/openapi.json")).body;
    const routes: [string, string][] = [];
    for (const [path, ops] of Object.entries<Record<string, unknown>>(doc.paths)) {
      for (const method of ["post", "put", "patch"]) {
        if (ops[method]) routes.push([method.toUpperCase(), path.replace("{project}", "bad").replace(/\{[^}]+\}/g, "x")]);
      }
    }
    expect(routes.map(([m, p]) => `${m} ${p}`)).toEqual(
      expect.arrayContaining(["POST /api/v1/apply", "POST /api/v1/tokens", "POST /api/v1/projects", "PUT /api/v1/projects/x", "POST /api/v1/users", "PUT /api/v1/users/x", "POST /api/v1/projects/bad/widgets", "PUT /api/v1/projects/bad/widgets/x"]),
    );
    const failures: string[] = [];
    for (const [method, path] of routes) {
      for (const [what, body, ct] of payloads) {
        const res = await post(path, body, ct, method);
        const ok = res.status >= 400 && res.status < 500 && typeof res.body?.error?.code === "string" && typeof res.body?.error?.message === "string" && res.body.error.message.length > 0;
        if (!ok) failures.push(`${method} ${path} [${what}] → ${res.status} ${JSON.stringify(res.body).slice(0, 160)}`);
      }
    }
    expect(failures).toEqual([]);
    // Nothing was created along the way, and the server is healthy.
    expectError(await s.call("GET", "/api/v1/users/sweep"), 404);
    expect((await s.fetch("/readyz", { token: null })).status).toBe(200);
  });
});
