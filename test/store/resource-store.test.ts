/**
 * The resource store (ResourceRepository on the Kysely database) and API tokens, run
 * against both engines: SQLite (embedded) and a real PostgreSQL (cluster). Every test gets
 * a fresh, migrated database.
 */
import { createHash } from "node:crypto";
import { sql } from "kysely";
import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SYSTEM } from "../../src/auth/principal.ts";
import { TOKEN_PREFIX, TokenService } from "../../src/auth/tokens.ts";
import { AlreadyExistsError, ConflictError, InvalidInputError, NotFoundError, UnauthenticatedError } from "../../src/platform/errors.ts";
import type { Resource, ResourceRef } from "../../src/resources/model.ts";
import { ResourceRepository, type NewResource, type ResourceEvent } from "../../src/resources/repository.ts";
import { matchesSelector, parseSelector } from "../../src/resources/selectors.ts";
import { openDatabase, type Database } from "../../src/store/database.ts";
import { coreMigrations, migrate } from "../../src/store/migrations.ts";
import { forEachEngine, pgUrl, type TestDatabase } from "../support/databases.ts";

function urlOf(d: TestDatabase): string {
  return d.engine === "sqlite" ? `sqlite:${d.filename}` : d.url;
}

/** A clock the test moves by hand. */
function manualClock(start = "2024-05-01T10:00:00.000Z") {
  let t = Date.parse(start);
  return {
    now: () => new Date(t),
    advance(ms: number) {
      t += ms;
    },
  };
}

const rv = (r: Resource) => Number(r.metadata.resourceVersion);

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected the promise to reject, but it resolved");
}

forEachEngine((engine, testDb) => {
  let database: Database;
  let repo: ResourceRepository;
  let clock: ReturnType<typeof manualClock>;
  let events: ResourceEvent[];
  const extra: Database[] = [];

  /** A second, independent connection (pool) to the same database: reads what was really committed. */
  function reopen(): Database {
    const d = openDatabase({ url: urlOf(testDb()) });
    extra.push(d);
    return d;
  }

  beforeEach(async () => {
    database = openDatabase({ url: urlOf(testDb()) });
    await migrate(database, coreMigrations());
    clock = manualClock();
    repo = new ResourceRepository(database, clock.now);
    events = [];
    repo.watch((e) => events.push(e));
  });
  afterEach(async () => {
    for (const d of extra.splice(0)) await d.close();
    await database?.close();
  });

  const model = (name: string, over: Partial<NewResource> = {}): NewResource => ({
    kind: "Model",
    project: "vision",
    name,
    spec: { framework: "torch" },
    status: {},
    ...over,
  });
  const ref = (name: string, kind = "Model", project = "vision"): ResourceRef => ({ kind, project, name });
  const names = (rs: readonly Resource[]) => rs.map((r) => r.metadata.name);

  describe("create and get", () => {
    it("round-trips labels, annotations and a nested unicode spec through a fresh connection", async () => {
      const spec = {
        displayName: "Clasificación de imágenes — 画像分類 🚀",
        quote: 'he said "hi"\\ and left\nnew line\ttab',
        nul: "a\u0000b",
        nested: { layers: [64, 128, { dropout: 0.25, act: "gelu" }], empty: {}, none: null, list: [] },
        numbers: { negative: -17, float: 3.141592653589793, big: Number.MAX_SAFE_INTEGER, exp: 1e-9 },
        flags: [true, false],
        "kéy with spaces/ünïcode": "välue",
      };
      const created = await repo.create(
        model("resnet-50", {
          labels: { team: "vision", "forja.dev/tier": "gold", empty: "" },
          annotations: { "notes.forja.dev/description": "Ünïcödé annotation ✓ with\nnewlines" },
          spec,
          status: { phase: "Pending", conditions: [{ type: "Ready", status: "Unknown" }] },
        }),
      );
      expect(created.apiVersion).toBe("forja.dev/v1");
      expect(created.metadata.generation).toBe(1);
      expect(created.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
      expect(created.metadata.createdAt).toBe("2024-05-01T10:00:00.000Z");
      expect(created.metadata.updatedAt).toBe(created.metadata.createdAt);
      expect(created.metadata.finalizers).toBeUndefined();
      expect(created.metadata.deletionTimestamp).toBeUndefined();

      const other = new ResourceRepository(reopen());
      const got = await other.get(ref("resnet-50"));
      expect(got).toEqual(created);
      expect(got!.spec).toEqual(spec);
      expect(got!.metadata.labels).toEqual({ team: "vision", "forja.dev/tier": "gold", empty: "" });
      expect(got!.metadata.annotations).toEqual({ "notes.forja.dev/description": "Ünïcödé annotation ✓ with\nnewlines" });
      expect(got!.status).toEqual({ phase: "Pending", conditions: [{ type: "Ready", status: "Unknown" }] });
      expect(got!.metadata.project).toBe("vision");
    });

    it("omits the project of cluster-scoped resources and returns undefined for a missing one", async () => {
      const user = await repo.create({ kind: "User", project: "", name: "ada", spec: { admin: false }, status: {} });
      expect(user.metadata).not.toHaveProperty("project");
      expect((await repo.get({ kind: "User", project: "", name: "ada" }))?.metadata.uid).toBe(user.metadata.uid);
      expect(await repo.get({ kind: "User", project: "", name: "grace" })).toBeUndefined();
      expect(await rejection(repo.mustGet({ kind: "User", project: "", name: "grace" }))).toBeInstanceOf(NotFoundError);
    });

    it("rejects a duplicate (kind, project, name) with AlreadyExists and keeps the original", async () => {
      const first = await repo.create(model("bert", { spec: { v: 1 }, labels: { a: "1" } }));
      events.length = 0;
      const err = await rejection(repo.create(model("bert", { spec: { v: 2 }, labels: { a: "2", b: "x" } })));
      expect(err).toBeInstanceOf(AlreadyExistsError);
      expect((err as Error).message).toContain("Model vision/bert");
      expect(await repo.get(ref("bert"))).toEqual(first);
      // The rejected create's labels were not written either.
      expect(names((await repo.list({ kind: "Model", selector: parseSelector("b") })).items)).toEqual([]);
      expect(events).toEqual([]);
    });

    it("allows the same name in another project, another kind, and cluster scope", async () => {
      const a = await repo.create(model("shared"));
      const b = await repo.create(model("shared", { project: "nlp" }));
      const c = await repo.create(model("shared", { kind: "Dataset" }));
      const d = await repo.create(model("shared", { kind: "Dataset", project: "" }));
      expect(new Set([a, b, c, d].map((r) => r.metadata.uid)).size).toBe(4);
      expect((await repo.get(ref("shared", "Model", "nlp")))?.metadata.uid).toBe(b.metadata.uid);
      expect((await repo.get(ref("shared", "Dataset", "")))?.metadata.uid).toBe(d.metadata.uid);
      expect(names(await repo.listAll({ kind: "Model" }))).toEqual(["shared", "shared"]);
    });
  });

  describe("update", () => {
    it("bumps resourceVersion on every change and generation only when spec changes", async () => {
      const v1 = await repo.create(model("m", { spec: { lr: 0.1 } }));
      clock.advance(1000);

      const labelled = await repo.update(ref("m"), { labels: { stage: "dev" } });
      expect(rv(labelled)).toBeGreaterThan(rv(v1));
      expect(labelled.metadata.generation).toBe(1);
      expect(labelled.metadata.updatedAt).toBe("2024-05-01T10:00:01.000Z");
      expect(labelled.metadata.createdAt).toBe(v1.metadata.createdAt);

      const annotated = await repo.update(ref("m"), { annotations: { note: "x" } });
      expect(rv(annotated)).toBeGreaterThan(rv(labelled));
      expect(annotated.metadata.generation).toBe(1);

      const statused = await repo.update(ref("m"), { status: { phase: "Ready" } });
      expect(rv(statused)).toBeGreaterThan(rv(annotated));
      expect(statused.metadata.generation).toBe(1);

      const respecced = await repo.update(ref("m"), { spec: { lr: 0.01 } });
      expect(rv(respecced)).toBeGreaterThan(rv(statused));
      expect(respecced.metadata.generation).toBe(2);

      const stored = await new ResourceRepository(reopen()).get(ref("m"));
      expect(stored).toEqual(respecced);
      expect(stored).toMatchObject({
        spec: { lr: 0.01 },
        status: { phase: "Ready" },
        metadata: { labels: { stage: "dev" }, annotations: { note: "x" }, generation: 2 },
      });
      expect(events.map((e) => e.type)).toEqual(["ADDED", "MODIFIED", "MODIFIED", "MODIFIED", "MODIFIED"]);
    });

    it("rejects a stale resourceVersion with Conflict and writes nothing", async () => {
      const v1 = await repo.create(model("m", { spec: { lr: 0.1 }, labels: { a: "1" } }));
      const v2 = await repo.update(ref("m"), { spec: { lr: 0.2 } }, v1.metadata.resourceVersion);
      events.length = 0;
      const err = await rejection(repo.update(ref("m"), { spec: { lr: 0.3 }, labels: { a: "2" } }, v1.metadata.resourceVersion));
      expect(err).toBeInstanceOf(ConflictError);
      expect((err as Error).message).toContain(`resourceVersion ${v2.metadata.resourceVersion}`);
      expect(await repo.get(ref("m"))).toEqual(v2);
      expect(names((await repo.list({ kind: "Model", selector: parseSelector("a=1") })).items)).toEqual(["m"]);
      expect(names((await repo.list({ kind: "Model", selector: parseSelector("a=2") })).items)).toEqual([]);
      expect(events).toEqual([]);
      // The current version still works.
      const v3 = await repo.update(ref("m"), { spec: { lr: 0.3 } }, v2.metadata.resourceVersion);
      expect(v3.spec).toEqual({ lr: 0.3 });
    });

    it("a no-op update returns the same resourceVersion, emits nothing and keeps updatedAt", async () => {
      const v1 = await repo.create(model("m", { spec: { lr: 0.1, layers: [1, 2] }, labels: { a: "1" }, annotations: { n: "x" } }));
      clock.advance(5000);
      events.length = 0;
      const same = await repo.update(ref("m"), { spec: { lr: 0.1, layers: [1, 2] }, labels: { a: "1" }, annotations: { n: "x" }, status: {} });
      expect(same).toEqual(v1);
      // The same document with its keys in another order (as a re-applied YAML file may have) is no change either.
      const reordered = await repo.update(ref("m"), { spec: { layers: [1, 2], lr: 0.1 } }, v1.metadata.resourceVersion);
      expect(reordered.metadata.resourceVersion).toBe(v1.metadata.resourceVersion);
      expect(reordered.metadata.generation).toBe(1);
      expect(events).toEqual([]);
      expect(await repo.get(ref("m"))).toEqual(v1);
      // ...while a real change still is one (array order matters).
      const changed = await repo.update(ref("m"), { spec: { lr: 0.1, layers: [2, 1] } });
      expect(changed.metadata.generation).toBe(2);
    });

    it("fails with NotFound for a missing resource", async () => {
      expect(await rejection(repo.update(ref("ghost"), { spec: {} }))).toBeInstanceOf(NotFoundError);
      expect(await rejection(repo.delete(ref("ghost")))).toBeInstanceOf(NotFoundError);
    });
  });

  describe("list", () => {
    it("orders by project, then name", async () => {
      for (const [project, name] of [
        ["b", "zeta"],
        ["a", "beta"],
        ["b", "alpha"],
        ["a", "alpha-2"],
        ["a", "alpha"],
        ["c", "a"],
      ] as const) {
        await repo.create(model(name, { project }));
      }
      const all = (await repo.list({ kind: "Model" })).items.map((r) => `${r.metadata.project}/${r.metadata.name}`);
      expect(all).toEqual(["a/alpha", "a/alpha-2", "a/beta", "b/alpha", "b/zeta", "c/a"]);
      expect(names((await repo.list({ kind: "Model", project: "b" })).items)).toEqual(["alpha", "zeta"]);
      expect((await repo.list({ kind: "Dataset" })).items).toEqual([]);
    });

    it("pages with limit/continue: 25 items, limit 7, every item exactly once", async () => {
      const expected: string[] = [];
      for (let i = 0; i < 25; i++) {
        const project = ["p1", "p2", "p3"][i % 3]!;
        const name = `m-${String(i).padStart(2, "0")}`;
        await repo.create(model(name, { project }));
        expected.push(`${project}/${name}`);
      }
      expected.sort();
      const pages: string[][] = [];
      let token: string | undefined;
      do {
        const page = await repo.list({ kind: "Model", limit: 7, ...(token ? { continueToken: token } : {}) });
        pages.push(page.items.map((r) => `${r.metadata.project}/${r.metadata.name}`));
        token = page.continueToken;
        expect(pages.length).toBeLessThan(10);
      } while (token);
      expect(pages.map((p) => p.length)).toEqual([7, 7, 7, 4]);
      expect(pages.flat()).toEqual(expected);
      // Exactly `limit` items left: the last full page says there is no more.
      const exact = await repo.list({ kind: "Model", project: "p1", limit: 9 });
      expect(exact.items).toHaveLength(9);
      expect(exact.continueToken).toBeUndefined();
    });

    it("continues after the last item seen even when items are added or removed between pages", async () => {
      for (const n of ["b", "d", "f", "h"]) await repo.create(model(n));
      const first = await repo.list({ kind: "Model", limit: 2 });
      expect(names(first.items)).toEqual(["b", "d"]);
      await repo.delete(ref("d")); // the cursor item itself disappears
      await repo.create(model("a")); // before the cursor: not seen in this pass
      await repo.create(model("e")); // after the cursor: seen
      const rest = await repo.list({ kind: "Model", limit: 10, continueToken: first.continueToken! });
      expect(names(rest.items)).toEqual(["e", "f", "h"]);
      expect(rest.continueToken).toBeUndefined();
    });

    it("pages through a label-selected list", async () => {
      for (let i = 0; i < 12; i++) await repo.create(model(`m-${String(i).padStart(2, "0")}`, { labels: { parity: i % 2 ? "odd" : "even" } }));
      const seen: string[] = [];
      let token: string | undefined;
      do {
        const page = await repo.list({ kind: "Model", selector: parseSelector("parity=odd"), limit: 4, ...(token ? { continueToken: token } : {}) });
        seen.push(...names(page.items));
        token = page.continueToken;
      } while (token);
      expect(seen).toEqual(["m-01", "m-03", "m-05", "m-07", "m-09", "m-11"]);
    });

    it.each(["not-a-token!!", Buffer.from('{"project":"a"}').toString("base64url"), Buffer.from('["a"]').toString("base64url"), Buffer.from("[1,2]").toString("base64url")])(
      "rejects the invalid continue token %j with InvalidInput naming `continue`",
      async (bad) => {
        await repo.create(model("m"));
        const err = await rejection(repo.list({ kind: "Model", continueToken: bad }));
        expect(err).toBeInstanceOf(InvalidInputError);
        expect((err as InvalidInputError).details.map((d) => d.path)).toEqual(["continue"]);
      },
    );

    it("restricts to projectsIn and namesIn; an empty restriction yields nothing", async () => {
      for (const [project, name] of [
        ["a", "x"],
        ["a", "y"],
        ["b", "x"],
        ["c", "z"],
      ] as const) {
        await repo.create(model(name, { project }));
      }
      const keys = (rs: readonly Resource[]) => rs.map((r) => `${r.metadata.project}/${r.metadata.name}`);
      expect(keys((await repo.list({ kind: "Model", projectsIn: ["a", "c", "nope"] })).items)).toEqual(["a/x", "a/y", "c/z"]);
      expect(keys((await repo.list({ kind: "Model", projectsIn: [] })).items)).toEqual([]);
      expect(keys((await repo.list({ kind: "Model", namesIn: ["x"] })).items)).toEqual(["a/x", "b/x"]);
      expect(keys((await repo.list({ kind: "Model", namesIn: [] })).items)).toEqual([]);
      expect(keys((await repo.list({ kind: "Model", projectsIn: ["b", "c"], namesIn: ["x", "y"] })).items)).toEqual(["b/x"]);
      expect(keys((await repo.list({ kind: "Model", project: "a", projectsIn: ["b"] })).items)).toEqual([]);
    });
  });

  describe("label selectors (evaluated in SQL)", () => {
    const fleet: Record<string, Record<string, string>> = {
      api: { env: "prod", tier: "web", region: "eu" },
      worker: { env: "prod", tier: "batch", region: "us", gpu: "" },
      cache: { env: "staging", tier: "cache", region: "eu", legacy: "true" },
      trainer: { env: "dev", gpu: "a100" },
      bare: {},
    };
    beforeEach(async () => {
      for (const [name, labels] of Object.entries(fleet)) await repo.create(model(name, { labels }));
      // Same labels on another kind and in another project must not leak into the results.
      await repo.create(model("api", { kind: "Dataset", labels: fleet.api! }));
    });

    it.each([
      ["env=prod", ["api", "worker"]],
      ["env==prod", ["api", "worker"]],
      ["env!=prod", ["bare", "cache", "trainer"]],
      ["region in (eu,us)", ["api", "cache", "worker"]],
      ["region in (us)", ["worker"]],
      ["region notin (eu)", ["bare", "trainer", "worker"]],
      ["gpu", ["trainer", "worker"]],
      ["!gpu", ["api", "bare", "cache"]],
      ["gpu=", ["worker"]],
      ["env=prod,tier!=web", ["worker"]],
      ["env in (prod, staging), !legacy", ["api", "worker"]],
      ["gpu,env notin (prod)", ["trainer"]],
      ["env,!tier", ["trainer"]],
      ["env=prod,env=dev", []],
      ["nosuchkey", []],
      ["!nosuchkey", ["api", "bare", "cache", "trainer", "worker"]],
      ["", ["api", "bare", "cache", "trainer", "worker"]],
    ] as const)("%j selects %j", async (selector, expected) => {
      const reqs = parseSelector(selector);
      const got = names((await repo.list({ kind: "Model", project: "vision", selector: reqs })).items);
      expect(got).toEqual([...expected]);
      // SQL and the in-memory matcher (used by watchers) agree.
      const inMemory = Object.entries(fleet)
        .filter(([, labels]) => matchesSelector(labels, reqs))
        .map(([n]) => n)
        .sort();
      expect(got).toEqual(inMemory);
    });

    it("reflects label changes and removals", async () => {
      const sel = (s: string) => repo.list({ kind: "Model", selector: parseSelector(s) }).then((r) => names(r.items));
      await repo.update(ref("api"), { labels: { env: "staging", tier: "web" } }); // env changed, region removed
      expect(await sel("env=prod")).toEqual(["worker"]);
      expect(await sel("env=staging")).toEqual(["api", "cache"]);
      expect(await sel("region")).toEqual(["cache", "worker"]);
      await repo.update(ref("bare"), { labels: { env: "prod" } });
      expect(await sel("env=prod")).toEqual(["bare", "worker"]);
      await repo.update(ref("bare"), { labels: {} });
      expect(await sel("env")).toEqual(["api", "cache", "trainer", "worker"]);
      // A spec-only update leaves labels alone.
      await repo.update(ref("worker"), { spec: { framework: "jax" } });
      expect(await sel("env=prod,gpu")).toEqual(["worker"]);
    });
  });

  describe("delete", () => {
    it("removes a resource without finalizers, with its labels: a re-created one starts clean", async () => {
      const old = await repo.create(model("m", { labels: { env: "prod", team: "a" } }));
      const deleted = await repo.delete(ref("m"));
      expect(deleted.metadata.uid).toBe(old.metadata.uid);
      expect(await repo.get(ref("m"))).toBeUndefined();
      const orphanLabels = await database.db.selectFrom("resource_labels").selectAll().where("uid", "=", old.metadata.uid).execute();
      expect(orphanLabels).toEqual([]);

      const again = await repo.create(model("m"));
      expect(again.metadata.uid).not.toBe(old.metadata.uid);
      expect(again.metadata.generation).toBe(1);
      expect(again.metadata.labels).toEqual({});
      expect((await repo.list({ kind: "Model", selector: parseSelector("env=prod") })).items).toEqual([]);
      expect(names((await repo.list({ kind: "Model", selector: parseSelector("!team") })).items)).toEqual(["m"]);
      expect(events.map((e) => e.type)).toEqual(["ADDED", "DELETED", "ADDED"]);
    });

    it("honours an expected resourceVersion", async () => {
      const v1 = await repo.create(model("m"));
      await repo.update(ref("m"), { spec: { v: 2 } });
      expect(await rejection(repo.delete(ref("m"), v1.metadata.resourceVersion))).toBeInstanceOf(ConflictError);
      expect(await repo.get(ref("m"))).toBeDefined();
    });

    it("with finalizers only marks the resource; removing the last finalizer deletes it", async () => {
      const created = await repo.create(model("m", { finalizers: ["a.forja.dev/x", "b.forja.dev/y"], labels: { env: "prod" } }));
      expect(created.metadata.finalizers).toEqual(["a.forja.dev/x", "b.forja.dev/y"]);
      clock.advance(1000);

      const marked = await repo.delete(ref("m"));
      expect(marked.metadata.deletionTimestamp).toBe("2024-05-01T10:00:01.000Z");
      expect(rv(marked)).toBeGreaterThan(rv(created));
      const stored = await repo.get(ref("m"));
      expect(stored).toEqual(marked);
      expect(names((await repo.list({ kind: "Model", selector: parseSelector("env=prod") })).items)).toEqual(["m"]);

      // Deleting again changes nothing.
      expect(await repo.delete(ref("m"))).toEqual(marked);

      const one = await repo.update(ref("m"), { finalizers: ["b.forja.dev/y"] });
      expect(one.metadata.deletionTimestamp).toBe(marked.metadata.deletionTimestamp);
      expect(await repo.get(ref("m"))).toEqual(one);

      const gone = await repo.update(ref("m"), { finalizers: [] });
      expect(gone.metadata.uid).toBe(created.metadata.uid);
      expect(await repo.get(ref("m"))).toBeUndefined();
      expect((await repo.list({ kind: "Model", selector: parseSelector("env=prod") })).items).toEqual([]);
      expect(await database.db.selectFrom("resource_labels").selectAll().where("uid", "=", created.metadata.uid).execute()).toEqual([]);
      expect(events.map((e) => e.type)).toEqual(["ADDED", "MODIFIED", "MODIFIED", "DELETED"]);
      expect(events[3]!.resource.metadata.uid).toBe(created.metadata.uid);
    });
  });

  describe("transactions and change events", () => {
    it("emits ADDED, MODIFIED and DELETED with the resource, only after commit", async () => {
      let duringTx = -1;
      const created = await repo.transaction(async (s) => {
        const r = await s.create(model("m"));
        await s.update(ref("m"), { spec: { framework: "jax" } });
        duringTx = events.length;
        return r;
      });
      expect(duringTx).toBe(0);
      expect(events.map((e) => [e.type, e.resource.spec])).toEqual([
        ["ADDED", { framework: "torch" }],
        ["MODIFIED", { framework: "jax" }],
      ]);
      expect(events[0]!.resource.metadata.uid).toBe(created.metadata.uid);

      // A listener sees the committed state when it reads the store.
      const seen: (Resource | undefined)[] = [];
      const reads: Promise<void>[] = [];
      const stop = repo.watch((e) => {
        if (e.type === "ADDED") reads.push(repo.get(refOfEvent(e)).then((r) => void seen.push(r)));
      });
      await repo.create(model("n"));
      stop();
      await Promise.all(reads);
      expect(seen.map((r) => r?.metadata.name)).toEqual(["n"]);

      await repo.delete(ref("m"));
      expect(events.at(-1)).toMatchObject({ type: "DELETED", resource: { metadata: { name: "m", uid: created.metadata.uid } } });
    });

    it("a transaction that throws writes nothing and emits nothing", async () => {
      const before = await database.db.selectFrom("counters").select("value").executeTakeFirstOrThrow();
      const err = await rejection(
        repo.transaction(async (s) => {
          await s.create(model("first", { labels: { batch: "1" } }));
          await s.create(model("second", { labels: { batch: "1" } }));
          throw new Error("boom after the second");
        }),
      );
      expect((err as Error).message).toBe("boom after the second");
      expect(await repo.get(ref("first"))).toBeUndefined();
      expect(await repo.get(ref("second"))).toBeUndefined();
      expect(await database.db.selectFrom("resource_labels").selectAll().execute()).toEqual([]);
      expect(await database.db.selectFrom("counters").select("value").executeTakeFirstOrThrow()).toEqual(before);
      expect(events).toEqual([]);
    });

    it("a failing write inside a transaction rolls back the earlier ones", async () => {
      const existing = await repo.create(model("taken"));
      events.length = 0;
      const err = await rejection(
        repo.transaction(async (s) => {
          await s.create(model("fresh"));
          await s.update(ref("taken"), { spec: { changed: true } });
          await s.create(model("taken"));
        }),
      );
      expect(err).toBeInstanceOf(AlreadyExistsError);
      expect(await repo.get(ref("fresh"))).toBeUndefined();
      expect(await repo.get(ref("taken"))).toEqual(existing);
      expect(events).toEqual([]);
    });

    it("resourceVersions strictly increase across kinds and operations", async () => {
      const versions: number[] = [];
      const track = (r: Resource) => void versions.push(rv(r));
      track(await repo.create(model("a")));
      track(await repo.create({ kind: "User", project: "", name: "u", spec: {}, status: {} }));
      track(await repo.create(model("d", { kind: "Dataset", project: "other", finalizers: ["x"] })));
      track(await repo.update(ref("a"), { status: { phase: "Ready" } }));
      track(await repo.delete(ref("d", "Dataset", "other")));
      track(await repo.update({ kind: "User", project: "", name: "u" }, { labels: { k: "v" } }));
      await repo.delete(ref("a"));
      track(await repo.create(model("a")));
      track(await repo.update(ref("d", "Dataset", "other"), { finalizers: [] }));
      for (let i = 1; i < versions.length; i++) expect(versions[i]!).toBeGreaterThan(versions[i - 1]!);
      const counter = await database.db.selectFrom("counters").select("value").where("name", "=", "resourceVersion").executeTakeFirstOrThrow();
      expect(Number(counter.value)).toBeGreaterThanOrEqual(versions.at(-1)!);
    });
  });

  describe("concurrency", () => {
    it("of 10 parallel updates with the same expected version exactly one wins", async () => {
      const base = await repo.create(model("race", { spec: { winner: "none" } }));
      events.length = 0;
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) => repo.update(ref("race"), { spec: { winner: `w${i}` }, labels: { by: `w${i}` } }, base.metadata.resourceVersion)),
      );
      const won = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
      const lost = results.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(9);
      for (const e of lost) expect(e).toBeInstanceOf(ConflictError);
      const winner = (won[0]!.spec as { winner: string }).winner;
      const stored = await repo.get(ref("race"));
      expect(stored).toEqual(won[0]);
      expect(stored!.metadata.generation).toBe(2);
      // Labels of the losers were rolled back with them.
      expect(names((await repo.list({ kind: "Model", selector: parseSelector(`by=${winner}`) })).items)).toEqual(["race"]);
      expect(names((await repo.list({ kind: "Model", selector: parseSelector(`by notin (${winner})`) })).items)).toEqual([]);
      expect(events.map((e) => e.type)).toEqual(["MODIFIED"]);
    });

    it("of parallel deletes and updates with the same expected version exactly one wins", async () => {
      for (let round = 0; round < 5; round++) {
        const name = `race-${round}`;
        const base = await repo.create(model(name, { spec: { v: 0 } }));
        const ops = Array.from({ length: 10 }, (_, i) =>
          i % 2 ? repo.delete(ref(name), base.metadata.resourceVersion) : repo.update(ref(name), { spec: { v: i + 1 } }, base.metadata.resourceVersion),
        );
        const results = await Promise.allSettled(ops);
        const won = results.flatMap((r, i) => (r.status === "fulfilled" ? [i] : []));
        expect(won, `round ${round}`).toHaveLength(1);
        // Losers see the change (Conflict) or, when a delete won, the absence (NotFound).
        const lossKinds = results.flatMap((r) => (r.status === "rejected" ? [(r.reason as Error).constructor] : []));
        for (const k of lossKinds) expect(won[0]! % 2 ? [ConflictError, NotFoundError] : [ConflictError]).toContain(k);
        const stored = await repo.get(ref(name));
        if (won[0]! % 2) expect(stored).toBeUndefined();
        else expect(stored?.spec).toEqual({ v: won[0]! + 1 });
      }
    });

    it("of 10 parallel creates of one name exactly one succeeds; distinct names all do, with unique versions", async () => {
      const same = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => repo.create(model("dup", { spec: { i } }))));
      expect(same.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      for (const r of same) if (r.status === "rejected") expect(r.reason).toBeInstanceOf(AlreadyExistsError);

      const distinct = await Promise.all(Array.from({ length: 20 }, (_, i) => repo.create(model(`n-${i}`, { labels: { i: String(i) } }))));
      expect(new Set(distinct.map(rv)).size).toBe(20);
      expect(await repo.listAll({ kind: "Model" })).toHaveLength(21);
    });

    it("parallel unconditional updates are all applied, none lost", async () => {
      await repo.create(model("counter", { spec: {} }));
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => repo.update(ref("counter"), { annotations: { [`k${i}`]: "v" } })));
      expect(new Set(results.map(rv)).size).toBe(10);
      // Each update replaces annotations: the stored one is the last to commit, i.e. the highest version.
      const last = results.reduce((a, b) => (rv(a) > rv(b) ? a : b));
      expect(await repo.get(ref("counter"))).toEqual(last);
    });
  });

  describe("migrations", () => {
    it("are idempotent and keep the data", async () => {
      await repo.create(model("keep", { labels: { a: "b" } }));
      expect(await migrate(database, coreMigrations())).toEqual([]);
      const other = reopen();
      expect(await migrate(other, coreMigrations())).toEqual([]);
      const again = new ResourceRepository(other);
      expect((await again.get(ref("keep")))?.metadata.labels).toEqual({ a: "b" });
      const next = await again.create(model("next"));
      expect(rv(next)).toBe(2);
    });

    it("apply every core migration on a fresh database", async () => {
      const fresh = reopen();
      const rows = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(fresh.db);
      expect(rows.rows.map((r) => r.name)).toEqual(Object.keys(coreMigrations()).sort());
    });
  });

  if (engine === "postgres") {
    it("keeps working after PostgreSQL drops its idle connections", async () => {
      await repo.create(model("before"));
      const admin = new pg.Client({ connectionString: pgUrl! });
      await admin.connect();
      try {
        const db = testDb();
        const dbName = db.engine === "postgres" ? db.name : "";
        const killed = await admin.query("select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()", [dbName]);
        expect(killed.rowCount).toBeGreaterThan(0);
      } finally {
        await admin.end();
      }
      // Let the pool notice the dead connections.
      await new Promise((r) => setTimeout(r, 200));
      await database.ping();
      expect((await repo.create(model("after"))).metadata.name).toBe("after");
      expect(names(await repo.listAll({ kind: "Model" }))).toEqual(["after", "before"]);
    });
  }

  describe("API tokens", () => {
    let tokens: TokenService;
    beforeEach(async () => {
      tokens = new TokenService(database, repo, clock.now);
      await repo.create({ kind: "User", project: "", name: "ada", spec: { admin: false, disabled: false }, status: {} });
      await repo.create({ kind: "User", project: "", name: "root", spec: { admin: true, disabled: false }, status: {} });
    });

    it("authenticates a new token until it is revoked", async () => {
      const created = await tokens.create(SYSTEM, { name: "ci", user: "ada" });
      expect(created.token.startsWith(TOKEN_PREFIX)).toBe(true);
      expect(await tokens.authenticate(created.token)).toEqual({ kind: "user", name: "ada", admin: false, tokenId: created.id });
      const admin = await tokens.create(SYSTEM, { name: "ops", user: "root" });
      expect((await tokens.authenticate(admin.token)).admin).toBe(true);

      const revoked = await tokens.revoke({ kind: "user", name: "ada", admin: false }, "ci");
      expect(revoked.revokedAt).toBeDefined();
      expect(await rejection(tokens.authenticate(created.token))).toBeInstanceOf(UnauthenticatedError);
      // Another user's token is unaffected, and the name can be reused.
      expect((await tokens.authenticate(admin.token)).name).toBe("root");
      const renewed = await tokens.create(SYSTEM, { name: "ci", user: "ada" });
      expect((await tokens.authenticate(renewed.token)).name).toBe("ada");
    });

    it("rejects an unknown token, a tampered one, and a second active token with the same name", async () => {
      const t = await tokens.create(SYSTEM, { name: "ci", user: "ada" });
      expect(await rejection(tokens.authenticate(`${TOKEN_PREFIX}${"A".repeat(43)}`))).toBeInstanceOf(UnauthenticatedError);
      expect(await rejection(tokens.authenticate(t.token.slice(0, -1) + (t.token.endsWith("a") ? "b" : "a")))).toBeInstanceOf(UnauthenticatedError);
      expect(await rejection(tokens.create(SYSTEM, { name: "ci", user: "ada" }))).toBeInstanceOf(ConflictError);
    });

    it("stops accepting a token once it expires", async () => {
      const t = await tokens.create(SYSTEM, { name: "short", user: "ada", expiresInSeconds: 60 });
      expect(t.expiresAt).toBe("2024-05-01T10:01:00.000Z");
      clock.advance(59_000);
      expect((await tokens.authenticate(t.token)).name).toBe("ada");
      clock.advance(1_000);
      expect(await rejection(tokens.authenticate(t.token))).toBeInstanceOf(UnauthenticatedError);
    });

    it("stops accepting the tokens of a disabled or deleted user", async () => {
      const t = await tokens.create(SYSTEM, { name: "ci", user: "ada" });
      await repo.update({ kind: "User", project: "", name: "ada" }, { spec: { admin: false, disabled: true } });
      expect(await rejection(tokens.authenticate(t.token))).toBeInstanceOf(UnauthenticatedError);
      await repo.update({ kind: "User", project: "", name: "ada" }, { spec: { admin: false, disabled: false } });
      expect((await tokens.authenticate(t.token)).name).toBe("ada");
      await repo.delete({ kind: "User", project: "", name: "ada" });
      expect(await rejection(tokens.authenticate(t.token))).toBeInstanceOf(UnauthenticatedError);
    });

    it("stores a hash of the token, never the token", async () => {
      const t = await tokens.create(SYSTEM, { name: "secret", user: "ada", expiresInSeconds: 3600 });
      const rows = await database.db.selectFrom("tokens").selectAll().execute();
      expect(rows).toHaveLength(1);
      const row = rows[0]!;
      expect(row.token_hash).toBe(createHash("sha256").update(t.token).digest("hex"));
      const secret = t.token.slice(row.prefix.length);
      expect(secret.length).toBeGreaterThanOrEqual(36);
      for (const [column, value] of Object.entries(row)) {
        const text = String(value);
        expect(text.includes(t.token), `column ${column} holds the token`).toBe(false);
        expect(text.includes(secret), `column ${column} holds the token's secret part`).toBe(false);
      }
      // Nor anywhere else in the database.
      const dump = JSON.stringify(await database.db.selectFrom("resources").selectAll().execute());
      expect(dump.includes(secret)).toBe(false);
    });
  });
});

function refOfEvent(e: ResourceEvent): ResourceRef {
  return { kind: e.resource.kind, project: e.resource.metadata.project ?? "", name: e.resource.metadata.name };
}
