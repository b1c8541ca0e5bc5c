/**
 * The serving control plane: a deployment serves only its own project's artifacts, promote
 * refuses a version the registry does not have, adaptive batching keeps to maxBatchSize and
 * says when a model cannot batch, and spec.traffic lists each version once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/server.ts";
import { IRIS, call, publishIrisPair, deploy, inferBody, irisOnnx, pairsOnlyOnnx, publishModel, readyWith, waitFor } from "./support.ts";

let s: TestServer;
let v1: number;
let v2: number;
const dep = (name: string, rest = "") => `/api/v1/projects/default/deployments/${name}${rest}`;
const rows3 = [
  [5.1, 3.5, 1.4, 0.2],
  [6.7, 3.0, 5.2, 2.3],
  [5.9, 3.0, 4.2, 1.5],
];

beforeAll(async () => {
  s = await startTestServer();
  ({ v1, v2 } = await publishIrisPair(s));
});
afterAll(async () => {
  await s?.stop();
});

describe("model source is confined to the deployment's project", () => {
  // Projects are the authorization boundary: a user who is not a member of "default" gets 403
  // downloading its artifacts. Registering an mlflow-artifacts:/ URI that points into another
  // project's experiment and deploying it must not hand that model over either (MLflow/KServe
  // users expect a deployment to read only what its owner could read). Expected: the
  // deployment is Failed with a reason, and inference never answers with the other project's model.
  it("a model version whose source is another project's artifacts is not served", async () => {
    const secret = await publishModel(s, { name: "secret", bytes: irisOnnx(IRIS) });
    const mv = await call(s, "GET", `/projects/default/api/2.0/mlflow/model-versions/get?name=secret&version=${secret}`);
    const runId = mv.body.model_version.run_id as string;
    const run = await call(s, "GET", `/projects/default/api/2.0/mlflow/runs/get?run_id=${runId}`);
    const expId = run.body.run.info.experiment_id as string;

    const eve = await s.user("eve", { evil: "editor" });
    // Eve cannot read the artifact directly.
    expect((await call(s, "GET", `/projects/default/api/2.0/mlflow-artifacts/artifacts/${expId}/${runId}/artifacts/model/model.onnx`, undefined, eve.token)).status).toBe(403);

    const root = "/projects/evil/api/2.0/mlflow";
    expect((await call(s, "POST", `${root}/registered-models/create`, { name: "stolen" }, eve.token)).status).toBe(200);
    const created = await call(s, "POST", `${root}/model-versions/create`, { name: "stolen", source: `mlflow-artifacts:/${expId}/${runId}/artifacts/model` }, eve.token);
    expect(created.status, created.text).toBe(200);
    await eve.client.apply([{ apiVersion: "forja.dev/v1", kind: "Deployment", metadata: { name: "stolen", project: "evil" }, spec: { model: { name: "stolen", version: 1 } } }]);
    s.platform.ctx.controllers.enqueue({ kind: "Deployment", project: "evil", name: "stolen" });
    const d = await waitFor(s, "stolen", (x) => x.status?.phase !== "Progressing", { project: "evil" });
    expect(d.status.phase).toBe("Failed");
    const inf = await call(s, "POST", "/serving/evil/v2/models/stolen/infer", inferBody([[5, 3, 1, 0]]), eve.token);
    expect(inf.status).not.toBe(200);
  });
});

describe("promote", () => {
  // A promote to a version that does not exist must be refused (4xx), like `kubectl rollout
  // undo --to-revision=99` ("unable to find specified revision") — not accepted with 200, which
  // writes a spec the controller can only turn into Failed/VersionNotFound and drops the canary split.
  it("promote to a version that does not exist is refused and leaves the spec alone", async () => {
    await deploy(s, { name: "promo", spec: { model: { name: "iris", version: v1 }, traffic: [{ version: v1, percent: 50 }, { version: v2, percent: 50 }] } });
    await waitFor(s, "promo", (d) => d.status?.phase === "Ready" && d.status.serving?.length === 2);
    const r = await call(s, "POST", dep("promo", "/promote"), { version: 99 });
    expect(r.status, r.text).toBe(404);
    expect(r.body.error.message).toMatch(/^version: registered model "iris" has no version 99/);
    const after = await call(s, "GET", dep("promo"));
    expect(after.body.spec.traffic).toHaveLength(2);
  });
});

describe("adaptive batching", () => {
  // maxBatchSize is an upper bound (Triton's max_batch_size, KServe's maxBatchSize): no merged
  // batch may hold more rows than it. Two concurrent 3-row requests with maxBatchSize 4 must run
  // as two batches of 3, not as one batch of 6.
  it("never runs a merged batch larger than maxBatchSize", async () => {
    await deploy(s, { name: "b4", spec: { model: { name: "iris", version: v1 }, batching: { maxBatchSize: 4, maxDelayMs: 300 } } });
    await waitFor(s, "b4", readyWith(v1));
    const rs = await Promise.all([0, 1].map(() => call(s, "POST", "/serving/default/v2/models/b4/infer", inferBody(rows3))));
    for (const r of rs) expect(r.status, r.text).toBe(200);
    const metrics = await (await s.fetch("/metrics")).text();
    const le4 = Number(/forja_inference_batch_size_bucket\{le="4",project="default",deployment="b4",version="\d+"\} (\d+)/.exec(metrics)?.[1]);
    const count = Number(/forja_inference_batch_size_count\{project="default",deployment="b4",version="\d+"\} (\d+)/.exec(metrics)?.[1]);
    expect(count).toBeGreaterThan(0);
    expect(le4, "batches larger than maxBatchSize were run").toBe(count);
  });

  // spec.batching on a model whose outputs have a fixed first dimension cannot batch: the model
  // is served unbatched (Triton would refuse the config), and the status says so and why.
  it("batching requested on a model without a dynamic batch dimension is reported in status", async () => {
    const p = await publishModel(s, { name: "pairs", bytes: pairsOnlyOnnx() });
    await deploy(s, { name: "pb", spec: { model: { name: "pairs", version: p }, batching: { maxBatchSize: 8, maxDelayMs: 2 } } });
    const d = await waitFor(s, "pb", (x) => x.status?.phase !== "Progressing" && x.status?.phase !== undefined);
    expect(d.status.phase).toBe("Ready");
    expect(d.status.message).toMatch(/batching is off for version \d+: every input and output needs a variable first \(batch\) dimension/);
  });
});

describe("traffic validation", () => {
  // Listing the same version twice is a mistake (typically a typo for the canary version);
  // Kubernetes refuses duplicate keys in a list ("Duplicate value"); merged silently, it would
  // give version 1 100% and the intended canary would never run.
  it("the same version listed twice in spec.traffic is refused naming the entry", async () => {
    const r = await call(s, "POST", "/api/v1/apply", {
      apiVersion: "forja.dev/v1",
      kind: "Deployment",
      metadata: { name: "dup", project: "default" },
      spec: { model: { name: "iris", version: v1 }, traffic: [{ version: v1, percent: 90 }, { version: v1, percent: 10 }] },
    });
    expect(r.status, r.text).toBe(400);
    expect(r.text).toMatch(/spec\.traffic\[1\]/);
    expect(r.text).toMatch(/already listed at spec\.traffic\[0\]/);
  });
});
