/** Authorization across projects, through both URI forms (unscoped and /projects/{p}). */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/server.ts";
import { mlflowClient, type MlflowTestClient } from "./helpers.ts";

let s: TestServer;
let alice: { token: string };
let bob: { token: string };
let carol: { token: string };
let expA: string;
let runA: string;
const A = "/projects/team-a/api/2.0/mlflow";
const B = "/projects/team-b/api/2.0/mlflow";
const as = (u: { token: string }, base = "/api/2.0/mlflow"): MlflowTestClient => mlflowClient(s, { token: u.token, base });
const code = (r: { status: number; body: Record<string, unknown> }) => [r.status, r.body["error_code"]];

beforeAll(async () => {
  s = await startTestServer();
  alice = await s.user("alice", { "team-a": "editor" });
  bob = await s.user("bob", { "team-a": "viewer" });
  carol = await s.user("carol", { "team-b": "owner" });
  expA = (await as(alice, A).ok("POST", "experiments/create", { name: "secret" }))["experiment_id"] as string;
  runA = ((await as(alice, A).ok("POST", "runs/create", { experiment_id: expA }))["run"] as { info: { run_id: string } }).info.run_id;
  await as(alice, A).ok("POST", "runs/log-metric", { run_id: runA, key: "m", value: 1, timestamp: 1 });
  const put = await fetch(`${s.url}/projects/team-a/api/2.0/mlflow-artifacts/artifacts/${expA}/${runA}/artifacts/f.txt`, { method: "PUT", headers: { authorization: `Bearer ${alice.token}` }, body: "data" });
  expect(put.status).toBe(200);
});
afterAll(() => s.stop());

describe("a member of B cannot read A", () => {
  it("experiments by id: 403 unscoped, 404 through B's URI, 403 through A's URI", async () => {
    expect(code(await as(carol).get("experiments/get", { experiment_id: expA }))).toEqual([403, "PERMISSION_DENIED"]);
    expect(code(await as(carol, B).get("experiments/get", { experiment_id: expA }))).toEqual([404, "RESOURCE_DOES_NOT_EXIST"]);
    expect(code(await as(carol, A).get("experiments/get", { experiment_id: expA }))).toEqual([403, "PERMISSION_DENIED"]);
    expect(code(await as(carol, A).get("experiments/get-by-name", { experiment_name: "secret" }))).toEqual([403, "PERMISSION_DENIED"]);
  });
  it("runs, metric history and run search", async () => {
    expect(code(await as(carol).get("runs/get", { run_id: runA }))).toEqual([403, "PERMISSION_DENIED"]);
    expect(code(await as(carol, B).get("runs/get", { run_id: runA }))).toEqual([404, "RESOURCE_DOES_NOT_EXIST"]);
    expect(code(await as(carol).get("metrics/get-history", { run_id: runA, metric_key: "m" }))).toEqual([403, "PERMISSION_DENIED"]);
    expect(code(await as(carol).post("runs/search", { experiment_ids: [expA] }))).toEqual([403, "PERMISSION_DENIED"]);
    expect(await as(carol, B).ok("POST", "runs/search", { experiment_ids: [expA] })).toEqual({});
  });
  it("unscoped experiment search lists only readable projects", async () => {
    await as(carol, B).ok("POST", "experiments/create", { name: "mine" });
    const names = (((await as(carol).ok("POST", "experiments/search", {}))["experiments"] as { name: string }[] | undefined) ?? []).map((e) => e.name);
    expect(names).toContain("mine");
    expect(names).not.toContain("secret");
    const aliceNames = (((await as(alice).ok("POST", "experiments/search", {}))["experiments"] as { name: string }[] | undefined) ?? []).map((e) => e.name);
    expect(aliceNames).toContain("secret");
    expect(aliceNames).not.toContain("mine");
  });
  it("artifacts: download, list and run artifact list are refused", async () => {
    for (const base of ["", "/projects/team-b"]) {
      const r = await fetch(`${s.url}${base}/api/2.0/mlflow-artifacts/artifacts/${expA}/${runA}/artifacts/f.txt`, { headers: { authorization: `Bearer ${carol.token}` } });
      expect([403, 404]).toContain(r.status);
      const l = await fetch(`${s.url}${base}/api/2.0/mlflow-artifacts/artifacts?path=${expA}/${runA}/artifacts`, { headers: { authorization: `Bearer ${carol.token}` } });
      expect([403, 404]).toContain(l.status);
    }
    expect(code(await as(carol).get("artifacts/list", { run_id: runA }))).toEqual([403, "PERMISSION_DENIED"]);
    const put = await fetch(`${s.url}/api/2.0/mlflow-artifacts/artifacts/${expA}/${runA}/artifacts/evil.txt`, { method: "PUT", headers: { authorization: `Bearer ${carol.token}` }, body: "x" });
    expect(put.status).toBe(403);
  });
  describe("artifacts under the experiment id '0' (the URI project's Default experiment)", () => {
    const art = (base: string, path: string) => `${s.url}${base}/api/2.0/mlflow-artifacts/artifacts/${path}`;
    const auth = (u: { token: string }) => ({ authorization: `Bearer ${u.token}` });
    // From the security review; both failed before stored paths started with the resolved
    // experiment id (storedPath in src/tracking/artifacts.ts, migration 0610). The cause was:
    // src/tracking/artifacts.ts: checkArtifactPath accepts "0/..." and access.experiment resolves
    // "0" to the Default experiment of the *URI's* project, but tracking_artifacts is keyed by the
    // literal path ("0/...") alone: download() reads the row by path without its experiment_id,
    // and upload() upserts on path, moving another project's row into the caller's experiment.
    it("a member of team-b cannot read team-a's artifact stored as 0/...", async () => {
      const put = await fetch(art("/projects/team-a", "0/secret.txt"), { method: "PUT", headers: auth(alice), body: "team-a secret" });
      expect(put.status).toBe(200);
      const got = await fetch(art("/projects/team-b", "0/secret.txt"), { headers: auth(carol) });
      const body = await got.text();
      expect(body).not.toBe("team-a secret");
      expect([403, 404]).toContain(got.status);
    });

    it("a member of team-b cannot overwrite team-a's artifact stored as 0/...", async () => {
      const put = await fetch(art("/projects/team-a", "0/model.txt"), { method: "PUT", headers: auth(alice), body: "genuine" });
      expect(put.status).toBe(200);
      await fetch(art("/projects/team-b", "0/model.txt"), { method: "PUT", headers: auth(carol), body: "tampered" });
      const got = await fetch(art("/projects/team-a", "0/model.txt"), { headers: auth(alice) });
      expect(got.status).toBe(200);
      expect(await got.text()).toBe("genuine");
    });
  });
  it("writes to A are refused", async () => {
    expect(code(await as(carol).post("runs/log-metric", { run_id: runA, key: "m", value: 2, timestamp: 2 }))).toEqual([403, "PERMISSION_DENIED"]);
    expect(code(await as(carol).post("runs/create", { experiment_id: expA }))).toEqual([403, "PERMISSION_DENIED"]);
    expect(code(await as(carol).post("experiments/delete", { experiment_id: expA }))).toEqual([403, "PERMISSION_DENIED"]);
  });
});

describe("roles within a project", () => {
  it("a viewer reads but cannot log, create runs or upload", async () => {
    expect((await as(bob, A).get("runs/get", { run_id: runA })).status).toBe(200);
    expect((await as(bob).get("runs/get", { run_id: runA })).status).toBe(200);
    expect(code(await as(bob, A).post("runs/log-metric", { run_id: runA, key: "m", value: 2, timestamp: 2 }))).toEqual([403, "PERMISSION_DENIED"]);
    expect(code(await as(bob, A).post("runs/log-batch", { run_id: runA, params: [{ key: "p", value: "1" }] }))).toEqual([403, "PERMISSION_DENIED"]);
    expect(code(await as(bob, A).post("runs/create", { experiment_id: expA }))).toEqual([403, "PERMISSION_DENIED"]);
    expect(code(await as(bob, A).post("experiments/create", { name: "nope" }))).toEqual([403, "PERMISSION_DENIED"]);
    const put = await fetch(`${s.url}/projects/team-a/api/2.0/mlflow-artifacts/artifacts/${expA}/${runA}/artifacts/v.txt`, { method: "PUT", headers: { authorization: `Bearer ${bob.token}` }, body: "x" });
    expect(put.status).toBe(403);
    const get = await fetch(`${s.url}/projects/team-a/api/2.0/mlflow-artifacts/artifacts/${expA}/${runA}/artifacts/f.txt`, { headers: { authorization: `Bearer ${bob.token}` } });
    expect(await get.text()).toBe("data");
  });
  it("the unscoped form creates in `default`, where a non-member is refused", async () => {
    expect(code(await as(alice).post("experiments/create", { name: "x" }))).toEqual([403, "PERMISSION_DENIED"]);
  });
  it("experiment 0 is per project: A's Default differs from default's", async () => {
    const a0 = (await as(alice, A).ok("GET", "experiments/get", { experiment_id: "0" }))["experiment"] as { experiment_id: string; name: string };
    const d0 = (await mlflowClient(s).ok("GET", "experiments/get", { experiment_id: "0" }))["experiment"] as { experiment_id: string };
    expect(a0.name).toBe("Default");
    expect(a0.experiment_id).not.toBe(d0.experiment_id);
    const run = (await as(alice, A).ok("POST", "runs/create", {}))["run"] as { info: { experiment_id: string } };
    expect(run.info.experiment_id).toBe(a0.experiment_id);
  });
  it("a scoped URI of a project that does not exist is refused", async () => {
    expect((await mlflowClient(s, { base: "/projects/no-such/api/2.0/mlflow" }).get("experiments/get", { experiment_id: "0" })).status).toBe(404);
    expect((await as(carol, "/projects/no-such/api/2.0/mlflow").get("experiments/get", { experiment_id: "0" })).status).toBe(403);
  });
});

/**
 * Authentication and membership answers are cached (docs/adr/0012-tracking-write-path-and-auth-caches.md);
 * a change made through this server must still take effect on the very next request.
 */
describe("losing access takes effect at once", () => {
  const members = async (project: string, list: { user: string; role: string }[]) => {
    await s.admin.apply([{ apiVersion: "forja.dev/v1", kind: "Project", metadata: { name: project }, spec: { members: list } }]);
  };
  const log = (u: { token: string }, run: string, step: number) =>
    as(u, "/projects/team-c/api/2.0/mlflow").post("runs/log-batch", { run_id: run, metrics: [{ key: "m", value: step, timestamp: 1, step }] });
  let dave: { token: string };
  let runC: string;
  beforeAll(async () => {
    dave = await s.user("dave", { "team-c": "editor" });
    const exp = (await as(dave, "/projects/team-c/api/2.0/mlflow").ok("POST", "experiments/create", { name: "c" }))["experiment_id"] as string;
    runC = ((await as(dave, "/projects/team-c/api/2.0/mlflow").ok("POST", "runs/create", { experiment_id: exp }))["run"] as { info: { run_id: string } }).info.run_id;
  });

  it("a member removed from the project, or made a viewer, can no longer log; re-added, can again", async () => {
    expect((await log(dave, runC, 1)).status).toBe(200);
    await members("team-c", [{ user: "admin", role: "owner" }]);
    expect(code(await log(dave, runC, 2))).toEqual([403, "PERMISSION_DENIED"]);
    expect(code(await as(dave, "/projects/team-c/api/2.0/mlflow").get("runs/get", { run_id: runC }))).toEqual([403, "PERMISSION_DENIED"]);
    await members("team-c", [{ user: "admin", role: "owner" }, { user: "dave", role: "viewer" }]);
    expect(code(await log(dave, runC, 3))).toEqual([403, "PERMISSION_DENIED"]);
    expect((await as(dave, "/projects/team-c/api/2.0/mlflow").get("runs/get", { run_id: runC })).status).toBe(200);
    await members("team-c", [{ user: "admin", role: "owner" }, { user: "dave", role: "editor" }]);
    expect((await log(dave, runC, 4)).status).toBe(200);
  });

  it("a revoked token and a disabled user's token are refused on the next request", async () => {
    const erin = await s.user("erin", { "team-c": "editor" });
    const frank = await s.user("frank", { "team-c": "editor" });
    expect((await log(erin, runC, 5)).status).toBe(200);
    expect((await log(frank, runC, 6)).status).toBe(200);
    const [id] = (await s.admin.listTokens({ user: "erin" })).map((t) => t.id);
    await s.admin.revokeToken(id!);
    expect(code(await log(erin, runC, 7))).toEqual([401, "UNAUTHENTICATED"]);
    await s.admin.apply([{ apiVersion: "forja.dev/v1", kind: "User", metadata: { name: "frank" }, spec: { disabled: true } }]);
    expect(code(await log(frank, runC, 8))).toEqual([401, "UNAUTHENTICATED"]);
  });

  it("a deleted run refuses writes, also once its project is known", async () => {
    expect((await log(dave, runC, 9)).status).toBe(200);
    await as(dave, "/projects/team-c/api/2.0/mlflow").ok("POST", "runs/delete", { run_id: runC });
    expect(code(await log(dave, runC, 10))).toEqual([400, "INVALID_PARAMETER_VALUE"]);
    await as(dave, "/projects/team-c/api/2.0/mlflow").ok("POST", "runs/restore", { run_id: runC });
    expect((await log(dave, runC, 11)).status).toBe(200);
    const h = await as(dave, "/projects/team-c/api/2.0/mlflow").ok("GET", "metrics/get-history", { run_id: runC, metric_key: "m" });
    expect((h["metrics"] as { step: number }[]).map((m) => m.step)).toEqual([1, 4, 5, 6, 9, 11]);
  });
});
