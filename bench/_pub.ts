import { exportLogisticRegressionOnnx } from "../src/serving/onnx/logistic-regression.ts";
const [url, token] = process.argv.slice(2) as [string, string];
const call = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(url + path, { method, headers: { authorization: `Bearer ${token}`, "content-type": body instanceof Uint8Array ? "application/octet-stream" : "application/json" }, ...(body !== undefined ? { body: body instanceof Uint8Array ? Buffer.from(body) : JSON.stringify(body) } : {}) });
  const t = await res.text(); if (!res.ok) throw new Error(t); return t ? JSON.parse(t) : {};
};
const exp = await call("POST", "/api/2.0/mlflow/experiments/create", { name: "b" });
const run = await call("POST", "/api/2.0/mlflow/runs/create", { experiment_id: exp.experiment_id, start_time: Date.now() });
const runId = run.run.info.run_id;
await call("PUT", `/api/2.0/mlflow-artifacts/artifacts/${exp.experiment_id}/${runId}/artifacts/model/model.onnx`, exportLogisticRegressionOnnx({ weights: [[1,2,3,4],[4,3,2,1],[0,1,0,1]], bias: [0,0,0] }));
await call("POST", "/api/2.0/mlflow/registered-models/create", { name: "iris" });
await call("POST", "/api/2.0/mlflow/model-versions/create", { name: "iris", source: `runs:/${runId}/model`, run_id: runId });
await call("POST", "/api/v1/apply", [{ apiVersion: "forja.dev/v1", kind: "Deployment", metadata: { name: "iris", project: "default" }, spec: { model: { name: "iris", version: 1 } } }]);
