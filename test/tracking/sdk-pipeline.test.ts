/** The Node SDK over the step environment that the pipeline integration produces. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { TrackingClient } from "../../src/sdk/index.ts";
import { createTracking } from "../../src/tracking/feature.ts";
import { pipelineTracking } from "../../src/tracking/pipeline-env.ts";
import { startTestServer, type TestServer } from "../support/server.ts";
import { mlflowClient } from "./helpers.ts";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.stop());

it("step env → SDK logs params/metrics/tags/artifacts into the step's run; lineage query; tokens revoked at the end", async () => {
  const ctx = s.platform.ctx;
  const pt = pipelineTracking(ctx, createTracking(ctx).service);
  const run = { uid: "0f0e0d0c-uid", name: "train-abc12", project: "default" };
  const env = await pt.stepEnv(run, "fit");
  expect(env["MLFLOW_TRACKING_URI"]).toBe(`${s.url}/projects/default`);
  expect(env["MLFLOW_RUN_ID"]).toMatch(/^[0-9a-f]{32}$/);
  // Idempotent per node: a retry gets the same tracking run.
  const again = await pt.stepEnv(run, "fit");
  expect(again["MLFLOW_RUN_ID"]).toBe(env["MLFLOW_RUN_ID"]);

  const sdk = TrackingClient.fromEnv(env);
  await sdk.logParams({ lr: 0.01, model: "lr" });
  await sdk.logMetrics({ loss: 0.5, weird: NaN }, { step: 2 });
  await sdk.setTags({ stage: "fit" });
  const dir = mkdtempSync(join(tmpdir(), "sdk-"));
  writeFileSync(join(dir, "w.txt"), "weights");
  await sdk.logArtifact(join(dir, "w.txt"), "model/w.txt");

  const got = (await mlflowClient(s).ok("GET", "runs/get", { run_id: env["MLFLOW_RUN_ID"] as string }))["run"] as {
    info: { run_name: string; experiment_id: string };
    data: { params: unknown[]; metrics: { key: string; value: unknown }[]; tags: { key: string; value: string }[] };
  };
  expect(got.info.run_name).toBe("train-abc12/fit");
  expect(got.info.experiment_id).toBe(env["MLFLOW_EXPERIMENT_ID"]);
  expect(got.data.params).toEqual([{ key: "lr", value: "0.01" }, { key: "model", value: "lr" }]);
  expect(got.data.metrics.find((m) => m.key === "weird")?.value).toBe("NaN");
  expect(got.data.tags).toEqual(expect.arrayContaining([{ key: "forja.pipelineRun", value: "default/train-abc12" }, { key: "forja.step", value: "fit" }, { key: "stage", value: "fit" }]));
  const files = await mlflowClient(s).ok("GET", "artifacts/list", { run_id: env["MLFLOW_RUN_ID"] as string, path: "model" });
  expect(files["files"]).toEqual([{ path: "model/w.txt", is_dir: false, file_size: 7 }]);

  const lineage = (await (await s.fetch("/api/v1/projects/default/pipelineruns/train-abc12/tracking-runs")).json()) as { items: { info: { run_id: string }; pipeline_step: string }[] };
  expect(lineage.items.map((r) => [r.info.run_id, r.pipeline_step])).toEqual([[env["MLFLOW_RUN_ID"], "fit"]]);

  expect(await pt.revokeRunTokens(run)).toBe(1); // one token per pipeline run, shared by its steps
  await expect(sdk.setTags({ after: "end" })).rejects.toMatchObject({ status: 401, errorCode: "UNAUTHENTICATED" });
});
