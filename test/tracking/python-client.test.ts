/**
 * Drives the API exactly as the MLflow 2.12.2 Python client does (reference §6), since the real
 * client cannot be installed here: headers, bodies (run_uuid + run_id, stringified params,
 * "NaN"), call order, Basic auth and a project-scoped MLFLOW_TRACKING_URI.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/server.ts";

let s: TestServer;
let tracking: string;
let auth: string;
beforeAll(async () => {
  s = await startTestServer();
  const { token } = await s.user("datasci", { churn: "editor" });
  tracking = `${s.url}/projects/churn`; // MLFLOW_TRACKING_URI
  auth = `Basic ${Buffer.from(`datasci:${token}`).toString("base64")}`; // MLFLOW_TRACKING_USERNAME / PASSWORD
});
afterAll(() => s.stop());

const headers = () => ({ "User-Agent": "mlflow-python-client/2.12.2", Authorization: auth, "Accept-Encoding": "gzip, deflate", Accept: "*/*", Connection: "keep-alive" });
async function get(path: string, query: Record<string, string>) {
  const r = await fetch(`${tracking}/api/2.0/mlflow/${path}?${new URLSearchParams(query).toString()}`, { headers: headers() });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}
async function post(path: string, body: unknown) {
  const r = await fetch(`${tracking}/api/2.0/mlflow/${path}`, { method: "POST", headers: { ...headers(), "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const text = await r.text();
  expect(r.status, `${path}: ${text}`).toBe(200);
  const parsed: unknown = JSON.parse(text);
  expect(typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)).toBe(true); // 2.12.2 requires a JSON object
  return parsed as Record<string, unknown>;
}

it("set_experiment → start_run → log_param/metric/metrics → log_artifact → end_run → search_runs → get_metric_history", async () => {
  // mlflow.set_experiment("acc")
  const missing = await get("experiments/get-by-name", { experiment_name: "acc" });
  expect(missing.status).toBe(404);
  expect(missing.body["error_code"]).toBe("RESOURCE_DOES_NOT_EXIST");
  const { experiment_id } = (await post("experiments/create", { name: "acc" })) as { experiment_id: string };
  const got = await get("experiments/get", { experiment_id });
  expect(got.status).toBe(200);
  expect((got.body["experiment"] as { lifecycle_stage: string }).lifecycle_stage).toBe("active");

  // mlflow.start_run(run_name="r1")
  const start = Date.now();
  const created = await post("runs/create", {
    experiment_id,
    user_id: "root",
    run_name: "r1",
    start_time: start,
    tags: [
      { key: "mlflow.user", value: "root" },
      { key: "mlflow.source.name", value: "train.py" },
      { key: "mlflow.source.type", value: "LOCAL" },
      { key: "mlflow.runName", value: "r1" },
    ],
  });
  const info = (created["run"] as { info: { run_id: string; artifact_uri: string; run_name: string } }).info;
  const run = info.run_id;
  expect(info.run_name).toBe("r1");

  // mlflow.log_param("alpha", 0.5); mlflow.log_metric("loss", 1.25, step=3); log_metric NaN
  await post("runs/log-parameter", { run_uuid: run, key: "alpha", value: "0.5", run_id: run });
  await post("runs/log-metric", { run_uuid: run, key: "loss", value: 1.25, timestamp: Date.now(), step: 3, run_id: run });
  await post("runs/log-metric", { run_uuid: run, key: "weird", value: "NaN", timestamp: Date.now(), step: 0, run_id: run });
  // mlflow.log_metrics / log_params / set_tags → log-batch (chunked by the client)
  await post("runs/log-batch", { run_id: run, metrics: [{ key: "acc", value: 0.91, timestamp: Date.now(), step: 0 }], params: [], tags: [] });
  await post("runs/log-batch", { run_id: run, metrics: [], params: [{ key: "l1", value: "0.1" }], tags: [{ key: "team", value: "churn" }] });
  await post("runs/set-tag", { run_uuid: run, key: "stage", value: "dev", run_id: run });

  // mlflow.log_artifact("hello.txt", "files"): runs/get for artifact_uri, then PUT to mlflow-artifacts
  const r2 = await get("runs/get", { run_uuid: run, run_id: run });
  const artifactUri = (r2.body["run"] as { info: { artifact_uri: string } }).info.artifact_uri;
  expect(artifactUri).toMatch(/^mlflow-artifacts:\//);
  const artifactPath = artifactUri.slice("mlflow-artifacts:/".length);
  const put = await fetch(`${tracking}/api/2.0/mlflow-artifacts/artifacts/${artifactPath}/files/hello.txt`, { method: "PUT", headers: { ...headers(), "Content-Type": "text/plain" }, body: "hello" });
  expect(put.status).toBe(200);
  expect(await put.json()).toEqual({});

  // mlflow.end_run()
  await post("runs/update", { run_uuid: run, status: "FINISHED", end_time: Date.now(), run_id: run });

  // mlflow.search_runs(experiment_names=["acc"], filter_string="metrics.acc > 0.9")
  const byName = await get("experiments/get-by-name", { experiment_name: "acc" });
  const ids = [(byName.body["experiment"] as { experiment_id: string }).experiment_id];
  const found = await post("runs/search", { experiment_ids: ids, run_view_type: "ACTIVE_ONLY", filter: "metrics.acc > 0.9 and params.alpha = '0.5'", max_results: 10000, order_by: ["metrics.acc DESC"] });
  const runs = found["runs"] as { info: { run_id: string; status: string }; data: { metrics: { key: string; value: unknown }[]; params: unknown[]; tags: { key: string; value: string }[] } }[];
  expect(runs.map((r) => r.info.run_id)).toEqual([run]);
  expect(found["next_page_token"]).toBeUndefined();
  expect(runs[0]?.info.status).toBe("FINISHED");
  expect(runs[0]?.data.metrics).toContainEqual(expect.objectContaining({ key: "weird", value: "NaN" }));
  expect(runs[0]?.data.params).toEqual([{ key: "alpha", value: "0.5" }, { key: "l1", value: "0.1" }]);
  expect(runs[0]?.data.tags).toEqual(expect.arrayContaining([{ key: "mlflow.user", value: "root" }, { key: "team", value: "churn" }, { key: "stage", value: "dev" }]));

  // MlflowClient().get_metric_history(run, "loss")
  const hist = await get("metrics/get-history", { run_uuid: run, metric_key: "loss", run_id: run, max_results: "25000" });
  expect(hist.body).toEqual({ metrics: [{ key: "loss", value: 1.25, timestamp: expect.any(Number), step: 3 }] });

  // mlflow.artifacts.download_artifacts: list then GET
  const list = await fetch(`${tracking}/api/2.0/mlflow-artifacts/artifacts?path=${encodeURIComponent(`${artifactPath}/files`)}`, { headers: headers() });
  expect(await list.json()).toEqual({ files: [{ path: "hello.txt", is_dir: false, file_size: 5 }] });
  const dl = await fetch(`${tracking}/api/2.0/mlflow-artifacts/artifacts/${artifactPath}/files/hello.txt`, { headers: headers() });
  expect(await dl.text()).toBe("hello");

  // The same run is visible through the native API of the project.
  const native = await fetch(`${s.url}/api/v1/projects/churn/runs?experiment=acc&filter=${encodeURIComponent("metrics.acc > 0.9")}`, { headers: { Authorization: auth } });
  expect(((await native.json()) as { items: { info: { run_id: string } }[] }).items.map((r) => r.info.run_id)).toEqual([run]);
});

it("mlflow.start_run() without an experiment uses experiment 0 = the project's Default", async () => {
  const created = await post("runs/create", { experiment_id: "0", user_id: "root", start_time: Date.now(), tags: [] });
  const expId = (created["run"] as { info: { experiment_id: string } }).info.experiment_id;
  const exp = await get("experiments/get", { experiment_id: expId });
  expect((exp.body["experiment"] as { name: string }).name).toBe("Default");
});
