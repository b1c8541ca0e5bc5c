/**
 * MLflow semantics at the edges, as its SQL store and REST handlers have them: what a deleted
 * run or experiment accepts, get-history's order, deleting a registry tag that is not set.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/server.ts";
import { mlflow, ok } from "../registry/support.ts";
import { mlflowClient, type MlflowTestClient } from "./helpers.ts";

let s: TestServer;
let c: MlflowTestClient;
beforeAll(async () => {
  s = await startTestServer();
  c = mlflowClient(s);
});
afterAll(() => s?.stop());

let n = 0;
async function newExperiment(): Promise<string> {
  const b = await c.ok("POST", "experiments/create", { name: `rev-${++n}-${Date.now()}` });
  return b["experiment_id"] as string;
}
async function newRun(experiment_id?: string, extra: Record<string, unknown> = {}): Promise<string> {
  const b = await c.ok("POST", "runs/create", { experiment_id: experiment_id ?? (await newExperiment()), start_time: Date.now(), ...extra });
  return (b["run"] as { info: { run_id: string } }).info.run_id;
}
function err(r: { status: number; body: Record<string, unknown> }) {
  return { status: r.status, code: r.body["error_code"] };
}

describe("run lifecycle", () => {
  // MLflow SqlAlchemyStore.update_run_info calls _check_run_is_active(run): updating a deleted
  // run (e.g. mlflow.end_run() / set_terminated after delete) is 400 INVALID_PARAMETER_VALUE.
  it("runs/update on a deleted run is 400 INVALID_PARAMETER_VALUE", async () => {
    const id = await newRun();
    await c.ok("POST", "runs/delete", { run_id: id });
    const r = await c.post("runs/update", { run_id: id, status: "FINISHED", end_time: Date.now() });
    expect(err(r)).toEqual({ status: 400, code: "INVALID_PARAMETER_VALUE" });
    const g = await c.ok("GET", "runs/get", { run_id: id });
    expect((g["run"] as { info: { status: string } }).info.status).toBe("RUNNING");
  });
});

describe("experiment lifecycle", () => {
  // MLflow SqlAlchemyStore.restore_experiment reads the experiment with ViewType.DELETED_ONLY:
  // restoring an active experiment is 404 RESOURCE_DOES_NOT_EXIST ("No Experiment with id=... exists").
  it("experiments/restore of an active experiment is 404 RESOURCE_DOES_NOT_EXIST", async () => {
    const id = await newExperiment();
    expect(err(await c.post("experiments/restore", { experiment_id: id }))).toEqual({ status: 404, code: "RESOURCE_DOES_NOT_EXIST" });
  });
  // MLflow SqlAlchemyStore.delete_experiment reads the experiment with ViewType.ACTIVE_ONLY:
  // deleting an already deleted experiment is 404 RESOURCE_DOES_NOT_EXIST.
  it("experiments/delete of a deleted experiment is 404 RESOURCE_DOES_NOT_EXIST", async () => {
    const id = await newExperiment();
    await c.ok("POST", "experiments/delete", { experiment_id: id });
    expect(err(await c.post("experiments/delete", { experiment_id: id }))).toEqual({ status: 404, code: "RESOURCE_DOES_NOT_EXIST" });
  });
});

describe("metric history", () => {
  // MLflow SqlAlchemyStore.get_metric_history orders by (timestamp, step, value).
  it("get-history is ordered by timestamp, then step", async () => {
    const id = await newRun();
    await c.ok("POST", "runs/log-metric", { run_id: id, key: "m", value: 1, timestamp: 3000, step: 0 });
    await c.ok("POST", "runs/log-metric", { run_id: id, key: "m", value: 2, timestamp: 1000, step: 5 });
    await c.ok("POST", "runs/log-metric", { run_id: id, key: "m", value: 3, timestamp: 2000, step: 2 });
    const h = await c.ok("GET", "metrics/get-history", { run_id: id, metric_key: "m" });
    const pts = (h["metrics"] as { timestamp: number; step: number }[]).map((m) => [m.timestamp, m.step]);
    expect(pts).toEqual([
      [1000, 5],
      [2000, 2],
      [3000, 0],
    ]);
  });
});

describe("registry", () => {
  // MLflow SqlAlchemyStore (model registry).delete_registered_model_tag: deletes the tag only
  // `if existing_tag is not None` — deleting a tag that is not set succeeds (200 {}).
  it("registered-models/delete-tag of an unset tag succeeds", async () => {
    const name = `rev-tag-${Date.now()}`;
    await ok(s, "POST", "registered-models/create", { name });
    const r = await mlflow(s, "DELETE", "registered-models/delete-tag", { name, key: "nope" });
    expect(r.status).toBe(200);
  });
  // Same for delete_model_version_tag: `if existing_tag is not None: session.delete(existing_tag)`.
  it("model-versions/delete-tag of an unset tag succeeds", async () => {
    const name = `rev-vtag-${Date.now()}`;
    const runId = await newRun();
    await ok(s, "POST", "registered-models/create", { name });
    await ok(s, "POST", "model-versions/create", { name, source: `runs:/${runId}/model`, run_id: runId });
    const r = await mlflow(s, "DELETE", "model-versions/delete-tag", { name, version: "1", key: "nope" });
    expect(r.status).toBe(200);
  });
});
