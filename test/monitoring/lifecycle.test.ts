/**
 * Monitoring across a deployment's life: the series and payload log of a deleted deployment
 * are gone (also when a flush was under way), a deployment created again under the same name
 * starts clean, and drift reports on sparse data (a feature with no values, an empty
 * reference) are reports, not errors.
 */
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { monitoringMigrations } from "../../src/monitoring/migrations.ts";
import { PayloadLog } from "../../src/monitoring/payload-log.ts";
import { TrackingClient } from "../../src/sdk/index.ts";
import type { InferenceEvent } from "../../src/server/feature.ts";
import { openDatabase } from "../../src/store/database.ts";
import { coreMigrations, migrate } from "../../src/store/migrations.ts";
import { call, deploy, inferBody, irisOnnx, publishModel, readyWith, waitFor } from "../serving/support.ts";
import { startTestServer, type TestServer } from "../support/server.ts";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"];
const ROW = [5.1, 3.5, 1.4, 0.2];

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
}, 60_000);
afterAll(() => s?.stop());

const metricsText = async () => (await s.fetch("/metrics")).text();

async function publishWithReference(name: string, reference: (number | null)[][] | undefined, project = "default"): Promise<number> {
  const root = `${s.url}/projects/${project}/api/2.0/mlflow`;
  const post = async (path: string, body: unknown): Promise<Json> => {
    const r = await fetch(`${root}/${path}`, { method: "POST", headers: { authorization: `Bearer ${s.adminToken}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    expect(r.status, await r.clone().text()).toBe(200);
    return r.json();
  };
  const exp = await post("experiments/create", { name: `exp-${name}-${Math.random()}` });
  const run = await post("runs/create", { experiment_id: exp.experiment_id, start_time: Date.now() });
  const sdk = new TrackingClient({ uri: `${s.url}/projects/${project}`, token: s.adminToken, runId: run.run.info.run_id as string });
  await sdk.logBytes(irisOnnx(), "model/model.onnx");
  if (reference) await sdk.logReferenceData(reference, { features: FEATURES, input: "input" });
  const v = await sdk.registerModelVersion(name, "model");
  await sdk.setAlias(name, "champion", v.version);
  return Number(v.version);
}

/** A binary-tensor OIP request (FP32 values can be NaN there, unlike JSON). */
async function inferBinary(deployment: string, data: number[][]) {
  const n = data.length * 4;
  const header = Buffer.from(JSON.stringify({ inputs: [{ name: "input", shape: [data.length, 4], datatype: "FP32", parameters: { binary_data_size: n * 4 } }] }));
  const res = await s.fetch(`/serving/default/v2/models/${deployment}/infer`, {
    method: "POST",
    body: Buffer.concat([header, Buffer.from(Float32Array.from(data.flat()).buffer)]),
    headers: { "content-type": "application/octet-stream", "inference-header-content-length": String(header.length) },
  });
  await res.arrayBuffer();
  return res.status;
}

describe("/metrics after a deployment is deleted", () => {
  // Every series of a deleted deployment goes (requests, latency, load time, payload-log rows):
  // otherwise `forja top`, Grafana and `sum(rate(...))` keep listing a deployment that no longer
  // exists, and a server whose deployments come and go grows its exposition without bound.
  it("the deleted deployment's series disappear from the exposition", async () => {
    const v = await publishModel(s, { name: "gone", bytes: irisOnnx(), alias: "prod" });
    await deploy(s, { name: "gone", spec: { model: { name: "gone", alias: "prod" } } });
    await waitFor(s, "gone", readyWith(v));
    for (let i = 0; i < 3; i++) expect((await call(s, "POST", "/serving/default/v2/models/gone/infer", inferBody([ROW]))).status).toBe(200);
    await call(s, "GET", "/api/v1/projects/default/deployments/gone/payloads"); // flushes the payload log
    expect(await metricsText()).toContain('forja_inference_requests_total{project="default",deployment="gone"');

    await s.admin.delete("Deployment", "gone", "default");
    // The serving controller has removed it once its readiness gauge is gone.
    await expect.poll(async () => (await metricsText()).includes('forja_deployment_ready{project="default",deployment="gone"}'), { timeout: 10_000 }).toBe(false);
    await expect.poll(async () => (await call(s, "POST", "/serving/default/v2/models/gone/infer", inferBody([ROW]))).status, { timeout: 10_000 }).toBe(404);

    const lines = (await metricsText()).split("\n").filter((l) => !l.startsWith("#") && l.includes('deployment="gone"'));
    expect(lines).toEqual([]);
  });

  // A deployment deleted and created again under the same name has an empty log, and its
  // counts (GET …/payloads, the drift report's payloadLog) say so: not the old deployment's.
  it("a deployment re-created under the same name starts with empty payload-log stats", async () => {
    const v = await publishModel(s, { name: "again", bytes: irisOnnx(), alias: "prod" });
    await deploy(s, { name: "again", spec: { model: { name: "again", alias: "prod" } } });
    await waitFor(s, "again", readyWith(v));
    for (let i = 0; i < 3; i++) expect((await call(s, "POST", "/serving/default/v2/models/again/infer", inferBody([ROW]))).status).toBe(200);
    expect((await call(s, "GET", "/api/v1/projects/default/deployments/again/payloads")).body).toMatchObject({ rows: 3, written: 3 });

    await s.admin.delete("Deployment", "again", "default");
    await expect.poll(async () => (await call(s, "POST", "/serving/default/v2/models/again/infer", inferBody([ROW]))).status, { timeout: 10_000 }).toBe(404);
    await deploy(s, { name: "again", spec: { model: { name: "again", alias: "prod" } } });
    await waitFor(s, "again", readyWith(v));
    const log = (await call(s, "GET", "/api/v1/projects/default/deployments/again/payloads")).body;
    expect(log.rows).toBe(0);
    expect(log).toMatchObject({ rows: 0, written: 0, dropped: 0, buffered: 0 });
  });
});

describe("drift reports on edge cases", () => {
  // A feature whose values are all missing in the window (NaN sent over the binary extension,
  // logged as null) cannot be compared; the other features still are, and the report names the
  // one left out. (It was a 400 for the whole report, and the gauges of the previous report
  // stayed on /metrics.)
  it("a feature that is all NaN in the window does not make the whole report a 400", async () => {
    const ref = Array.from({ length: 50 }, (_, i) => [5 + (i % 10) / 10, 3 + (i % 7) / 10, 1 + (i % 9) / 10, 0.1 + (i % 6) / 10]);
    const v = await publishWithReference("nanfeat", ref);
    await deploy(s, { name: "nanfeat", spec: { model: { name: "nanfeat", alias: "champion" } } });
    await waitFor(s, "nanfeat", readyWith(v));
    expect(await inferBinary("nanfeat", Array.from({ length: 20 }, (_, i) => [5 + i / 20, 3.2, 1.3, Number.NaN]))).toBe(200);
    const r = await call(s, "GET", "/api/v1/projects/default/deployments/nanfeat/drift?window=1h");
    expect(r.status, r.text).toBe(200);
    expect(r.body.window.rows).toBe(20);
    expect(r.body.features.map((f: { feature: string }) => f.feature)).toEqual(["sepal_length", "sepal_width", "petal_length"]);
    expect(r.body.unmeasuredFeatures).toEqual(["petal_width"]);
    expect(r.body.message).toMatch(/not compared, no values: petal_width/);
  });

  // A reference.json with no rows (logReferenceData on an empty training sample) leaves nothing
  // to compare against: the report says NoReference, as when there is no reference at all.
  it("an empty reference dataset gives a report, not a 400", async () => {
    const v = await publishWithReference("emptyref", []);
    await deploy(s, { name: "emptyref", spec: { model: { name: "emptyref", alias: "champion" } } });
    await waitFor(s, "emptyref", readyWith(v));
    expect((await call(s, "POST", "/serving/default/v2/models/emptyref/infer", inferBody([ROW]))).status).toBe(200);
    const r = await call(s, "GET", "/api/v1/projects/default/deployments/emptyref/drift?window=1h");
    expect(r.status, r.text).toBe(200);
    expect(r.body.status).toBe("NoReference");
  });
});

describe("payload log purge", () => {
  // Rows a flush already took from the buffer (written in 256-row chunks, with a turn of the
  // event loop between them) must not be inserted after the purge's DELETE: a deleted deployment
  // would keep rows forever, and one created again under the same name would show them.
  it("rows of a flush in progress do not survive the purge of their deployment", async () => {
    const db = openDatabase({ url: "sqlite::memory:" });
    try {
      await migrate(db, { ...coreMigrations(), ...monitoringMigrations });
      const log = new PayloadLog(db, new Registry(), pino({ level: "silent" }), { flushMs: 60_000 });
      const event: InferenceEvent = {
        project: "p",
        deployment: "d",
        version: 1,
        inputs: { input: { dims: [100, 2], type: "float32", data: Float32Array.from({ length: 200 }, (_, i) => i) } },
        outputs: {},
      };
      for (let i = 0; i < 6; i++) log.record(event); // 600 rows: three chunks
      const flushing = log.flush();
      await log.purge("p", "d");
      await flushing;
      const n = Number((await db.db.selectFrom("monitoring_payloads").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow()).n);
      expect(n).toBe(0);
    } finally {
      await db.close();
    }
  });
});
