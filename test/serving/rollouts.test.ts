/**
 * Rollouts: switching versions under load with zero failed requests (alias move, rollback),
 * canary split and promote, shadow traffic (latency and disagreement), adaptive batching, and a
 * request whose body is still arriving when its version is retired.
 * Loads are bounded by count and time; nothing asserts on latency.
 */
import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { predictLogisticRegression } from "../../src/serving/onnx/logistic-regression.ts";
import { startTestServer, type TestServer } from "../support/server.ts";
import { IRIS, IRIS_V2, call, publishIrisPair, deploy, inferBody, irisOnnx, publishModel, readyWith, setAlias, waitFor } from "./support.ts";

let s: TestServer;
let v1: number;
let v2: number;
const rows = [
  [5.1, 3.5, 1.4, 0.2],
  [6.7, 3.0, 5.2, 2.3],
];

beforeAll(async () => {
  s = await startTestServer();
  ({ v1, v2 } = await publishIrisPair(s));
});
afterAll(async () => {
  await s?.stop();
});

const enqueue = (name: string) => s.platform.ctx.controllers.enqueue({ kind: "Deployment", project: "default", name });

/** Concurrent request loop until `stop()` (or maxMs); counts statuses and versions seen. */
function load(name: string, concurrency = 8, maxMs = 25_000) {
  const statuses = new Map<number, number>();
  const versions = new Map<string, number>();
  const failures: string[] = [];
  let stopped = false;
  const until = Date.now() + maxMs;
  const body = JSON.stringify(inferBody(rows));
  const worker = async () => {
    while (!stopped && Date.now() < until) {
      try {
        const res = await fetch(`${s.url}/serving/default/v2/models/${name}/infer`, {
          method: "POST",
          body,
          headers: { "content-type": "application/json", authorization: `Bearer ${s.adminToken}` },
        });
        const text = await res.text();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status === 200) {
          const v = (JSON.parse(text) as { model_version: string }).model_version;
          versions.set(v, (versions.get(v) ?? 0) + 1);
        } else if (failures.length < 5) failures.push(`${res.status} ${text}`);
      } catch (e) {
        statuses.set(-1, (statuses.get(-1) ?? 0) + 1);
        if (failures.length < 5) failures.push(String(e));
      }
    }
  };
  const done = Promise.all(Array.from({ length: concurrency }, worker));
  return {
    statuses,
    versions,
    failures,
    /** Resolves once `n` more responses came from `version`. */
    async seen(version: number, n = 20): Promise<void> {
      const start = versions.get(String(version)) ?? 0;
      while ((versions.get(String(version)) ?? 0) < start + n) {
        if (Date.now() > until) throw new Error(`load ended before version ${version} answered; ${JSON.stringify([...versions])}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async stop() {
      stopped = true;
      await done;
    },
  };
}

describe("version switches under load", () => {
  it("moving the alias, then rolling back: zero failed requests", async () => {
    await deploy(s, { name: "live", spec: { model: { name: "iris", alias: "champion" } } });
    await waitFor(s, "live", readyWith(v1));
    const l = load("live");
    try {
      await l.seen(v1);
      await setAlias(s, { name: "iris", alias: "champion", version: v2 });
      enqueue("live");
      await l.seen(v2);
      const d = await waitFor(s, "live", readyWith(v2));
      expect(d.status.previousVersion).toBe(v1);

      const rb = await call(s, "POST", "/api/v1/projects/default/deployments/live/rollback");
      expect(rb.status, rb.text).toBe(200);
      expect(rb.body.spec.model).toEqual({ name: "iris", version: v1 });
      await waitFor(s, "live", readyWith(v1));
      await l.seen(v1);
    } finally {
      await l.stop();
    }
    expect(l.failures).toEqual([]);
    expect([...l.statuses.keys()]).toEqual([200]);
    expect(l.versions.get(String(v1))).toBeGreaterThan(0);
    expect(l.versions.get(String(v2))).toBeGreaterThan(0);
  });

  it("editing spec.model.version under load: zero failed requests", async () => {
    await deploy(s, { name: "pinned", spec: { model: { name: "iris", version: v1 } } });
    await waitFor(s, "pinned", readyWith(v1));
    const l = load("pinned", 4);
    try {
      await l.seen(v1, 10);
      await deploy(s, { name: "pinned", spec: { model: { name: "iris", version: v2 } } });
      await l.seen(v2, 10);
    } finally {
      await l.stop();
    }
    expect(l.failures).toEqual([]);
    expect([...l.statuses.keys()]).toEqual([200]);
  });
});

describe("canary, promote, shadow", () => {
  it("splits traffic by percent, then promote gives the canary 100%", async () => {
    await deploy(s, { name: "canary", spec: { model: { name: "iris", version: v1 }, traffic: [{ version: v1, percent: 70 }, { version: v2, percent: 30 }] } });
    const d = await waitFor(s, "canary", (x) => x.status?.phase === "Ready" && x.status.serving?.length === 2);
    expect(d.status.serving).toEqual([
      expect.objectContaining({ version: v1, percent: 70, role: "primary" }),
      expect.objectContaining({ version: v2, percent: 30, role: "canary" }),
    ]);
    const seen = new Map<string, number>();
    for (let i = 0; i < 120; i++) {
      const r = await call(s, "POST", "/serving/default/v2/models/canary/infer", inferBody(rows));
      expect(r.status).toBe(200);
      seen.set(r.body.model_version, (seen.get(r.body.model_version) ?? 0) + 1);
    }
    expect(seen.get(String(v1))).toBeGreaterThan(seen.get(String(v2)) ?? 0);
    expect(seen.get(String(v2))).toBeGreaterThan(0);
    // Each version is also addressable directly.
    expect((await call(s, "POST", `/serving/default/v2/models/canary/versions/${v2}/infer`, inferBody(rows))).body.model_version).toBe(String(v2));

    const p = await call(s, "POST", "/api/v1/projects/default/deployments/canary/promote", {});
    expect(p.status, p.text).toBe(200);
    expect(p.body.spec).toMatchObject({ model: { name: "iris", version: v2 } });
    expect(p.body.spec.traffic).toBeUndefined();
    await waitFor(s, "canary", (x) => readyWith(v2)(x) && x.status.serving.length === 1 ? true : false);
    expect((await call(s, "POST", "/api/v1/projects/default/deployments/canary/promote", {})).status).toBe(409);
  });

  it("mirrors to a shadow version: caller gets the primary's answer; latency and disagreement are measured", async () => {
    await deploy(s, { name: "shadowed", spec: { model: { name: "iris", version: v1 }, shadow: { version: v2 } } });
    await waitFor(s, "shadowed", (x) => x.status?.phase === "Ready" && Boolean(x.status.serving?.some((v: { role: string }) => v.role === "shadow")));
    const expected = predictLogisticRegression(IRIS, rows).labels;
    expect(predictLogisticRegression(IRIS_V2, rows).labels).not.toEqual(expected);
    for (let i = 0; i < 20; i++) {
      const r = await call(s, "POST", "/serving/default/v2/models/shadowed/infer", inferBody(rows));
      expect(r.body.model_version).toBe(String(v1));
      expect(r.body.outputs[0].data).toEqual(expected);
    }
    enqueue("shadowed");
    const d = await waitFor(s, "shadowed", (x) => (x.status?.shadow?.requests ?? 0) >= 20, { timeoutMs: 30_000 });
    expect(d.status.shadow).toMatchObject({ version: v2, disagreements: d.status.shadow.requests, disagreementRate: 1, errors: 0 });
    expect(d.status.shadow.meanLatencyMs).toBeGreaterThan(0);
    const metrics = await (await s.fetch("/metrics")).text();
    expect(metrics).toMatch(new RegExp(`forja_inference_shadow_requests_total\\{project="default",deployment="shadowed",version="${v2}",result="disagree"\\} \\d+`));
  });
});

describe("adaptive batching", () => {
  it("merges concurrent requests and answers each with its own rows", async () => {
    await deploy(s, { name: "batched", spec: { model: { name: "iris", version: v1 }, batching: { maxBatchSize: 16, maxDelayMs: 20 } } });
    await waitFor(s, "batched", readyWith(v1));
    const inputs = Array.from({ length: 12 }, (_, i) => [4 + (i % 4), 3, 1 + (i % 6), (i % 3) * 0.9]);
    const answers = await Promise.all(inputs.map((x) => call(s, "POST", "/serving/default/v2/models/batched/infer", inferBody([x]))));
    const ref = predictLogisticRegression(IRIS, inputs);
    answers.forEach((a, i) => {
      expect(a.status).toBe(200);
      expect(a.body.outputs[0]).toEqual({ name: "label", datatype: "INT64", shape: [1], data: [ref.labels[i]] });
      expect(a.body.outputs[1].shape).toEqual([1, 3]);
    });
    const metrics = await (await s.fetch("/metrics")).text();
    const count = Number(/forja_inference_batch_size_count\{project="default",deployment="batched",version="\d+"\} (\d+)/.exec(metrics)?.[1]);
    const sum = Number(/forja_inference_batch_size_sum\{project="default",deployment="batched",version="\d+"\} (\d+)/.exec(metrics)?.[1]);
    expect(sum).toBe(12);
    expect(count).toBeLessThan(12);
  });
});

/** Sends the headers and half the body now; `finish()` sends the rest and resolves with the answer. */
function slowRequest(path: string, body: string) {
  const req = httpRequest(`${s.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), authorization: `Bearer ${s.adminToken}` },
  });
  const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
    req.on("response", (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on("error", reject);
  });
  const half = Math.floor(body.length / 2);
  req.write(body.slice(0, half));
  req.flushHeaders();
  return {
    finish: () => {
      req.end(body.slice(half));
      return answer;
    },
  };
}
const settle = () => new Promise((r) => setTimeout(r, 200));

// A request is in flight from the moment its version is chosen (when its headers arrive), not
// from when its body has been read: a version retired in between waits for it before closing
// its session, instead of failing it with 500 "runner closed".
describe("a request still uploading its body when its version is retired", () => {
  it("pinned to a canary version that is dropped: answered 200", async () => {
    await deploy(s, { name: "uploading-canary", spec: { model: { name: "iris", version: v1 }, traffic: [{ version: v1, percent: 50 }, { version: v2, percent: 50 }] } });
    await waitFor(s, "uploading-canary", (d) => d.status?.phase === "Ready" && d.status.serving?.length === 2);
    const slow = slowRequest(`/serving/default/v2/models/uploading-canary/versions/${v2}/infer`, JSON.stringify(inferBody(rows)));
    await settle(); // the server has read the headers and chosen v2
    // Without the canary, v2 is neither served nor the rollback target: it is retired.
    await deploy(s, { name: "uploading-canary", spec: { model: { name: "iris", version: v1 } } });
    await waitFor(s, "uploading-canary", (d) => d.status?.phase === "Ready" && d.status.serving?.length === 1);
    await settle();
    const r = await slow.finish();
    expect(r.status, r.text).toBe(200);
    expect((JSON.parse(r.text) as { model_version: string }).model_version).toBe(String(v2));
  });

  it("unpinned, while the alias moves twice (its version retired at the second move): answered 200", async () => {
    const m1 = await publishModel(s, { name: "moving", bytes: irisOnnx(IRIS), alias: "prod" });
    const m2 = await publishModel(s, { name: "moving", bytes: irisOnnx(IRIS_V2) });
    const m3 = await publishModel(s, { name: "moving", bytes: irisOnnx(IRIS) });
    await deploy(s, { name: "moving", spec: { model: { name: "moving", alias: "prod" } } });
    await waitFor(s, "moving", readyWith(m1));
    const slow = slowRequest("/serving/default/v2/models/moving/infer", JSON.stringify(inferBody(rows)));
    await settle();
    await setAlias(s, { name: "moving", alias: "prod", version: m2 });
    enqueue("moving");
    await waitFor(s, "moving", readyWith(m2));
    await setAlias(s, { name: "moving", alias: "prod", version: m3 });
    enqueue("moving");
    await waitFor(s, "moving", readyWith(m3));
    await settle();
    const r = await slow.finish();
    expect(r.status, r.text).toBe(200);
  });

  it("its deployment deleted: answered (200), never a 5xx; later requests get 404", async () => {
    await deploy(s, { name: "doomed", spec: { model: { name: "iris", version: v1 } } });
    await waitFor(s, "doomed", readyWith(v1));
    const slow = slowRequest("/serving/default/v2/models/doomed/infer", JSON.stringify(inferBody(rows)));
    await settle();
    await s.admin.delete("Deployment", "doomed", "default");
    enqueue("doomed");
    const until = Date.now() + 10_000;
    while ((await call(s, "GET", "/serving/default/v2/models/doomed/ready")).status !== 404 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect((await call(s, "GET", "/serving/default/v2/models/doomed/ready")).status).toBe(404);
    const r = await slow.finish();
    expect(r.status, r.text).toBe(200);
  });
});
