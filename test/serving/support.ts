/**
 * Serving test helpers: publish an ONNX model as a registered model version the way an MLflow
 * client does (run → artifact upload → register → alias), deploy it, wait for a status.
 */
import { exportLogisticRegressionOnnx, type LogisticRegressionModel } from "../../src/serving/onnx/logistic-regression.ts";
import { encodeModel, OnnxType } from "../../src/serving/onnx/model-proto.ts";
import type { TestServer } from "../support/server.ts";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

export const IRIS: LogisticRegressionModel = {
  weights: [
    [-0.42, 0.97, -2.4, -1.02],
    [0.53, -0.32, -0.2, -0.94],
    [-0.11, -0.65, 2.6, 1.96],
  ],
  bias: [9.8, 2.2, -12.0],
  featureNames: ["sepal_length", "sepal_width", "petal_length", "petal_width"],
};
/** Same shape, different answers: a "new version". */
export const IRIS_V2: LogisticRegressionModel = { ...IRIS, bias: [-12.0, 2.2, 9.8] };

export const irisOnnx = (m: LogisticRegressionModel = IRIS) => exportLogisticRegressionOnnx(m);

/**
 * A model whose input metadata accepts any batch of 4 features but whose run fails unless the
 * batch has exactly 2 rows (a Reshape to [2, 4]): requests that pass validation and fail inside
 * onnxruntime.
 */
export const pairsOnlyOnnx = () =>
  encodeModel({
    irVersion: 8,
    opset: 13,
    producerName: "forja-test",
    producerVersion: "1",
    graph: {
      name: "pairs_only",
      nodes: [{ opType: "Reshape", inputs: ["input", "shape"], outputs: ["pairs"], name: "reshape" }],
      initializers: [{ name: "shape", dims: [2], int64: [2n, 4n] }],
      inputs: [{ name: "input", elemType: OnnxType.FLOAT, shape: ["batch", 4] }],
      outputs: [{ name: "pairs", elemType: OnnxType.FLOAT, shape: [2, 4] }],
    },
  });

async function call(s: TestServer, method: string, path: string, body?: unknown, token?: string | null): Promise<{ status: number; body: Json; text: string }> {
  const res = await s.fetch(path, {
    method,
    ...(token !== undefined ? { token } : {}),
    ...(body !== undefined ? { body: JSON.stringify(body), headers: { "content-type": "application/json" } } : {}),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed, text };
}

async function ok(s: TestServer, method: string, path: string, body?: unknown): Promise<Json> {
  const r = await call(s, method, path, body);
  if (r.status !== 200 && r.status !== 201) throw new Error(`${method} ${path} → ${r.status} ${r.text}`);
  return r.body;
}

/** Logs `bytes` as `<run>/artifacts/model/<file>` and registers it as a new version of `name`; returns the version. */
export async function publishModel(
  s: TestServer,
  o: { project?: string; name: string; bytes: Uint8Array; alias?: string; file?: string },
): Promise<number> {
  const project = o.project ?? "default";
  const root = `/projects/${project}/api/2.0`;
  const exp = await ok(s, "POST", `${root}/mlflow/experiments/create`, { name: `exp-${Math.random().toString(36).slice(2)}` });
  const run = await ok(s, "POST", `${root}/mlflow/runs/create`, { experiment_id: exp.experiment_id, start_time: Date.now() });
  const runId: string = run.run.info.run_id;
  const put = await s.fetch(`${root}/mlflow-artifacts/artifacts/${exp.experiment_id}/${runId}/artifacts/model/${o.file ?? "model.onnx"}`, {
    method: "PUT",
    body: Buffer.from(o.bytes),
    headers: { "content-type": "application/octet-stream" },
  });
  if (put.status !== 200) throw new Error(`upload → ${put.status} ${await put.text()}`);
  await put.arrayBuffer();
  const created = await call(s, "POST", `${root}/mlflow/registered-models/create`, { name: o.name });
  if (created.status !== 200 && created.body?.error_code !== "RESOURCE_ALREADY_EXISTS") throw new Error(`registered-models/create → ${created.text}`);
  const mv = await ok(s, "POST", `${root}/mlflow/model-versions/create`, { name: o.name, source: `runs:/${runId}/model`, run_id: runId });
  const version = Number(mv.model_version.version);
  if (o.alias) await setAlias(s, { project, name: o.name, alias: o.alias, version });
  return version;
}

export async function setAlias(s: TestServer, o: { project?: string; name: string; alias: string; version: number }): Promise<void> {
  await ok(s, "POST", `/projects/${o.project ?? "default"}/api/2.0/mlflow/registered-models/alias`, { name: o.name, alias: o.alias, version: String(o.version) });
}

export async function deploy(s: TestServer, o: { project?: string; name: string; spec: Record<string, unknown> }): Promise<void> {
  await s.admin.apply([{ apiVersion: "forja.dev/v1", kind: "Deployment", metadata: { name: o.name, project: o.project ?? "default" }, spec: o.spec }]);
  // Do not wait for the poll interval.
  s.platform.ctx.controllers.enqueue({ kind: "Deployment", project: o.project ?? "default", name: o.name });
}

export async function getDeployment(s: TestServer, name: string, project = "default"): Promise<Json> {
  return s.admin.get("Deployment", name, project);
}

/** Polls the deployment until `pred` holds (bounded). */
export async function waitFor(s: TestServer, name: string, pred: (d: Json) => boolean, o: { project?: string; timeoutMs?: number } = {}): Promise<Json> {
  const until = Date.now() + (o.timeoutMs ?? 30_000);
  let last: Json;
  for (;;) {
    last = await getDeployment(s, name, o.project);
    if (pred(last)) return last;
    if (Date.now() > until) throw new Error(`timed out waiting for deployment ${name}; status: ${JSON.stringify(last?.status)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const readyWith =
  (version: number) =>
  (d: Json): boolean =>
    d.status?.phase === "Ready" && Boolean(d.status.serving?.some((x: Json) => x.role === "primary" && x.version === version));

export function inferBody(rows: number[][], extra: Record<string, unknown> = {}) {
  return { inputs: [{ name: "input", shape: [rows.length, rows[0]?.length ?? 0], datatype: "FP32", data: rows.flat() }], ...extra };
}

export { call };

/** Two versions of "iris" in the default project: v1 (IRIS, alias champion) and v2 (IRIS_V2). */
export async function publishIrisPair(s: TestServer): Promise<{ v1: number; v2: number }> {
  const v1 = await publishModel(s, { name: "iris", bytes: irisOnnx(IRIS), alias: "champion" });
  const v2 = await publishModel(s, { name: "iris", bytes: irisOnnx(IRIS_V2) });
  return { v1, v2 };
}
