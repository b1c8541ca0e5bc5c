/**
 * Edges of the resource API and its clients, as a Kubernetes user would judge them: apply with
 * a stale resourceVersion is a 409, concurrent applies of one new resource all succeed,
 * annotation keys are qualified names, `forja delete -f` names a missing field, and a load
 * test refuses a duration its timers cannot hold.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.ts";
import { runLoadTest } from "../../src/loadtest/engine.ts";
import { createTestPgDatabase, pgAvailable } from "../support/databases.ts";
import { startTestServer } from "../support/server.ts";
import { expectError, project, type Server, startServer, widget } from "./harness.ts";

let s: Server;
beforeAll(async () => {
  s = await startServer();
});
afterAll(async () => s?.stop());

describe("apply: optimistic concurrency", () => {
  // ADR 0001: "Updates carry metadata.resourceVersion; a stale one is a 409". `kubectl apply`
  // of a manifest holding a stale resourceVersion fails with a conflict. Ignoring it would let
  // `get -o yaml > f; edit f; apply -f f` silently overwrite a change made in between.
  it("refuses an apply whose metadata.resourceVersion is stale (409), and keeps the newer spec", async () => {
    await s.admin.create(project("cr-occ"));
    const created = await s.call("POST", "/api/v1/projects/cr-occ/widgets", widget("cr-occ", "w", { size: 1 }));
    const staleRv = created.body.metadata.resourceVersion as string;
    // Someone else updates it.
    expect((await s.call("PUT", "/api/v1/projects/cr-occ/widgets/w", widget("cr-occ", "w", { size: 2 }))).status).toBe(200);
    // We apply our edit of the old copy.
    const res = await s.call("POST", "/api/v1/apply", widget("cr-occ", "w", { size: 3 }, { resourceVersion: staleRv }));
    expectError(res, 409);
    const now = await s.call("GET", "/api/v1/projects/cr-occ/widgets/w");
    expect(now.body.spec.size).toBe(2);
  });
});

describe("apply: create-or-update under concurrency (PostgreSQL)", () => {
  // apply is create-or-update: two clients (two CI jobs, a retry) applying the same new manifest
  // must both succeed (one "created", the other "unchanged"/"configured"). On PostgreSQL both
  // read "absent" and both insert: the loser must take the update path, not answer 409.
  it.skipIf(!pgAvailable)("concurrent applies of the same new resource all answer 200", async () => {
    const db = await createTestPgDatabase();
    const pg = await startTestServer({ databaseUrl: db.url });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) {
        const body = JSON.stringify({ apiVersion: "forja.dev/v1", kind: "Project", metadata: { name: `race-${i}` }, spec: { members: [] } });
        const rs = await Promise.all(
          Array.from({ length: 5 }, () => pg.fetch("/api/v1/apply", { method: "POST", headers: { "content-type": "application/json" }, body })),
        );
        statuses.push(...rs.map((r) => r.status));
      }
      expect(statuses.filter((c) => c !== 200)).toEqual([]);
    } finally {
      await pg.stop();
      await db.drop();
    }
  });
});

describe("annotations validation", () => {
  // Annotation keys must be qualified names like label keys (Kubernetes rejects "" and "a b").
  it("rejects an empty or malformed annotation key with 400 naming metadata.annotations", async () => {
    for (const key of ["", "has space", "UPPER/x"]) {
      const res = await s.call("POST", "/api/v1/projects", project(`cr-ann-${Math.random().toString(36).slice(2, 8)}`, [], { annotations: { [key]: "x" } }));
      expect(res.status, `key ${JSON.stringify(key)}: ${JSON.stringify(res.body)}`).toBe(400);
      expect(res.body.error.message).toContain("metadata.annotations");
    }
  });
});

describe("CLI: forja delete -f", () => {
  // Bad input gives exit 2 and a message naming the field (a document without metadata gave
  // exit 1 and a JavaScript TypeError, "Cannot read properties of undefined").
  it("a document without metadata → exit 2 naming metadata.name, not a TypeError", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cr-cli-"));
    try {
      const file = join(dir, "w.yaml");
      writeFileSync(file, "apiVersion: forja.dev/v1\nkind: Widget\nspec: {size: 1}\n");
      const out: string[] = [];
      const err: string[] = [];
      const code = await main(
        ["node", "forja", "delete", "-f", file],
        { out: (t) => out.push(t), err: (t) => err.push(t), isTTY: false },
        { FORJA_URL: s.url, FORJA_TOKEN: s.adminToken, FORJA_CONFIG: join(dir, "none.yaml") },
      );
      expect(err.join("\n")).not.toMatch(/Cannot read properties/);
      expect(err.join("\n")).toMatch(/metadata/);
      expect(code).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("load test: long durations", () => {
  // Node's timers fire at once past 2^31-1 ms (~24.8 days): a soak test asked for
  // `--duration 600h` stopped at once with 0 requests ("no request completed", exit 1).
  // Such a duration (or timeout) is refused as bad input, naming the option, before any request.
  it("a duration or timeout over 24.8 days is refused naming the option, not run for 0 requests", async () => {
    await expect(runLoadTest({ url: `${s.url}/healthz`, users: 1, durationMs: 600 * 3_600_000, maxRequests: 20 })).rejects.toThrow(/duration: must be at most 24 days/);
    await expect(runLoadTest({ url: `${s.url}/healthz`, users: 1, durationMs: 1000, timeoutMs: 2 ** 31 })).rejects.toThrow(/timeout: must be at most 24 days/);
    const r = await runLoadTest({ url: `${s.url}/healthz`, users: 1, durationMs: 24 * 86_400_000, maxRequests: 20 });
    expect(r.stoppedBy).toBe("requests");
    expect(r.requests).toBe(20);
  });
});
