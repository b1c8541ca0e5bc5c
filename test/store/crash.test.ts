/**
 * Crash safety: the real server (`forja up`, a child process) is killed with SIGKILL while
 * it is answering concurrent writes, then restarted on the same data. Every write it
 * acknowledged must be there, intact; nothing may be half-written; the store must be sound.
 * Runs on SQLite (the embedded default, in the data dir) and on PostgreSQL.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import BetterSqlite3 from "better-sqlite3";
import { afterEach, expect, it } from "vitest";
import { SYSTEM } from "../../src/auth/principal.ts";
import { ForjaClient } from "../../src/client/client.ts";
import type { Resource } from "../../src/resources/model.ts";
import { matchesSelector, parseSelector } from "../../src/resources/selectors.ts";
import { loadServerConfig } from "../../src/platform/config.ts";
import { createPlatform } from "../../src/server/platform.ts";
import { openDatabase } from "../../src/store/database.ts";
import { createTestPgDatabase, forEachEngine, type PostgresTestDatabase } from "../support/databases.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const BIN = join(ROOT, "bin", "forja.mjs");

interface Server {
  readonly url: string;
  readonly proc: ChildProcess;
  readonly exited: Promise<number | null>;
  output(): string;
}

const children = new Set<ChildProcess>();
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  children.clear();
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once("error", rej);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => res(port));
    });
  });
}

/** Starts `forja up` and waits until /readyz answers 200. */
async function startServer(dataDir: string, databaseUrl?: string): Promise<Server> {
  const port = await freePort();
  const args = [BIN, "up", "--data-dir", dataDir, "--port", String(port), "--host", "127.0.0.1", "--no-write-config", "--log-level", "warn"];
  if (databaseUrl) args.push("--database-url", databaseUrl);
  // The child's configuration comes from its flags only, not from whatever FORJA_* the test runner has.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("FORJA_")));
  const proc = spawn(process.execPath, args, { cwd: ROOT, env: { ...env, HOME: dataDir }, stdio: ["ignore", "pipe", "pipe"] });
  children.add(proc);
  let out = "";
  proc.stdout.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((res) => proc.once("exit", (code) => res(code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 45_000;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`forja up exited (${proc.exitCode ?? proc.signalCode}):\n${out}`);
    if (Date.now() > deadline) throw new Error(`forja up not ready within 45 s:\n${out}`);
    const ready = await fetch(`${url}/readyz`).then(
      (r) => r.status,
      () => 0,
    );
    if (ready === 200) break;
    await sleep(50);
  }
  return { url, proc, exited, output: () => out };
}

async function stopGracefully(s: Server): Promise<void> {
  s.proc.kill("SIGTERM");
  const code = await s.exited;
  expect(code, `graceful stop:\n${s.output()}`).toBe(0);
}

async function killHard(s: Server): Promise<void> {
  s.proc.kill("SIGKILL");
  await s.exited;
  expect(s.proc.signalCode).toBe("SIGKILL");
}

/**
 * Bootstraps the store in-process, as `forja up` would (migrations, admin user, default
 * project), without listening, and mints an admin token: the server started next finds both.
 */
async function bootstrapWithAdminToken(dataDir: string, databaseUrl: string): Promise<string> {
  const config = loadServerConfig({}, { dataDir, databaseUrl, host: "127.0.0.1", port: 0, logLevel: "silent", writeClientConfig: false });
  const platform = await createPlatform(config);
  try {
    return (await platform.ctx.tokens.create(SYSTEM, { name: "crash-test", user: "admin" })).token;
  } finally {
    await platform.stop();
  }
}

interface ProjectDoc {
  apiVersion: "forja.dev/v1";
  kind: "Project";
  metadata: { name: string; project?: string; labels: Record<string, string>; annotations: Record<string, string> };
  spec: { displayName: string; description: string; members: { user: string; role: "owner" }[] };
}

function projectDoc(name: string, labels: Record<string, string>, description = `project ${name}`): ProjectDoc {
  return {
    apiVersion: "forja.dev/v1",
    kind: "Project",
    metadata: {
      name,
      labels: { crash: "yes", ...labels },
      // Bulky enough that a torn write would show: several KB per row.
      annotations: { "crash.forja.dev/payload": `${name}:${"ünïcødé-✓-".repeat(300)}` },
    },
    spec: { displayName: `Projekt ${name} — テスト`, description, members: [{ user: "admin", role: "owner" }] },
  };
}

interface Load {
  /** Every document sent, by name (acknowledged or not). */
  readonly sent: Map<string, ProjectDoc>;
  /** Names whose write was answered 2xx, with the uid answered. */
  readonly acked: Map<string, string>;
  /** Pairs applied in one request: [a, b]. */
  readonly pairs: [string, string][];
  /** Sequential updates of one project: the last acknowledged description, and the one in flight. */
  counter: { lastAcked: number; inFlight: number | undefined };
  readonly unexpected: string[];
}

/**
 * Four concurrent writers until the server dies: two create single projects, one applies pairs
 * of projects in one request (atomic), one keeps updating the same project.
 */
function runLoad(url: string, token: string): { load: Load; done: Promise<void> } {
  const load: Load = { sent: new Map(), acked: new Map(), pairs: [], counter: { lastAcked: 0, inFlight: undefined }, unexpected: [] };
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  /** Resolves the response, or undefined when the connection failed (the server is gone). */
  const send = async (method: string, path: string, body: unknown): Promise<Response | undefined> => {
    try {
      return await fetch(url + path, { method, headers, body: JSON.stringify(body), signal: AbortSignal.timeout(20_000) });
    } catch {
      return undefined;
    }
  };
  const record = async (res: Response, what: string, expected: number): Promise<unknown> => {
    const body: unknown = await res.json().catch(() => undefined);
    if (res.status !== expected) load.unexpected.push(`${what}: HTTP ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
    return body;
  };

  const creator = async (loop: number) => {
    for (let n = 0; ; n++) {
      const doc = projectDoc(`c${loop}-${n}`, { loop: `l${loop}`, seq: String(n), parity: n % 2 ? "odd" : "even" });
      load.sent.set(doc.metadata.name, doc);
      const res = await send("POST", "/api/v1/projects", doc);
      if (!res) return;
      const body = (await record(res, `create ${doc.metadata.name}`, 201)) as Resource | undefined;
      if (res.status === 201 && body) load.acked.set(doc.metadata.name, body.metadata.uid);
    }
  };
  const pairer = async () => {
    for (let n = 0; ; n++) {
      const a = projectDoc(`pair-${n}-a`, { loop: "pairs", seq: String(n), side: "a" });
      const b = projectDoc(`pair-${n}-b`, { loop: "pairs", seq: String(n), side: "b" });
      load.sent.set(a.metadata.name, a);
      load.sent.set(b.metadata.name, b);
      load.pairs.push([a.metadata.name, b.metadata.name]);
      const res = await send("POST", "/api/v1/apply", [a, b]);
      if (!res) return;
      const body = (await record(res, `apply pair-${n}`, 200)) as { items?: { resource: Resource }[] } | undefined;
      if (res.status === 200 && body?.items) for (const it of body.items) load.acked.set(it.resource.metadata.name, it.resource.metadata.uid);
    }
  };
  const updater = async () => {
    for (let n = 1; ; n++) {
      load.counter.inFlight = n;
      const res = await send("PUT", "/api/v1/projects/counter", projectDoc("counter", { loop: "counter" }, String(n)));
      if (!res) return;
      await record(res, `update counter to ${n}`, 200);
      if (res.status === 200) load.counter.lastAcked = n;
      load.counter.inFlight = undefined;
    }
  };
  const done = Promise.all([creator(0), creator(1), pairer(), updater()]).then(() => undefined);
  return { load, done };
}

forEachEngine(
  (engine) => {
    it(
      "keeps every acknowledged write, and nothing half-written, across kill -9 under load",
      async () => {
        const dataDir = mkdtempSync(join(tmpdir(), "forja-crash-"));
        cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
        let pgDb: PostgresTestDatabase | undefined;
        if (engine === "postgres") {
          pgDb = await createTestPgDatabase();
          const d = pgDb;
          cleanups.push(() => d.drop());
        }
        const dbUrl = pgDb ? pgDb.url : `sqlite:${join(dataDir, "forja.db")}`;
        const serverDbUrl = pgDb?.url; // SQLite: the server's default location in the data dir

        const token = await bootstrapWithAdminToken(dataDir, dbUrl);
        const first = await startServer(dataDir, serverDbUrl);
        const admin = new ForjaClient({ server: first.url, token });
        await admin.create(projectDoc("counter", { loop: "counter" }, "0"));

        // Load, then SIGKILL while requests are in flight.
        const { load, done } = runLoad(first.url, token);
        const started = Date.now();
        while (Date.now() - started < 3_000 && (load.acked.size < 60 || load.counter.lastAcked < 5)) await sleep(20);
        const ackedBeforeKill = load.acked.size;
        await killHard(first);
        await done;
        expect(load.unexpected).toEqual([]);
        expect(ackedBeforeKill, "the load produced acknowledged writes before the kill").toBeGreaterThanOrEqual(20);
        // Writes were in flight when the server died: more were sent than acknowledged.
        expect(load.sent.size).toBeGreaterThan(load.acked.size);

        // Restart on the same data.
        const second = await startServer(dataDir, serverDbUrl);
        expect((await fetch(`${second.url}/readyz`)).status).toBe(200);
        const client = new ForjaClient({ server: second.url, token });
        const stored = new Map((await client.listAll("projects")).filter((p) => p.metadata.name !== "default").map((p) => [p.metadata.name, p]));

        // Every acknowledged write is there, as sent, with the uid that was answered.
        const missing = [...load.acked.keys()].filter((n) => !stored.has(n));
        expect(missing).toEqual([]);
        for (const [name, uid] of load.acked) expect(stored.get(name)?.metadata.uid, name).toBe(uid);
        // Everything stored is something sent, complete: spec, labels and annotations as sent.
        for (const [name, p] of stored) {
          if (name === "counter") continue;
          const doc = load.sent.get(name);
          expect(doc, `unexpected project ${name}`).toBeDefined();
          expect(p.spec, name).toEqual(doc!.spec);
          expect(p.metadata.labels, name).toEqual(doc!.metadata.labels);
          expect(p.metadata.annotations, name).toEqual(doc!.metadata.annotations);
        }
        // An apply of two documents is atomic: both or neither.
        for (const [a, b] of load.pairs) expect(stored.has(a), `${a} stored, ${b} ${stored.has(b) ? "stored" : "missing"}`).toBe(stored.has(b));
        // The last acknowledged update of the counter survived (the one in flight may have committed too).
        const counter = stored.get("counter")!;
        const allowed = [String(load.counter.lastAcked), ...(load.counter.inFlight ? [String(load.counter.inFlight)] : [])];
        expect(allowed).toContain((counter.spec as { description: string }).description);

        // Label index consistent with metadata.labels: each selector returns exactly the projects carrying the labels.
        const all = [...stored.values()];
        for (const selector of ["loop=l0", "loop=l1", "loop=pairs", "loop=counter", "parity=odd", "side in (a,b)", "!seq"]) {
          const reqs = parseSelector(`crash=yes,${selector}`);
          const expected = all.filter((p) => matchesSelector(p.metadata.labels, reqs)).map((p) => p.metadata.name);
          const got = (await client.listAll("projects", { labelSelector: `crash=yes,${selector}` })).map((p) => p.metadata.name);
          expect(got.sort(), selector).toEqual(expected.sort());
          if (selector !== "loop=counter") expect(got.length, selector).toBeGreaterThan(0);
        }

        // The restarted server takes writes.
        await client.create(projectDoc("after-restart", { loop: "after" }));
        expect((await client.get("projects", "after-restart")).metadata.name).toBe("after-restart");
        await stopGracefully(second);

        // Inspect the store itself, with no server running.
        const database = openDatabase({ url: dbUrl });
        try {
          const rows = await database.db.selectFrom("resources").select(["uid", "name", "labels", "resource_version"]).execute();
          const labelRows = await database.db.selectFrom("resource_labels").selectAll().execute();
          const byUid = new Map<string, Record<string, string>>();
          for (const l of labelRows) byUid.set(l.uid, { ...byUid.get(l.uid), [l.key]: l.value });
          for (const r of rows) expect(byUid.get(r.uid) ?? {}, `labels of ${r.name}`).toEqual(JSON.parse(r.labels));
          const uids = new Set(rows.map((r) => r.uid));
          expect(labelRows.filter((l) => !uids.has(l.uid))).toEqual([]);
          const versions = rows.map((r) => Number(r.resource_version));
          expect(new Set(versions).size).toBe(versions.length);
          const counterRow = await database.db.selectFrom("counters").select("value").where("name", "=", "resourceVersion").executeTakeFirstOrThrow();
          expect(Number(counterRow.value)).toBeGreaterThanOrEqual(Math.max(...versions));
        } finally {
          await database.close();
        }
        if (engine === "sqlite") {
          const native = new BetterSqlite3(join(dataDir, "forja.db"), { readonly: true });
          try {
            expect(native.pragma("integrity_check", { simple: true })).toBe("ok");
            expect(native.pragma("foreign_key_check")).toEqual([]);
          } finally {
            native.close();
          }
        }
      },
      120_000,
    );
  },
  { database: "none" },
);
