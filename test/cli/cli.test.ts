/**
 * The real `forja` CLI as a child process against a real server: output formats, apply from
 * files, directories and stdin, describe, delete, login and tokens, and the exit codes and
 * one-line messages of its errors.
 */
import { chmodSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import type { Json, Res } from "../api/harness.ts";
import { startTestServer, type TestServer } from "../support/server.ts";
import { cleanEnv, freePort, runCli, tempDir } from "./run.ts";

let s: TestServer;
let dir: string;
/** Env of an admin CLI configured through FORJA_URL / FORJA_TOKEN (config file unused). */
let adminEnv: Record<string, string>;

beforeAll(async () => {
  s = await startTestServer();
  dir = tempDir();
  adminEnv = cleanEnv(dir, { FORJA_CONFIG: join(dir, "unused-config.yaml"), FORJA_URL: s.url, FORJA_TOKEN: s.adminToken });
});
afterAll(async () => {
  await s?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const forja = (args: string[], opts: { env?: Record<string, string>; input?: string } = {}) => runCli(args, opts.env ?? adminEnv, opts.input !== undefined ? { input: opts.input } : {});

const TEAM_YAML = `# A team: two users and their project
apiVersion: forja.dev/v1
kind: User
metadata:
  name: alice
spec:
  displayName: Alice
---
apiVersion: forja.dev/v1
kind: User
metadata:
  name: bob
spec: {}
---
apiVersion: forja.dev/v1
kind: Project
metadata:
  name: team
  labels: {dept: research}
spec:
  displayName: The team
  members:
    - {user: alice, role: owner}
    - {user: bob, role: viewer}
`;

/** One line saying what went wrong, and nothing on stdout. */
function expectOneLineError(r: { stdout: string; stderr: string }, pattern: RegExp): void {
  expect(r.stdout).toBe("");
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: /);
  expect(lines[0]).toMatch(pattern);
}

describe("get", { timeout: 60_000 }, () => {
  it("prints projects as a table with NAME, PHASE, MEMBERS and AGE", async () => {
    await s.admin.apply([{ apiVersion: "forja.dev/v1", kind: "Project", metadata: { name: "tbl" }, spec: { members: [{ user: "admin", role: "owner" }] } }]);
    const r = await forja(["get", "projects"]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^NAME\s+PHASE\s+MEMBERS\s+AGE$/);
    const rows = Object.fromEntries(lines.slice(1).map((l) => [l.split(/\s+/)[0], l.split(/\s+/)]));
    expect(rows.default).toEqual(["default", expect.stringMatching(/^(Pending|Active)$/), "1", expect.stringMatching(/^\d+(\.\d+)?(ms|s|m)/)]);
    expect(rows.tbl?.[2]).toBe("1");
    // Short names and singulars work as the kind.
    const short = await forja(["get", "proj", "default"]);
    expect(short.code).toBe(0);
    expect(short.stdout).toMatch(/^NAME\s+PHASE/);
  });

  it("prints parseable JSON and YAML with -o", async () => {
    const j = await forja(["get", "projects", "-o", "json"]);
    expect(j.code, j.stderr).toBe(0);
    const list = JSON.parse(j.stdout);
    expect(list.kind).toBe("ProjectList");
    expect(list.items.map((p: Json) => String(p.metadata.name))).toContain("default");

    const y = await forja(["get", "project", "default", "-o", "yaml"]);
    expect(y.code, y.stderr).toBe(0);
    const one = parse(y.stdout);
    expect(one).toMatchObject({ apiVersion: "forja.dev/v1", kind: "Project", metadata: { name: "default" } });
    expect(one.spec.members).toContainEqual({ user: "admin", role: "owner" });

    const names = await forja(["get", "users", "-o", "name"]);
    expect(names.stdout.split("\n")).toContain("user/admin");
  });
});

describe("apply, describe, delete", { timeout: 60_000 }, () => {
  it("applies a file with several documents, then again (unchanged)", async () => {
    const file = join(dir, "team.yaml");
    writeFileSync(file, TEAM_YAML);
    const r = await forja(["apply", "-f", file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trimEnd().split("\n")).toEqual(["user/alice created", "user/bob created", "project/team created"]);
    const again = await forja(["apply", "-f", file]);
    expect(again.stdout.trimEnd().split("\n")).toEqual(["user/alice unchanged", "user/bob unchanged", "project/team unchanged"]);
    const team = await s.admin.get<Res>("projects", "team");
    expect(team.spec.members).toEqual([
      { user: "alice", role: "owner" },
      { user: "bob", role: "viewer" },
    ]);
    expect(team.metadata.labels).toEqual({ dept: "research" });
  });

  it("applies a directory's YAML and JSON files (sorted, others ignored)", async () => {
    const d = join(dir, "manifests");
    mkdirSync(join(d, "nested"), { recursive: true });
    writeFileSync(join(d, "01-users.yaml"), "apiVersion: forja.dev/v1\nkind: User\nmetadata: {name: dir-user}\nspec: {}\n");
    writeFileSync(join(d, "02-project.json"), JSON.stringify({ apiVersion: "forja.dev/v1", kind: "Project", metadata: { name: "dir-proj" }, spec: { members: [{ user: "dir-user", role: "editor" }] } }));
    writeFileSync(join(d, "README.md"), "# not a manifest\n");
    writeFileSync(join(d, "nested", "03-user.yml"), "apiVersion: forja.dev/v1\nkind: User\nmetadata: {name: nested-user}\nspec: {}\n");
    const r = await forja(["apply", "-f", d]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trimEnd().split("\n")).toEqual(["user/dir-user created", "project/dir-proj created"]);
    // -R descends into sub-directories.
    const rec = await forja(["apply", "-R", "-f", d]);
    expect(rec.stdout.trimEnd().split("\n")).toEqual(["user/dir-user unchanged", "project/dir-proj unchanged", "user/nested-user created"]);
  });

  it("applies from stdin with -f -", async () => {
    const r = await forja(["apply", "-f", "-"], { input: "apiVersion: forja.dev/v1\nkind: User\nmetadata:\n  name: from-stdin\nspec: {displayName: S}\n" });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe("user/from-stdin created");
    expect((await s.admin.get<Res>("users", "from-stdin")).spec.displayName).toBe("S");
  });

  it("round-trips: get -o yaml | apply -f - is unchanged, for one resource and for a list", async () => {
    await s.admin.apply([{ apiVersion: "forja.dev/v1", kind: "User", metadata: { name: "rt-user", labels: { a: "b" } }, spec: { email: "rt@example.com" } }]);
    const one = await forja(["get", "user", "rt-user", "-o", "yaml"]);
    const back = await forja(["apply", "-f", "-"], { input: one.stdout });
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout.trim()).toBe("user/rt-user unchanged");

    const all = await forja(["get", "users", "-o", "yaml"]);
    const backAll = await forja(["apply", "-f", "-"], { input: all.stdout });
    expect(backAll.code, backAll.stderr).toBe(0);
    const lines = backAll.stdout.trimEnd().split("\n");
    expect(lines).toContain("user/rt-user unchanged");
    expect(lines.every((l) => l.endsWith(" unchanged"))).toBe(true);

    const json = await forja(["get", "users", "-o", "json"]);
    const backJson = await forja(["apply", "-f", "-", "-o", "json"], { input: json.stdout });
    expect(JSON.parse(backJson.stdout).items.every((i: Json) => i.action === "unchanged")).toBe(true);
  });

  it("describes a project", async () => {
    await s.admin.apply(parseAllDocuments(TEAM_YAML).map((d): unknown => d.toJS() as unknown));
    const r = await forja(["describe", "project", "team"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Name:\s+team$/m);
    expect(r.stdout).toMatch(/^Kind:\s+Project$/m);
    expect(r.stdout).toMatch(/^Labels:\s+dept=research$/m);
    expect(r.stdout).toMatch(/^Generation:\s+\d+\s+ResourceVersion: \d+$/m);
    expect(r.stdout).toMatch(/^Spec:\n {2}displayName: The team\n {2}members:\n/m);
    expect(r.stdout).toContain("user: alice");
    expect(r.stdout).toMatch(/^Status:\n {2}phase: (Pending|Active)/m);
  });

  it("deletes a resource, and a project (which goes away after cleanup)", async () => {
    await s.admin.apply([
      { apiVersion: "forja.dev/v1", kind: "User", metadata: { name: "to-delete" }, spec: {} },
      { apiVersion: "forja.dev/v1", kind: "Project", metadata: { name: "del-proj" }, spec: { members: [] } },
    ]);
    const u = await forja(["delete", "user", "to-delete"]);
    expect(u.code, u.stderr).toBe(0);
    expect(u.stdout.trim()).toBe("user/to-delete deleted");
    await expect(s.admin.get("users", "to-delete")).rejects.toMatchObject({ status: 404 });

    const p = await forja(["delete", "project", "del-proj"]);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout.trim()).toMatch(/^project\/del-proj (deleting|deleted)$/);
    for (let i = 0; i < 100; i++) {
      if ((await s.fetch("/api/v1/projects/del-proj")).status === 404) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((await s.fetch("/api/v1/projects/del-proj")).status).toBe(404);
    const again = await forja(["delete", "project", "del-proj"]);
    expect(again.code).toBe(4);
  });
});

describe("login and tokens", { timeout: 60_000 }, () => {
  it("login writes the config (mode 0600) and later commands use it", async () => {
    const home = tempDir();
    const config = join(home, "cfg", "config.yaml");
    const env = cleanEnv(home, { FORJA_CONFIG: config });
    try {
      const { token } = await s.user("cli-login", { "login-proj": "editor" });
      const r = await forja(["login", "--server", `${s.url}/`, "--token", token, "--project", "login-proj"], { env });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain("as cli-login");
      expect(statSync(config).mode & 0o777).toBe(0o600);
      const saved = parse(readFileSync(config, "utf8"));
      expect(saved).toEqual({ server: s.url, token, project: "login-proj" });

      const me = await forja(["whoami", "-o", "json"], { env });
      expect(me.code, me.stderr).toBe(0);
      expect(JSON.parse(me.stdout)).toMatchObject({ user: "cli-login", admin: false, projects: [{ name: "login-proj", role: "editor" }] });
      const projects = await forja(["get", "projects", "-o", "name"], { env });
      expect(projects.stdout.trim()).toBe("project/login-proj");

      // A bad token is checked before anything is written.
      chmodSync(config, 0o600);
      const before = readFileSync(config, "utf8");
      const bad = await forja(["login", "--server", s.url, "--token", "forja_nope"], { env });
      expect(bad.code).toBe(3);
      expect(readFileSync(config, "utf8")).toBe(before);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it("token create prints only the token on stdout; list shows it without the secret; revoke ends it", async () => {
    const { token } = await s.user("cli-tok");
    const env = cleanEnv(dir, { FORJA_CONFIG: join(dir, "none.yaml"), FORJA_URL: s.url, FORJA_TOKEN: token });
    const created = await forja(["token", "create", "--name", "ci"], { env });
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/^forja_[A-Za-z0-9_-]+\n$/);
    const secret = created.stdout.trim();
    expect(created.stderr).toContain('token "ci"');
    expect(created.stderr).not.toContain(secret);

    // The new token works on its own.
    const whoami = (t: string) => s.fetch("/api/v1/whoami", { token: t });
    expect(((await (await whoami(secret)).json()) as Json).user).toBe("cli-tok");

    const list = await forja(["token", "list"], { env });
    expect(list.code, list.stderr).toBe(0);
    const [header, ...rows] = list.stdout.trimEnd().split("\n");
    expect(header).toMatch(/^ID\s+NAME\s+USER\s+PREFIX\s+AGE\s+EXPIRES/);
    const row = rows.map((r) => r.split(/\s+/)).find((r) => r[1] === "ci");
    expect(row?.slice(1, 4)).toEqual(["ci", "cli-tok", `${secret.slice(0, 12)}…`]);
    expect(list.stdout).not.toContain(secret);
    expect(list.stdout).not.toContain(secret.slice(12));
    const id = row![0]!;

    const revoked = await forja(["token", "revoke", "ci"], { env });
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout.trim()).toBe(`token "ci" (${id}) revoked`);
    expect((await whoami(secret)).status).toBe(401);
    // By id, too; a second revoke finds nothing.
    const second = JSON.parse((await forja(["token", "create", "--name", "ci2", "-o", "json"], { env })).stdout);
    expect(second.token).toMatch(/^forja_/);
    expect((await forja(["token", "revoke", second.id], { env })).code).toBe(0);
    expect((await whoami(second.token)).status).toBe(401);
    expect((await forja(["token", "revoke", second.id], { env })).code).toBe(4);
  });
});

describe("errors and exit codes", { timeout: 60_000 }, () => {
  it("unknown kind → exit 2 naming the known kinds", async () => {
    const r = await forja(["get", "gizmos"]);
    expect(r.code).toBe(2);
    expectOneLineError(r, /unknown resource type "gizmos".*projects/);
  });

  it("a validation error → exit 2 with the field path", async () => {
    const file = join(dir, "bad.yaml");
    writeFileSync(file, "apiVersion: forja.dev/v1\nkind: Project\nmetadata: {name: bad-proj}\nspec:\n  members: x\n");
    const r = await forja(["apply", "-f", file]);
    expect(r.code).toBe(2);
    expectOneLineError(r, /spec\.members: must be array/);
    // Several problems: one line each, after the summary.
    writeFileSync(file, "apiVersion: forja.dev/v1\nkind: Project\nmetadata: {name: Bad}\nspec:\n  members: x\n  bogus: 1\n");
    const many = await forja(["apply", "-f", file]);
    expect(many.code).toBe(2);
    const [summary, ...details] = many.stderr.trimEnd().split("\n");
    expect(summary).toMatch(/^error: .*\(and 2 more\)$/);
    expect(details.map((l) => l.replace(/:.*/, "")).sort()).toEqual(["  metadata.name", "  spec.bogus", "  spec.members"]);
    expect(details).toContain("  spec.bogus: is not a known field");
    await expect(s.admin.get("projects", "bad-proj")).rejects.toMatchObject({ status: 404 });
  });

  it("malformed YAML in a file → exit 2 with file, line and column", async () => {
    const file = join(dir, "broken.yaml");
    writeFileSync(file, "apiVersion: forja.dev/v1\nkind: [User\n");
    const r = await forja(["apply", "-f", file]);
    expect(r.code).toBe(2);
    expectOneLineError(r, /broken\.yaml: invalid YAML at line \d+, column \d+/);
    const missing = await forja(["apply", "-f", join(dir, "nope.yaml")]);
    expect(missing.code).toBe(2);
    expectOneLineError(missing, /nope\.yaml: no such file/);
  });

  it("unreachable server → exit 6 with a one-line message", async () => {
    const port = await freePort();
    const r = await forja(["get", "projects"], { env: { ...adminEnv, FORJA_URL: `http://127.0.0.1:${port}` } });
    expect(r.code).toBe(6);
    expectOneLineError(r, new RegExp(`cannot reach http://127\\.0\\.0\\.1:${port}.*forja up`));
  });

  it("no server configured → exit 2 saying how to configure one", async () => {
    const r = await forja(["get", "projects"], { env: cleanEnv(dir, { FORJA_CONFIG: join(dir, "absent.yaml") }) });
    expect(r.code).toBe(2);
    expectOneLineError(r, /no server configured.*forja up.*forja login/);
  });

  it("401 → exit 3; 403 → exit 3", async () => {
    const r = await forja(["get", "projects"], { env: { ...adminEnv, FORJA_TOKEN: "forja_not-a-real-token" } });
    expect(r.code).toBe(3);
    expectOneLineError(r, /invalid, expired or revoked token/);
    const { token } = await s.user("cli-nobody");
    const denied = await forja(["apply", "-f", "-"], { env: { ...adminEnv, FORJA_TOKEN: token }, input: "apiVersion: forja.dev/v1\nkind: User\nmetadata: {name: x}\nspec: {}\n" });
    expect(denied.code).toBe(3);
    expectOneLineError(denied, /only platform admins manage users/);
  });

  it("not found → exit 4", async () => {
    const r = await forja(["get", "project", "does-not-exist"]);
    expect(r.code).toBe(4);
    expectOneLineError(r, /does-not-exist not found/);
    expect((await forja(["describe", "user", "nobody-here"])).code).toBe(4);
  });

  it("bad -o → exit 2; bad usage → exit 2", async () => {
    const r = await forja(["get", "projects", "-o", "xml"]);
    expect(r.code).toBe(2);
    expectOneLineError(r, /-o: must be one of table, json, yaml/);
    expect((await forja(["get"])).code).toBe(2);
    expect((await forja(["frobnicate"])).code).toBe(2);
    expect((await forja(["delete", "user"])).code).toBe(2);
  });
});
