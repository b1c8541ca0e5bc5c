/**
 * What the Python client does, request by request (reference §6), against a real server with
 * tracking and the registry: `mlflow.register_model` and loading `models:/m@champion` (2.12.2),
 * and the 3.x `log_model` → logged model → `register_model` → `models:/<model_id>` path.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/server.ts";
import { mlflow, ok } from "./support.ts";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s?.stop();
});

async function put(path: string, content: string): Promise<number> {
  const res = await s.fetch(`/api/2.0/mlflow-artifacts/artifacts/${path}`, { method: "PUT", body: content, headers: { "content-type": "text/plain" } });
  await res.arrayBuffer();
  return res.status;
}

async function download(path: string): Promise<string> {
  const res = await s.fetch(`/api/2.0/mlflow-artifacts/artifacts/${path}`);
  expect(res.status).toBe(200);
  return res.text();
}

/** `mlflow.set_experiment(name)` + `mlflow.start_run()`. */
async function startRun(experiment: string): Promise<{ experimentId: string; runId: string; artifactUri: string }> {
  const byName = await mlflow(s, "GET", "experiments/get-by-name", { experiment_name: experiment });
  expect([byName.status, byName.body.error_code]).toEqual([404, "RESOURCE_DOES_NOT_EXIST"]);
  const { experiment_id: experimentId } = await ok(s, "POST", "experiments/create", { name: experiment });
  await ok(s, "GET", "experiments/get", { experiment_id: experimentId });
  const created = await ok(s, "POST", "runs/create", {
    experiment_id: experimentId,
    user_id: "root",
    run_name: "r1",
    start_time: Date.now(),
    tags: [{ key: "mlflow.runName", value: "r1" }],
  });
  return { experimentId, runId: created.run.info.run_id, artifactUri: created.run.info.artifact_uri };
}

/** The mlflow-artifacts service sits beside /api/2.0/mlflow. */
const ARTIFACTS = { root: "/api/2.0" };

const MLMODEL = "artifact_path: model\nflavors:\n  python_function:\n    loader_module: mlflow.pyfunc.model\n";

describe("MLflow 2.12.2 client", () => {
  it("mlflow.register_model, then loading models:/m2@champion", async () => {
    const { experimentId, runId, artifactUri } = await startRun("flow-212");
    expect(artifactUri).toBe(`mlflow-artifacts:/${experimentId}/${runId}/artifacts`);
    // mlflow.pyfunc.log_model("model", ...): the files go under the run's artifacts.
    expect(await put(`${experimentId}/${runId}/artifacts/model/MLmodel`, MLMODEL)).toBe(200);
    expect(await put(`${experimentId}/${runId}/artifacts/model/python_model.pkl`, "pickle")).toBe(200);
    await ok(s, "POST", "runs/update", { run_id: runId, run_uuid: runId, status: "FINISHED", end_time: Date.now() });

    // register_model("runs:/<run>/model", "m2"), twice: the second create is tolerated as "exists".
    for (const attempt of [1, 2]) {
      const created = await mlflow(s, "POST", "registered-models/create", { name: "m2" });
      if (attempt === 1) expect(created.status).toBe(200);
      else expect([created.status, created.body.error_code]).toEqual([400, "RESOURCE_ALREADY_EXISTS"]);
      const run = await ok(s, "GET", "runs/get", { run_id: runId, run_uuid: runId });
      const source = `${run.run.info.artifact_uri}/model`;
      const mv = await ok(s, "POST", "model-versions/create", { name: "m2", source, run_id: runId });
      expect(mv.model_version).toMatchObject({ name: "m2", version: String(attempt), source, run_id: runId, status: "READY" });
    }

    // MlflowClient.create_model_version with a runs:/ source, then the alias.
    const viaRuns = await ok(s, "POST", "model-versions/create", { name: "m2", source: `runs:/${runId}/model`, run_id: runId });
    expect(viaRuns.model_version.version).toBe("3");
    expect(await ok(s, "POST", "registered-models/alias", { name: "m2", alias: "champion", version: "3" })).toEqual({});

    // load_model("models:/m2@champion")
    const byAlias = await ok(s, "GET", "registered-models/alias", { name: "m2", alias: "champion" });
    expect(byAlias.model_version).toMatchObject({ version: "3", aliases: ["champion"] });
    const { artifact_uri: uri } = await ok(s, "GET", "model-versions/get-download-uri", { name: "m2", version: byAlias.model_version.version });
    expect(uri).toBe(`runs:/${runId}/model`);
    const run = await ok(s, "GET", "runs/get", { run_id: runId });
    const root = String(run.run.info.artifact_uri).replace(/^mlflow-artifacts:\//, "");
    const listing = await ok(s, "GET", "mlflow-artifacts/artifacts", { path: `${root}/model` }, ARTIFACTS);
    expect(listing.files.map((f: { path: string }) => f.path).sort()).toEqual(["MLmodel", "python_model.pkl"]);
    expect(await download(`${root}/model/MLmodel`)).toBe(MLMODEL);

    // load_model("models:/m2/1") and ("models:/m2/latest")
    expect((await ok(s, "GET", "model-versions/get-download-uri", { name: "m2", version: "1" })).artifact_uri).toBe(`${artifactUri}/model`);
    const latest = await ok(s, "POST", "registered-models/get-latest-versions", { name: "m2" });
    expect(latest.model_versions.map((v: { version: string }) => v.version)).toEqual(["3"]);
  });

  it("a source outside the run's artifact root, or a run of another experiment's path, is 400; an unknown run is 404", async () => {
    const a = await startRun("flow-src-a");
    const b = await startRun("flow-src-b");
    await ok(s, "POST", "registered-models/create", { name: "m-src" });
    const foreign = await mlflow(s, "POST", "model-versions/create", { name: "m-src", source: `${b.artifactUri}/model`, run_id: a.runId });
    expect([foreign.status, foreign.body.error_code]).toEqual([400, "INVALID_PARAMETER_VALUE"]);
    const mismatch = await mlflow(s, "POST", "model-versions/create", { name: "m-src", source: `runs:/${b.runId}/model`, run_id: a.runId });
    expect(mismatch.status).toBe(400);
    const unknown = await mlflow(s, "POST", "model-versions/create", { name: "m-src", source: "runs:/0123456789abcdef0123456789abcdef/model" });
    expect([unknown.status, unknown.body.error_code]).toEqual([404, "RESOURCE_DOES_NOT_EXIST"]);
  });
});

describe("MLflow 3.x client", () => {
  it("log_model → logged model → register_model → models:/<model_id>", async () => {
    const { experimentId, runId } = await startRun("flow-3x");
    await ok(s, "GET", "runs/get", { run_id: runId });
    // log_model: create the LoggedModel (PENDING), upload its files, finalize (READY).
    const created = await ok(s, "POST", "logged-models", {
      experiment_id: experimentId,
      name: "model",
      source_run_id: runId,
      model_type: "python_function",
      params: [{ key: "alpha", value: "0.5" }],
      tags: [{ key: "mlflow.user", value: "root" }],
    });
    const info = created.model.info;
    expect(info).toMatchObject({ experiment_id: experimentId, name: "model", source_run_id: runId, status: "LOGGED_MODEL_PENDING", model_type: "python_function" });
    expect(info.model_id).toMatch(/^m-[0-9a-f]{32}$/);
    expect(info.artifact_uri).toBe(`mlflow-artifacts:/${experimentId}/models/${info.model_id}/artifacts`);
    expect(created.model.data.params).toEqual([{ key: "alpha", value: "0.5" }]);
    const modelPath = `${experimentId}/models/${info.model_id}/artifacts`;
    expect(await put(`${modelPath}/MLmodel`, MLMODEL)).toBe(200);
    const finalized = await ok(s, "PATCH", `logged-models/${info.model_id}`, { model_id: info.model_id, status: "LOGGED_MODEL_READY" });
    expect(finalized.model.info.status).toBe("LOGGED_MODEL_READY");

    // register_model("runs:/<run>/model", "m3"): no MLmodel under the run → search logged models by name.
    const runListing = await ok(s, "GET", "mlflow-artifacts/artifacts", { path: `${experimentId}/${runId}/artifacts/model` }, ARTIFACTS);
    expect(runListing.files ?? []).toEqual([]);
    const found = await ok(s, "POST", "logged-models/search", { experiment_ids: [experimentId], filter: "name = 'model'" });
    const mine = found.models.filter((m: { info: { source_run_id: string } }) => m.info.source_run_id === runId);
    expect(mine.map((m: { info: { model_id: string } }) => m.info.model_id)).toEqual([info.model_id]);
    await ok(s, "POST", "registered-models/create", { name: "m3" });
    const mv = await ok(s, "POST", "model-versions/create", { name: "m3", source: `models:/${info.model_id}`, run_id: runId, model_id: info.model_id });
    expect(mv.model_version).toMatchObject({ name: "m3", version: "1", source: `models:/${info.model_id}`, model_id: info.model_id, run_id: runId });

    // Loading models:/m3/1 → the logged model's location; models:/<model_id> → GET logged-models/{id}.
    expect(await ok(s, "GET", "model-versions/get-download-uri", { name: "m3", version: "1" })).toEqual({ artifact_uri: info.artifact_uri });
    const got = await ok(s, "GET", `logged-models/${info.model_id}`);
    expect(got.model.info.artifact_uri).toBe(info.artifact_uri);
    expect(got.model.info.registrations).toEqual([{ name: "m3", version: "1" }]);
    const listing = await ok(s, "GET", "mlflow-artifacts/artifacts", { path: modelPath }, ARTIFACTS);
    expect(listing.files).toEqual([expect.objectContaining({ path: "MLmodel", is_dir: false })]);
    expect(await download(`${modelPath}/MLmodel`)).toBe(MLMODEL);
  });

  it("tags, params, delete and 404s of the logged-models family", async () => {
    const { experimentId } = await startRun("flow-3x-tags");
    const { model } = await ok(s, "POST", "logged-models", { experiment_id: experimentId, name: "tagged" });
    const id = model.info.model_id as string;
    expect(model.info.status).toBe("LOGGED_MODEL_PENDING");
    const tagged = await ok(s, "PATCH", `logged-models/${id}/tags`, { tags: [{ key: "a", value: "1" }, { key: "b", value: "2" }] });
    expect(tagged.model.info.tags).toEqual([{ key: "a", value: "1" }, { key: "b", value: "2" }]);
    expect(await ok(s, "DELETE", `logged-models/${id}/tags/a`)).toEqual({});
    expect((await mlflow(s, "DELETE", `logged-models/${id}/tags/a`)).status).toBe(404);
    expect(await ok(s, "POST", `logged-models/${id}/params`, { params: [{ key: "lr", value: "0.1" }] })).toEqual({});
    expect((await mlflow(s, "POST", `logged-models/${id}/params`, { params: [{ key: "lr", value: "0.2" }] })).status).toBe(400);
    const byParam = await ok(s, "POST", "logged-models/search", { experiment_ids: [experimentId], filter: "params.lr = '0.1' AND tags.b = '2'" });
    expect(byParam.models.map((m: { info: { model_id: string } }) => m.info.model_id)).toEqual([id]);
    expect(await ok(s, "DELETE", `logged-models/${id}`)).toEqual({});
    const gone = await mlflow(s, "GET", `logged-models/${id}`);
    expect([gone.status, gone.body.error_code]).toEqual([404, "RESOURCE_DOES_NOT_EXIST"]);
    const noExp = await mlflow(s, "POST", "logged-models", { experiment_id: "987654" });
    expect([noExp.status, noExp.body.error_code]).toEqual([404, "RESOURCE_DOES_NOT_EXIST"]);
    const missing = await mlflow(s, "POST", "logged-models", { name: "x" });
    expect([missing.status, missing.body.error_code]).toEqual([400, "INVALID_PARAMETER_VALUE"]);
  });
});
