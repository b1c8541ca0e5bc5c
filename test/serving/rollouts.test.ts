/**
 * Rollouts: switching versions under load with zero failed requests (alias move, rollback),
 * canary split and promote, shadow traffic (latency and disagreement), adaptive batching.
 * Loads are bounded by count and time; nothing asserts on latency.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { predictLogisticRegression } from "../../src/serving/onnx/logistic-regression.ts";
import { startTestServer, type TestServer } from "../support/server.ts";
import { IRIS, IRIS_V2, call, deploy, inferBody, irisOnnx, publishModel, readyWith, setAlias, waitFor } from "./support.ts";

let s: TestServer;
let v1: number;
let v2: number;
const rows = [
  [5.1, 3.5, 1.4, 0.2],
  [6.7, 3.0, 5.2, 2.3],
];

beforeAll(async () => {
  s = await startTestServer();
  v1 = await publishModel(s, { name: "iris", bytes: irisOnnx(IRIS), alias: "champion" });
  v2 = await publishModel(s, { name: "iris", bytes: irisOnnx(IRIS_V2) });
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
