/** Contract tests of the MLflow tracking endpoints: exact statuses, error codes and shapes (reference §1-§4). */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/server.ts";
import { mlflowClient, type MlflowTestClient } from "./helpers.ts";

let s: TestServer;
let c: MlflowTestClient;
beforeAll(async () => {
  s = await startTestServer();
  c = mlflowClient(s);
});
afterAll(() => s.stop());

let n = 0;
async function newExperiment(): Promise<string> {
  const b = await c.ok("POST", "experiments/create", { name: `exp-${++n}-${Date.now()}` });
  return b["experiment_id"] as string;
}
async function newRun(experiment_id?: string, extra: Record<string, unknown> = {}): Promise<string> {
  const b = await c.ok("POST", "runs/create", { experiment_id: experiment_id ?? (await newExperiment()), start_time: Date.now(), ...extra });
  return ((b["run"] as { info: { run_id: string } }).info.run_id);
}
function err(r: { status: number; body: Record<string, unknown> }) {
  return { status: r.status, code: r.body["error_code"] };
}

describe("experiments", () => {
  it("get-by-name of a missing experiment is 404 RESOURCE_DOES_NOT_EXIST (set_experiment relies on it)", async () => {
    expect(err(await c.get("experiments/get-by-name", { experiment_name: "nope" }))).toEqual({ status: 404, code: "RESOURCE_DOES_NOT_EXIST" });
  });
  it("create → get; a duplicate name is 400 RESOURCE_ALREADY_EXISTS", async () => {
    const r = await c.post("experiments/create", { name: "dup", tags: [{ key: "team", value: "ml" }] });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ experiment_id: expect.stringMatching(/^\d+$/) });
    expect(err(await c.post("experiments/create", { name: "dup" }))).toEqual({ status: 400, code: "RESOURCE_ALREADY_EXISTS" });
    const g = await c.ok("GET", "experiments/get", { experiment_id: r.body["experiment_id"] });
    expect(g["experiment"]).toMatchObject({
      experiment_id: r.body["experiment_id"],
      name: "dup",
      artifact_location: `mlflow-artifacts:/${String(r.body["experiment_id"])}`,
      lifecycle_stage: "active",
      tags: [{ key: "team", value: "ml" }],
    });
    expect(typeof (g["experiment"] as { creation_time: unknown }).creation_time).toBe("number");
  });
  it("missing name is 400 INVALID_PARAMETER_VALUE naming the field", async () => {
    const r = await c.post("experiments/create", {});
    expect(err(r)).toEqual({ status: 400, code: "INVALID_PARAMETER_VALUE" });
    expect(r.body["message"]).toContain("name");
  });
  it("get of a missing experiment is 404; a malformed id is 400", async () => {
    expect(err(await c.get("experiments/get", { experiment_id: "987654" }))).toEqual({ status: 404, code: "RESOURCE_DOES_NOT_EXIST" });
    expect(err(await c.get("experiments/get", { experiment_id: "abc" }))).toEqual({ status: 400, code: "INVALID_PARAMETER_VALUE" });
  });
  it("experiment 0 is the project's Default experiment", async () => {
    const g = await c.ok("GET", "experiments/get", { experiment_id: "0" });
    expect((g["experiment"] as { name: string }).name).toBe("Default");
  });
  it("rename, delete, restore; renaming a deleted experiment is INVALID_STATE (400, not retried)", async () => {
    const id = await newExperiment();
    await c.ok("POST", "experiments/update", { experiment_id: id, new_name: `renamed-${id}` });
    expect(((await c.ok("GET", "experiments/get", { experiment_id: id }))["experiment"] as { name: string }).name).toBe(`renamed-${id}`);
    await c.ok("POST", "experiments/delete", { experiment_id: id });
    expect(((await c.ok("GET", "experiments/get", { experiment_id: id }))["experiment"] as { lifecycle_stage: string }).lifecycle_stage).toBe("deleted");
    expect(err(await c.post("experiments/update", { experiment_id: id, new_name: "x" }))).toEqual({ status: 400, code: "INVALID_STATE" });
    await c.ok("POST", "experiments/restore", { experiment_id: id });
    expect(((await c.ok("GET", "experiments/get", { experiment_id: id }))["experiment"] as { lifecycle_stage: string }).lifecycle_stage).toBe("active");
  });
  it("set and delete experiment tags", async () => {
    const id = await newExperiment();
    expect(await c.ok("POST", "experiments/set-experiment-tag", { experiment_id: id, key: "k", value: "v" })).toEqual({});
    expect(((await c.ok("GET", "experiments/get", { experiment_id: id }))["experiment"] as { tags: unknown }).tags).toEqual([{ key: "k", value: "v" }]);
    await c.ok("POST", "experiments/delete-experiment-tag", { experiment_id: id, key: "k" });
    expect(((await c.ok("GET", "experiments/get", { experiment_id: id }))["experiment"] as { tags?: unknown }).tags).toBeUndefined();
  });
  it("search: filter by name and tag, order_by, pages with a token on every full page (POST and GET)", async () => {
    for (const name of ["srch-a", "srch-b", "srch-c"]) await c.ok("POST", "experiments/create", { name, tags: [{ key: "grp", value: "srch" }] });
    const p1 = await c.ok("POST", "experiments/search", { filter: "tags.grp = 'srch' AND name LIKE 'srch-%'", order_by: ["name DESC"], max_results: 2 });
    expect((p1["experiments"] as { name: string }[]).map((e) => e.name)).toEqual(["srch-c", "srch-b"]);
    expect(p1["next_page_token"]).toEqual(expect.any(String));
    const p2 = await c.ok("GET", "experiments/search", { filter: "tags.grp = 'srch'", order_by: "name DESC", max_results: 2, page_token: p1["next_page_token"] as string });
    expect((p2["experiments"] as { name: string }[]).map((e) => e.name)).toEqual(["srch-a"]);
    expect(p2["next_page_token"]).toBeUndefined();
    expect(await c.ok("POST", "experiments/search", { filter: "name = 'no-such-thing'" })).toEqual({});
    expect(err(await c.post("experiments/search", { filter: "metrics.x > 1" }))).toEqual({ status: 400, code: "INVALID_PARAMETER_VALUE" });
    expect(err(await c.post("experiments/search", { page_token: "!!" }))).toEqual({ status: 400, code: "INVALID_PARAMETER_VALUE" });
  });
});

describe("runs", () => {
  it("create generates <adjective>-<noun>-<n> and the mlflow.runName tag; RUNNING; artifact_uri", async () => {
    const exp = await newExperiment();
    const b = await c.ok("POST", "runs/create", { experiment_id: exp, user_id: "root", start_time: 1700000000000 });
    const run = b["run"] as { info: Record<string, unknown>; data: { tags: { key: string; value: string }[] } };
    expect(run.info["run_name"]).toMatch(/^[a-z]+-[a-z]+-\d{1,3}$/);
    expect(run.info).toMatchObject({ experiment_id: exp, user_id: "root", status: "RUNNING", start_time: 1700000000000, lifecycle_stage: "active" });
    expect(run.info["run_id"]).toMatch(/^[0-9a-f]{32}$/);
    expect(run.info["run_uuid"]).toBe(run.info["run_id"]);
    expect(run.info["artifact_uri"]).toBe(`mlflow-artifacts:/${exp}/${String(run.info["run_id"])}/artifacts`);
    expect(run.data.tags).toContainEqual({ key: "mlflow.runName", value: run.info["run_name"] });
  });
  it("run_name ≠ mlflow.runName tag is 400; the tag alone names the run", async () => {
    const exp = await newExperiment();
    expect(err(await c.post("runs/create", { experiment_id: exp, run_name: "a", tags: [{ key: "mlflow.runName", value: "b" }] }))).toEqual({ status: 400, code: "INVALID_PARAMETER_VALUE" });
    const b = await c.ok("POST", "runs/create", { experiment_id: exp, tags: [{ key: "mlflow.runName", value: "from-tag" }] });
    expect((b["run"] as { info: { run_name: string } }).info.run_name).toBe("from-tag");
  });
  it("runs/create with an unknown experiment is 404 RESOURCE_DOES_NOT_EXIST; get of a missing run is 404", async () => {
    expect(err(await c.post("runs/create", { experiment_id: "555555" }))).toEqual({ status: 404, code: "RESOURCE_DOES_NOT_EXIST" });
    expect(err(await c.get("runs/get", { run_id: "0123456789abcdef0123456789abcdef" }))).toEqual({ status: 404, code: "RESOURCE_DOES_NOT_EXIST" });
  });
  it("accepts run_uuid for run_id, int64 as strings, and update sets status/end_time/name", async () => {
    const id = await newRun();
    const u = await c.ok("POST", "runs/update", { run_uuid: id, status: "FINISHED", end_time: "1700000000123", run_name: "renamed" });
    expect(u["run_info"]).toMatchObject({ run_id: id, status: "FINISHED", end_time: 1700000000123, run_name: "renamed" });
    const g = await c.ok("GET", "runs/get", { run_uuid: id });
    expect((g["run"] as { data: { tags: unknown[] } }).data.tags).toContainEqual({ key: "mlflow.runName", value: "renamed" });
    expect(err(await c.post("runs/update", { run_id: id, status: "DONE" }))).toEqual({ status: 400, code: "INVALID_PARAMETER_VALUE" });
    expect(err(await c.post("runs/update", { run_id: id, end_time: "soon" }))).toEqual({ status: 400, code: "INVALID_PARAMETER_VALUE" });
  });
  it("NaN round-trips as \"NaN\"; ±Infinity is clamped like MLflow's SQL store", async () => {
    const id = await newRun();
    await c.ok("POST", "runs/log-metric", { run_id: id, run_uuid: id, key: "nan", value: "NaN", timestamp: 1, step: 0 });
    await c.ok("POST", "runs/log-metric", { run_id: id, key: "inf", value: "Infinity", timestamp: 1 });
    await c.ok("POST", "runs/log-metric", { run_id: id, key: "ninf", value: "-Infinity", timestamp: 1 });
    const g = await c.ok("GET", "runs/get", { run_id: id });
    const metrics = (g["run"] as { data: { metrics: { key: string; value: unknown }[] } }).data.metrics;
    expect(metrics.find((m) => m.key === "nan")?.value).toBe("NaN");
    expect(metrics.find((m) => m.key === "inf")?.value).toBe(1.7976931348623157e308);
    expect(metrics.find((m) => m.key === "ninf")?.value).toBe(-1.7976931348623157e308);
    const h = await c.ok("GET", "metrics/get-history", { run_id: id, metric_key: "nan" });
    expect(h).toEqual({ metrics: [{ key: "nan", value: "NaN", timestamp: 1, step: 0 }] });
  });
  it("log-metric: missing timestamp, bad name, boolean value → 400", async () => {
    const id = await newRun();
    const r = await c.post("runs/log-metric", { run_id: id, key: "m", value: 1 });
    expect(err(r)).toEqual({ status: 400, code: "INVALID_PARAMETER_VALUE" });
    expect(r.body["message"]).toContain("timestamp");
    expect(err(await c.post("runs/log-metric", { run_id: id, key: "bad#name", value: 1, timestamp: 1 }))).toEqual({ status: 400, code: "INVALID_PARAMETER_VALUE" });
    expect(err(await c.post("runs/log-metric", { run_id: id, key: "m", value: true, timestamp: 1 }))).toEqual({ status: 400, code: "INVALID_PARAMETER_VALUE" });
    expect(err(await c.post("runs/log-metric", { key: "m", value: 1, timestamp: 1 }))).toEqual({ status: 400, code: "INVALID_PARAMETER_VALUE" });
  });
  it("params are immutable: same value 200, different value 400; values over 6000 chars are truncated", async () => {
    const id = await newRun();
    expect(await c.ok("POST", "runs/log-parameter", { run_id: id, key: "alpha", value: "0.5" })).toEqual({});
    expect((await c.post("runs/log-parameter", { run_id: id, key: "alpha", value: "0.5" })).status).toBe(200);
    const r = await c.post("runs/log-parameter", { run_id: id, key: "alpha", value: "0.6" });
    expect(err(r)).toEqual({ status: 400, code: "INVALID_PARAMETER_VALUE" });
    expect(r.body["message"]).toContain("Changing param values is not allowed");
    await c.ok("POST", "runs/log-parameter", { run_id: id, key: "long", value: "x".repeat(7000) });
    await c.ok("POST", "runs/set-tag", { run_id: id, key: "longtag", value: "y".repeat(9000) });
    const g = await c.ok("GET", "runs/get", { run_id: id });
    const data = (g["run"] as { data: { params: { key: string; value: string }[]; tags: { key: string; value: string }[] } }).data;
    expect(data.params.find((p) => p.key === "long")?.value.length).toBe(6000);
    expect(data.tags.find((t) => t.key === "longtag")?.value.length).toBe(8000);
  });
  it("set-tag, delete-tag; set-tag mlflow.runName renames the run", async () => {
    const id = await newRun();
    await c.ok("POST", "runs/set-tag", { run_id: id, key: "team", value: "x" });
    await c.ok("POST", "runs/set-tag", { run_id: id, key: "mlflow.runName", value: "new-name" });
    await c.ok("POST", "runs/delete-tag", { run_id: id, key: "team" });
    const g = (await c.ok("GET", "runs/get", { run_id: id }))["run"] as { info: { run_name: string }; data: { tags: { key: string }[] } };
    expect(g.info.run_name).toBe("new-name");
    expect(g.data.tags.map((t) => t.key)).not.toContain("team");
    expect(err(await c.post("runs/delete-tag", { run_id: id, key: "team" }))).toEqual({ status: 404, code: "RESOURCE_DOES_NOT_EXIST" });
  });
  it("writes to a deleted run are 400; restore makes it writable again", async () => {
    const id = await newRun();
    await c.ok("POST", "runs/delete", { run_id: id });
    for (const [path, body] of [
      ["runs/log-metric", { run_id: id, key: "m", value: 1, timestamp: 1 }],
      ["runs/log-parameter", { run_id: id, key: "p", value: "1" }],
      ["runs/set-tag", { run_id: id, key: "t", value: "1" }],
      ["runs/log-batch", { run_id: id, metrics: [{ key: "m", value: 1, timestamp: 1 }] }],
    ] as const) {
      const r = await c.post(path, body);
      expect(err(r)).toEqual({ status: 400, code: "INVALID_PARAMETER_VALUE" });
      expect(r.body["message"]).toContain("must be in the 'active' state");
    }
    expect(((await c.ok("GET", "runs/get", { run_id: id }))["run"] as { info: { lifecycle_stage: string } }).info.lifecycle_stage).toBe("deleted");
    await c.ok("POST", "runs/restore", { run_id: id });
    expect((await c.post("runs/log-metric", { run_id: id, key: "m", value: 1, timestamp: 1 })).status).toBe(200);
  });
  it("log-batch limits: 1000 metrics / 100 params / 100 tags / 1000 total; duplicate param keys 400; all or nothing", async () => {
    const id = await newRun();
    const metrics = (k: number) => Array.from({ length: k }, (_, i) => ({ key: `m${i % 10}`, value: i, timestamp: i, step: i }));
    const params = (k: number) => Array.from({ length: k }, (_, i) => ({ key: `p${i}`, value: String(i) }));
    const tags = (k: number) => Array.from({ length: k }, (_, i) => ({ key: `t${i}`, value: String(i) }));
    expect((await c.post("runs/log-batch", { run_id: id, metrics: metrics(1000) })).status).toBe(200);
    expect(err(await c.post("runs/log-batch", { run_id: id, metrics: metrics(1001) }))).toEqual({ status: 400, code: "INVALID_PARAMETER_VALUE" });
    expect(err(await c.post("runs/log-batch", { run_id: id, params: params(101) }))).toEqual({ status: 400, code: "INVALID_PARAMETER_VALUE" });
    expect(err(await c.post("runs/log-batch", { run_id: id, tags: tags(101) }))).toEqual({ status: 400, code: "INVALID_PARAMETER_VALUE" });
    expect(err(await c.post("runs/log-batch", { run_id: id, metrics: metrics(950), params: params(100) }))).toEqual({ status: 400, code: "INVALID_PARAMETER_VALUE" });
    const dup = await c.post("runs/log-batch", { run_id: id, params: [{ key: "a", value: "1" }, { key: "a", value: "1" }] });
    expect(err(dup)).toEqual({ status: 400, code: "INVALID_PARAMETER_VALUE" });
    expect(dup.body["message"]).toContain("Duplicate parameter keys");
    // A batch whose param conflicts writes none of its metrics.
    await c.ok("POST", "runs/log-parameter", { run_id: id, key: "fixed", value: "1" });
    const bad = await c.post("runs/log-batch", { run_id: id, metrics: [{ key: "atomic", value: 1, timestamp: 1 }], params: [{ key: "fixed", value: "2" }] });
    expect(bad.status).toBe(400);
    expect(await c.ok("GET", "metrics/get-history", { run_id: id, metric_key: "atomic" })).toEqual({});
    // Latest value per key follows max (step, timestamp, value).
    const g = (await c.ok("GET", "runs/get", { run_id: id }))["run"] as { data: { metrics: { key: string; value: number; step: number }[] } };
    expect(g.data.metrics.find((m) => m.key === "m9")).toMatchObject({ value: 999, step: 999 });
  });
  it("latest metric: (step, timestamp, value) max rule across calls", async () => {
    const id = await newRun();
    const log = (value: number, timestamp: number, step: number) => c.ok("POST", "runs/log-metric", { run_id: id, key: "x", value, timestamp, step });
    await log(5, 10, 2);
    await log(9, 99, 1); // lower step: not latest
    await log(1, 11, 2); // same step, later timestamp: latest
    await log(0.5, 11, 2); // same step and timestamp, lower value: not latest
    const g = (await c.ok("GET", "runs/get", { run_id: id }))["run"] as { data: { metrics: unknown[] } };
    expect(g.data.metrics).toEqual([{ key: "x", value: 1, timestamp: 11, step: 2 }]);
  });
  it("get-history pages by max_results; a full page carries next_page_token", async () => {
    const id = await newRun();
    await c.ok("POST", "runs/log-batch", { run_id: id, metrics: Array.from({ length: 5 }, (_, i) => ({ key: "h", value: i, timestamp: 100 + i, step: i })) });
    const p1 = await c.ok("GET", "metrics/get-history", { run_id: id, metric_key: "h", max_results: 3 });
    expect((p1["metrics"] as { step: number }[]).map((m) => m.step)).toEqual([0, 1, 2]);
    const p2 = await c.ok("GET", "metrics/get-history", { run_id: id, metric_key: "h", max_results: 3, page_token: p1["next_page_token"] as string });
    expect((p2["metrics"] as { step: number }[]).map((m) => m.step)).toEqual([3, 4]);
    expect(p2["next_page_token"]).toBeUndefined();
    const bulk = await c.ok("GET", "metrics/get-history-bulk-interval", { run_ids: [id], metric_key: "h", max_results: 3 });
    expect((bulk["metrics"] as { step: number; run_id: string }[]).map((m) => m.step)).toEqual([0, 2, 4]);
  });
  it("log-inputs dedupes datasets by digest and they show in run.inputs; runs/outputs and log-model are recorded", async () => {
    const id = await newRun();
    const ds = { tags: [{ key: "mlflow.data.context", value: "train" }], dataset: { name: "iris", digest: "abc123", source_type: "local", source: "{}" } };
    await c.ok("POST", "runs/log-inputs", { run_id: id, datasets: [ds, ds] });
    await c.ok("POST", "runs/log-inputs", { run_id: id, datasets: [ds] });
    await c.ok("POST", "runs/outputs", { run_id: id, models: [{ model_id: "m-1", step: 3 }] });
    await c.ok("POST", "runs/log-model", { run_id: id, model_json: JSON.stringify({ artifact_path: "model", flavors: {} }) });
    const run = (await c.ok("GET", "runs/get", { run_id: id }))["run"] as {
      inputs: { dataset_inputs: unknown[] };
      outputs: unknown;
      data: { tags: { key: string; value: string }[] };
    };
    expect(run.inputs.dataset_inputs).toEqual([{ tags: ds.tags, dataset: { name: "iris", digest: "abc123", source_type: "local", source: "{}" } }]);
    expect(run.outputs).toEqual({ model_outputs: [{ model_id: "m-1", step: 3 }] });
    expect(JSON.parse(run.data.tags.find((t) => t.key === "mlflow.log-model.history")?.value ?? "[]")).toEqual([{ artifact_path: "model", flavors: {} }]);
    const found = await c.ok("POST", "runs/search", { experiment_ids: [(await c.ok("GET", "runs/get", { run_id: id }))["run"] ? ((await c.ok("GET", "runs/get", { run_id: id }))["run"] as { info: { experiment_id: string } }).info.experiment_id : ""], filter: "dataset.context = 'train'" });
    expect((found["runs"] as unknown[]).length).toBe(1);
  });
});

describe("runs/search", () => {
  it("empty result is exactly {}; pages: a full page has next_page_token, the next may be {}", async () => {
    const exp = await newExperiment();
    expect(await c.ok("POST", "runs/search", { experiment_ids: [exp] })).toEqual({});
    const ids = [await newRun(exp), await newRun(exp)];
    const p1 = await c.ok("POST", "runs/search", { experiment_ids: [exp], max_results: 2 });
    expect((p1["runs"] as unknown[]).length).toBe(2);
    expect(p1["next_page_token"]).toEqual(expect.any(String));
    expect(await c.ok("POST", "runs/search", { experiment_ids: [exp], max_results: 2, page_token: p1["next_page_token"] })).toEqual({});
    const one = await c.ok("POST", "runs/search", { experiment_ids: [exp], max_results: 1, filter: `attributes.run_id IN ('${ids[0]}', 'zzz')` });
    expect((one["runs"] as { info: { run_id: string } }[]).map((r) => r.info.run_id)).toEqual([ids[0]]);
  });
  it("max_results bounds, bad filter, bad order_by, duplicate order_by, bad page token → 400", async () => {
    const exp = await newExperiment();
    for (const body of [
      { max_results: 0 },
      { max_results: 50001 },
      { filter: "metrics.x > 'a'" },
      { filter: "tags.x IN ('a')" },
      { order_by: ["metrics.x SIDEWAYS"] },
      { order_by: ["metrics.x", "metrics.x DESC"] },
      { page_token: "not-a-token" },
      { run_view_type: "SOME" },
    ]) {
      expect(err(await c.post("runs/search", { experiment_ids: [exp], ...body }))).toEqual({ status: 400, code: "INVALID_PARAMETER_VALUE" });
    }
  });
  it("run_view_type selects deleted runs", async () => {
    const exp = await newExperiment();
    const a = await newRun(exp);
    const b = await newRun(exp);
    await c.ok("POST", "runs/delete", { run_id: b });
    const ids = async (view: string) => (((await c.ok("POST", "runs/search", { experiment_ids: [exp], run_view_type: view }))["runs"] as { info: { run_id: string } }[] | undefined) ?? []).map((r) => r.info.run_id).sort();
    expect(await ids("ACTIVE_ONLY")).toEqual([a]);
    expect(await ids("DELETED_ONLY")).toEqual([b]);
    expect(await ids("ALL")).toEqual([a, b].sort());
  });
});

describe("wire", () => {
  it("POST without application/json is 400 INVALID_PARAMETER_VALUE", async () => {
    const r = await fetch(`${s.url}/api/2.0/mlflow/experiments/create`, { method: "POST", headers: { authorization: `Bearer ${s.adminToken}`, "content-type": "text/plain" }, body: '{"name":"x"}' });
    expect(r.status).toBe(400);
    expect(await r.json()).toEqual({ error_code: "INVALID_PARAMETER_VALUE", message: "Bad Request. Content-Type must be one of ['application/json']" });
    const none = await fetch(`${s.url}/api/2.0/mlflow/experiments/create`, { method: "POST", headers: { authorization: `Bearer ${s.adminToken}` } });
    expect(none.status).toBe(400);
  });
  it("malformed JSON and a non-object body are 400", async () => {
    for (const body of ["{", "[1]", '"x"']) {
      const r = await fetch(`${s.url}/api/2.0/mlflow/experiments/create`, { method: "POST", headers: { authorization: `Bearer ${s.adminToken}`, "content-type": "application/json" }, body });
      expect(r.status).toBe(400);
      expect(((await r.json()) as { error_code: string }).error_code).toBe("INVALID_PARAMETER_VALUE");
    }
  });
  it("unknown RPCs are 404 with an empty body, on every prefix", async () => {
    for (const p of ["/api/2.0/mlflow/no/such", "/ajax-api/2.0/mlflow/traces", "/api/3.0/mlflow/traces/search", "/projects/default/api/2.0/mlflow/nope"]) {
      const r = await s.fetch(p);
      expect(r.status, p).toBe(404);
      expect(await r.text()).toBe("");
    }
  });
  it("the same endpoints answer under /ajax-api and /projects/{p}/(ajax-)api", async () => {
    for (const base of ["/ajax-api/2.0/mlflow", "/projects/default/api/2.0/mlflow", "/projects/default/ajax-api/2.0/mlflow"]) {
      const r = await mlflowClient(s, { base }).get("experiments/get", { experiment_id: "0" });
      expect(r.status, base).toBe(200);
    }
  });
  it("auth failures use MLflow's error format: 401 UNAUTHENTICATED (Bearer and Basic)", async () => {
    expect(err(await mlflowClient(s, { token: null }).get("experiments/get", { experiment_id: "0" }))).toEqual({ status: 401, code: "UNAUTHENTICATED" });
    expect(err(await mlflowClient(s, { token: "forja_wrong" }).get("experiments/get", { experiment_id: "0" }))).toEqual({ status: 401, code: "UNAUTHENTICATED" });
    const basic = (user: string, pass: string) => fetch(`${s.url}/api/2.0/mlflow/experiments/get?experiment_id=0`, { headers: { authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}` } });
    expect((await basic("admin", s.adminToken)).status).toBe(200);
    const bad = await basic("someone-else", s.adminToken);
    expect(bad.status).toBe(401);
    expect(((await bad.json()) as { error_code: string }).error_code).toBe("UNAUTHENTICATED");
  });
  it("GET repeated keys and experiment_ids[] become lists", async () => {
    const exp = await newExperiment();
    const id = await newRun(exp);
    const r = await c.get("metrics/get-history-bulk-interval", { "run_ids[]": [id], metric_key: "none" });
    expect(r.status).toBe(200);
  });
});
