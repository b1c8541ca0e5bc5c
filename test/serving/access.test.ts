/**
 * Who may call a deployment (platform tokens of members, deployment keys), rate limits, and a
 * corrupt model: Failed with the reason while the platform keeps serving the others.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/server.ts";
import { call, deploy, inferBody, irisOnnx, publishModel, readyWith, waitFor } from "./support.ts";

let s: TestServer;
let version: number;
const row = [[5.1, 3.5, 1.4, 0.2]];

beforeAll(async () => {
  s = await startTestServer();
  await s.admin.apply([{ apiVersion: "forja.dev/v1", kind: "Project", metadata: { name: "other" }, spec: { members: [] } }]);
  version = await publishModel(s, { name: "iris", bytes: irisOnnx(), alias: "prod" });
  await deploy(s, { name: "iris", spec: { model: { name: "iris", alias: "prod" } } });
  await deploy(s, { name: "limited", spec: { model: { name: "iris", version }, rateLimit: { requestsPerSecond: 1, burst: 3 } } });
  const v2 = await publishModel(s, { project: "other", name: "iris", bytes: irisOnnx() });
  await deploy(s, { project: "other", name: "iris", spec: { model: { name: "iris", version: v2 } } });
  await waitFor(s, "iris", readyWith(version));
  await waitFor(s, "limited", readyWith(version));
  await waitFor(s, "iris", (d) => d.status?.phase === "Ready", { project: "other" });
});
afterAll(async () => {
  await s?.stop();
});

const infer = (project: string, name: string, token: string | null) => call(s, "POST", `/serving/${project}/v2/models/${name}/infer`, inferBody(row), token);

describe("authentication and authorization of inference", () => {
  it("no credential → 401; a bad scheme or unknown token → 401", async () => {
    expect(await infer("default", "iris", null)).toMatchObject({ status: 401, body: { error: expect.stringContaining("missing Authorization") } });
    const r = await s.fetch("/serving/default/v2/models/iris/infer", { method: "POST", token: null, headers: { authorization: "Basic abc", "content-type": "application/json" }, body: JSON.stringify(inferBody(row)) });
    expect(r.status).toBe(401);
    expect((await infer("default", "iris", "forja_nope")).status).toBe(401);
    expect((await infer("default", "iris", "fsk_nope")).status).toBe(401);
  });

  it("platform tokens: a viewer may infer; a non-member gets 403", async () => {
    const viewer = await s.user("vera", { default: "viewer" });
    expect((await infer("default", "iris", viewer.token)).status).toBe(200);
    expect(await infer("other", "iris", viewer.token)).toMatchObject({ status: 403, body: { error: expect.stringContaining("not a member") } });
  });

  it("a revoked platform token or a removed member loses inference access on the next request", async () => {
    const u = await s.user("rita", { default: "viewer" });
    expect((await infer("default", "iris", u.token)).status).toBe(200);
    const [mine] = await u.client.listTokens();
    await u.client.revokeToken(mine?.id ?? "");
    expect((await infer("default", "iris", u.token)).status).toBe(401);
    const m = await s.user("mo", { default: "viewer" });
    expect((await infer("default", "iris", m.token)).status).toBe(200);
    const p = await s.admin.get<{ spec: { members: { user: string; role: string }[] } }>("Project", "default");
    await s.admin.apply([{ apiVersion: "forja.dev/v1", kind: "Project", metadata: { name: "default" }, spec: { members: p.spec.members.filter((x) => x.user !== "mo") } }]);
    expect((await infer("default", "iris", m.token)).status).toBe(403);
  });

  it("deployment keys: created once, work for their deployment only, 403 elsewhere, 401 once revoked", async () => {
    const created = await call(s, "POST", "/api/v1/projects/default/deployments/iris/keys", { name: "app" });
    expect(created.status).toBe(201);
    const key: string = created.body.key;
    expect(key).toMatch(/^fsk_/);
    const listed = await call(s, "GET", "/api/v1/projects/default/deployments/iris/keys");
    expect(listed.body.items).toEqual([expect.objectContaining({ id: created.body.id, name: "app", prefix: key.slice(0, 10) })]);
    expect(JSON.stringify(listed.body)).not.toContain(key);

    expect((await infer("default", "iris", key)).status).toBe(200);
    expect(await infer("other", "iris", key)).toMatchObject({ status: 403, body: { error: expect.stringContaining('project "default"') } });
    expect(await infer("default", "limited", key)).toMatchObject({ status: 403, body: { error: expect.stringContaining('deployment "iris"') } });
    // Model metadata with the key works too.
    expect((await call(s, "GET", "/serving/default/v2/models/iris", undefined, key)).status).toBe(200);

    // A viewer may not create keys; revoking is effective at once (the cache is invalidated).
    const viewer = await s.user("vic", { default: "viewer" });
    expect((await call(s, "POST", "/api/v1/projects/default/deployments/iris/keys", { name: "x" }, viewer.token)).status).toBe(403);
    expect((await call(s, "POST", "/api/v1/projects/default/deployments/nope/keys", { name: "x" })).status).toBe(404);
    expect((await call(s, "DELETE", `/api/v1/projects/default/deployments/iris/keys/app`)).status).toBe(200);
    expect(await infer("default", "iris", key)).toMatchObject({ status: 401, body: { error: "invalid or revoked deployment key" } });
  });
});

describe("rate limiting", () => {
  it("token bucket per credential: 429 once the burst is spent, with Retry-After", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await infer("default", "limited", s.adminToken)).status);
    expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
    expect(statuses).toContain(429);
    const r = await s.fetch("/serving/default/v2/models/limited/infer", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(inferBody(row)) });
    if (r.status === 429) {
      expect(r.headers.get("retry-after")).toBe("1");
      expect(((await r.json()) as { error: string }).error).toContain("rate limit exceeded");
    }
    // Another credential has its own bucket.
    const other = await s.user("rita", { default: "viewer" });
    expect((await infer("default", "limited", other.token)).status).toBe(200);
    // The unlimited deployment is unaffected.
    expect((await infer("default", "iris", s.adminToken)).status).toBe(200);
  });

  it("V1 :predict draws from the same bucket, and its refusals are counted as 429s like v2's", async () => {
    const refusedSoFar = async () => {
      const metrics = await (await s.fetch("/metrics")).text();
      return Number(/forja_inference_requests_total\{[^}]*deployment="limited"[^}]*status="429"[^}]*\} (\d+)/.exec(metrics)?.[1] ?? 0);
    };
    const before = await refusedSoFar();
    const caller = await s.user("valentin", { default: "viewer" });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await call(s, "POST", "/serving/default/v1/models/limited:predict", { instances: row }, caller.token)).status);
    expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
    expect(statuses).toContain(429);
    expect((await refusedSoFar()) - before).toBe(statuses.filter((x) => x === 429).length);
  });
});

describe("a model that cannot load", () => {
  it("corrupt ONNX → Failed with the reason; the platform keeps serving the others", async () => {
    const bad = await publishModel(s, { name: "broken", bytes: new TextEncoder().encode("this is not an onnx model"), alias: "prod" });
    await deploy(s, { name: "broken", spec: { model: { name: "broken", alias: "prod" } } });
    const d = await waitFor(s, "broken", (x) => x.status?.phase === "Failed");
    expect(d.status.reason).toBe("ModelLoadFailed");
    expect(d.status.message).toContain(`version ${bad}`);
    expect(d.status.conditions.find((c: { type: string }) => c.type === "Available").status).toBe("False");
    expect((await call(s, "GET", "/serving/default/v2/models/broken/ready")).status).toBe(503);
    expect((await infer("default", "broken", s.adminToken)).status).toBe(503);
    expect((await infer("default", "iris", s.adminToken)).status).toBe(200);
    expect((await call(s, "GET", "/readyz", undefined, null)).status).toBe(200);
  });

  it("no .onnx file, unknown alias, unknown model → Failed with distinct reasons", async () => {
    await publishModel(s, { name: "nofile", bytes: new Uint8Array([1, 2, 3]), file: "model.pkl", alias: "prod" });
    await deploy(s, { name: "nofile", spec: { model: { name: "nofile", alias: "prod" } } });
    expect((await waitFor(s, "nofile", (x) => x.status?.phase === "Failed")).status).toMatchObject({ reason: "NoOnnxModel", message: expect.stringContaining("no .onnx file") });
    await deploy(s, { name: "noalias", spec: { model: { name: "iris", alias: "nope" } } });
    expect((await waitFor(s, "noalias", (x) => x.status?.phase === "Failed")).status.reason).toBe("AliasNotFound");
    await deploy(s, { name: "nomodel", spec: { model: { name: "ghost", version: 1 } } });
    expect((await waitFor(s, "nomodel", (x) => x.status?.phase === "Failed")).status.reason).toBe("VersionNotFound");
  });

  it("invalid specs are refused with the field named", async () => {
    const bad = async (spec: unknown) => {
      try {
        await s.admin.apply([{ apiVersion: "forja.dev/v1", kind: "Deployment", metadata: { name: "bad", project: "default" }, spec }]);
        return "accepted";
      } catch (e) {
        return (e as Error).message;
      }
    };
    expect(await bad({ model: { name: "iris" } })).toMatch(/spec.model: set exactly one of alias and version/);
    expect(await bad({ model: { name: "iris", version: 1 }, traffic: [{ version: 1, percent: 50 }] })).toMatch(/spec.traffic: percents must sum to 100/);
    expect(await bad({ model: { name: "iris", version: 1 }, batching: { maxBatchSize: 0 } })).toMatch(/maxBatchSize/);
  });
});
