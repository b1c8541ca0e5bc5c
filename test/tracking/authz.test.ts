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
