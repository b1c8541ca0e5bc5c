/**
 * Payload logging and drift through the API: a model version with a reference dataset (logged
 * with the SDK's logReferenceData), a Deployment, constructed traffic (same distribution vs
 * shifted), drift verdicts over the API, the gauges on /metrics, `forja drift`, and the payload
 * log's bound (maxRows) under concurrent load.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.ts";
import { TrackingClient } from "../../src/sdk/index.ts";
import { call, deploy, inferBody, irisOnnx, readyWith, waitFor } from "../serving/support.ts";
import { startTestServer, type TestServer } from "../support/server.ts";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"];
const MEANS = [5.8, 3.0, 4.3, 1.3];
const SDS = [0.8, 0.4, 1.7, 0.7];

/** Seeded normal rows around MEANS (shift: in standard deviations, per feature). */
function rows(n: number, seed: number, shift: number[] = [0, 0, 0, 0]): number[][] {
  let a = seed >>> 0;
  const u = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 1) / 4294967297;
  };
  return Array.from({ length: n }, () =>
    MEANS.map((m, j) => {
      const z = Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
      return Math.round((m + ((shift[j] ?? 0) + z) * (SDS[j] ?? 1)) * 100) / 100;
    }),
  );
}

let s: TestServer;

async function publishWithReference(name: string, reference: number[][] | undefined): Promise<number> {
  const root = `${s.url}/projects/default/api/2.0/mlflow`;
  const post = async (path: string, body: unknown): Promise<Json> => {
    const r = await fetch(`${root}/${path}`, { method: "POST", headers: { authorization: `Bearer ${s.adminToken}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    expect(r.status, await r.clone().text()).toBe(200);
    return r.json();
  };
  const exp = await post("experiments/create", { name: `exp-${name}` });
  const run = await post("runs/create", { experiment_id: exp.experiment_id, start_time: Date.now() });
  const sdk = new TrackingClient({ uri: `${s.url}/projects/default`, token: s.adminToken, runId: run.run.info.run_id as string });
  await sdk.logBytes(irisOnnx(), "model/model.onnx");
  if (reference) {
    const logged = await sdk.logReferenceData(
      reference.map((r) => Object.fromEntries(FEATURES.map((f, j) => [f, r[j] ?? null]))),
      { features: FEATURES, input: "input" },
    );
    expect(logged).toEqual({ path: "model/reference.json", rows: reference.length });
  }
  const v = await sdk.registerModelVersion(name, "model");
  await sdk.setAlias(name, "champion", v.version);
  return Number(v.version);
}

async function send(deployment: string, data: number[][], batch = 10): Promise<void> {
  for (let i = 0; i < data.length; i += batch) {
    const r = await call(s, "POST", `/serving/default/v2/models/${deployment}/infer`, inferBody(data.slice(i, i + batch)));
    expect(r.status, r.text).toBe(200);
  }
}

const drift = async (deployment: string, query: string): Promise<Json> => {
  const r = await call(s, "GET", `/api/v1/projects/default/deployments/${deployment}/drift?${query}`);
  expect(r.status, r.text).toBe(200);
  return r.body;
};

beforeAll(async () => {
  s = await startTestServer();
}, 60_000);
afterAll(() => s?.stop());

describe("drift through the API", () => {
  let version: number;
  beforeAll(async () => {
    version = await publishWithReference("iris-mon", rows(300, 1));
    await deploy(s, { name: "iris-mon", spec: { model: { name: "iris-mon", alias: "champion" }, monitoring: { sampleRate: 1, maxRows: 2000 } } });
    await waitFor(s, "iris-mon", readyWith(version));
  }, 60_000);

  it("no traffic yet: NoData; bad windows are 400s naming the field", async () => {
    const r = await drift("iris-mon", "window=1h");
    expect(r).toMatchObject({ status: "NoData", datasetDrift: null, version, model: "iris-mon", reference: { path: expect.stringMatching(/model\/reference\.json$/), rows: 300 } });
    const bad = await call(s, "GET", "/api/v1/projects/default/deployments/iris-mon/drift?window=soon");
    expect(bad.status).toBe(400);
    expect(bad.text).toContain("window");
    expect((await call(s, "GET", "/api/v1/projects/default/deployments/nope/drift")).status).toBe(404);
  });

  it("traffic from the reference distribution does not drift; shifted traffic does; gauges and CLI follow", async () => {
    const t1 = Date.now();
    await send("iris-mon", rows(200, 2));
    const steady = await drift("iris-mon", `since=${t1}`);
    expect(steady).toMatchObject({ status: "NoDrift", datasetDrift: false, featureCount: 4, window: { rows: 200 } });
    expect((steady.features as { feature: string; method: string }[]).map((f) => [f.feature, f.method])).toEqual(FEATURES.map((f) => [f, "ks"]));
    expect(steady.driftedFeatures).toBeLessThan(2);
    expect(Object.values(steady.predictions as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(200);

    await new Promise((r) => setTimeout(r, 5));
    const t2 = Date.now();
    await send("iris-mon", rows(200, 3, [1.5, 0, 1.5, 1.5]));
    const shifted = await drift("iris-mon", `since=${t2}`);
    expect(shifted).toMatchObject({ status: "Drift", datasetDrift: true, window: { rows: 200 } });
    expect(shifted.driftedFeatures).toBeGreaterThanOrEqual(3);
    expect(shifted.features.find((f: Json) => f.feature === "petal_length").drifted).toBe(true);

    // Both windows together: 400 rows, half shifted → still drift on the shifted features.
    const all = await drift("iris-mon", "window=1h");
    expect(all.window.rows).toBe(400);

    const metrics = await (await s.fetch("/metrics")).text();
    expect(metrics).toMatch(new RegExp(`forja_feature_drift_score\\{project="default",deployment="iris-mon",version="${version}",feature="petal_length",method="ks"\\} [0-9.e-]+`));
    expect(metrics).toMatch(new RegExp(`forja_dataset_drift\\{project="default",deployment="iris-mon",version="${version}"\\} 1`));
    expect(metrics).toMatch(/forja_payload_log_rows_total\{project="default",deployment="iris-mon"\} 400/);

    const out: string[] = [];
    const io = { out: (t: string) => out.push(t), err: (t: string) => out.push(t), isTTY: false };
    const env = { FORJA_URL: s.url, FORJA_TOKEN: s.adminToken, FORJA_CONFIG: "/nonexistent/forja.yaml" };
    expect(await main(["node", "forja", "drift", "iris-mon", "--since", String(t2), "-o", "json"], io, env)).toBe(0);
    expect(JSON.parse(out.join("\n"))).toMatchObject({ status: "Drift", datasetDrift: true });
    out.length = 0;
    expect(await main(["node", "forja", "drift", "iris-mon", "--since", String(t1), "--fail-on-drift"], io, env)).toBe(1);
    expect(out.join("\n")).toMatch(/DATASET DRIFT[\s\S]*FEATURE\s+TYPE\s+METHOD[\s\S]*petal_length\s+numerical\s+ks/);
  });

  it("a version without reference data: NoReference with a hint", async () => {
    const v = await publishWithReference("iris-noref", undefined);
    await deploy(s, { name: "iris-noref", spec: { model: { name: "iris-noref", alias: "champion" } } });
    await waitFor(s, "iris-noref", readyWith(v));
    await send("iris-noref", rows(20, 4));
    const r = await drift("iris-noref", "window=1h");
    expect(r).toMatchObject({ status: "NoReference", datasetDrift: null, window: { rows: 20 } });
    expect(r.message).toContain("logReferenceData");
  });
});

describe("payload log bounds", () => {
  it("keeps at most maxRows under concurrent load, oldest deleted; sampleRate 0 logs nothing", async () => {
    const version = await publishWithReference("iris-small", rows(100, 5));
    await deploy(s, { name: "iris-small", spec: { model: { name: "iris-small", alias: "champion" }, monitoring: { maxRows: 100, maxRowsPerSecond: 100_000 } } });
    await waitFor(s, "iris-small", readyWith(version));
    const data = rows(10, 6);
    const users = 8;
    const perUser = 15;
    await Promise.all(Array.from({ length: users }, () => send("iris-small", Array.from({ length: perUser }, () => data).flat(), 10)));
    const log = (await call(s, "GET", "/api/v1/projects/default/deployments/iris-small/payloads?limit=1000")).body;
    expect(log.rows).toBe(100);
    expect(log.items).toHaveLength(100);
    expect(log.written).toBe(users * perUser * 10);
    expect(log.dropped).toBe(0);
    expect(log.config).toEqual({ enabled: true, sampleRate: 1, maxRows: 100, maxRowsPerSecond: 100_000 });
    // Newest first, and the oldest ids are gone.
    const ids = (log.items as { id: number }[]).map((i) => i.id);
    expect(ids).toEqual([...ids].sort((a: number, b: number) => b - a));
    expect(log.items[0]).toMatchObject({ version, inputs: { input: data[9] }, prediction: expect.any(Number) });

    await deploy(s, { name: "iris-small", spec: { model: { name: "iris-small", alias: "champion" }, monitoring: { sampleRate: 0, maxRows: 100 } } });
    await expect.poll(async () => Number((await call(s, "GET", "/api/v1/projects/default/deployments/iris-small/payloads")).body.config.sampleRate), { timeout: 10_000 }).toBe(0);
    await send("iris-small", rows(50, 7));
    const after = (await call(s, "GET", "/api/v1/projects/default/deployments/iris-small/payloads")).body;
    expect(after.written).toBe(users * perUser * 10);
  });
});

