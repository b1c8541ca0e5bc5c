/**
 * Projects and roles on the registry (both MLflow URI forms and the native API), and the native
 * API itself: listing, detail, aliases, stages, lineage to the tracking run and the pipeline run.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/server.ts";
import { mlflow, native, newRun, ok } from "./support.ts";

let s: TestServer;
let alice: string; // editor of team-a
let bob: string; // viewer of team-a
let carol: string; // editor of team-b
const A = { root: "/projects/team-a/api/2.0/mlflow" };
const B = { root: "/projects/team-b/api/2.0/mlflow" };

beforeAll(async () => {
  s = await startTestServer();
  alice = (await s.user("alice", { "team-a": "editor" })).token;
  bob = (await s.user("bob", { "team-a": "viewer" })).token;
  carol = (await s.user("carol", { "team-b": "editor" })).token;
  const run = await newRun(s, { ...A, token: alice });
  await ok(s, "POST", "registered-models/create", { name: "shared-name", description: "a's" }, { ...A, token: alice });
  await ok(s, "POST", "model-versions/create", { name: "shared-name", source: `runs:/${run.runId}/model`, run_id: run.runId }, { ...A, token: alice });
});
afterAll(async () => {
  await s?.stop();
});

describe("authorization", () => {
  it("names are per project: B may reuse A's model name, and each sees its own", async () => {
    await ok(s, "POST", "registered-models/create", { name: "shared-name", description: "b's" }, { ...B, token: carol });
    expect((await ok(s, "GET", "registered-models/get", { name: "shared-name" }, { ...A, token: alice })).registered_model.description).toBe("a's");
    expect((await ok(s, "GET", "registered-models/get", { name: "shared-name" }, { ...B, token: carol })).registered_model.description).toBe("b's");
  });

  it("a member of B cannot see A's models through either URI form or the native API", async () => {
    const scoped = await mlflow(s, "GET", "registered-models/get", { name: "shared-name" }, { ...A, token: carol });
    expect([scoped.status, scoped.body.error_code]).toEqual([403, "PERMISSION_DENIED"]);
    const search = await mlflow(s, "GET", "registered-models/search", {}, { ...A, token: carol });
    expect(search.status).toBe(403);
    // The unscoped URI is the `default` project, where carol is not a member either.
    const unscoped = await mlflow(s, "GET", "model-versions/search", { filter: "name = 'shared-name'" }, { token: carol });
    expect(unscoped.status).toBe(403);
    const own = await ok(s, "GET", "model-versions/search", { filter: "name = 'shared-name'" }, { ...B, token: carol });
    expect(own).toEqual({});
    expect((await native(s, "GET", "/api/v1/projects/team-a/models", undefined, carol)).status).toBe(403);
    expect((await native(s, "GET", "/api/v1/projects/team-a/models/shared-name/versions/1/lineage", undefined, carol)).status).toBe(403);
  });

  it("a viewer reads but cannot create, tag, alias or transition", async () => {
    expect((await mlflow(s, "GET", "registered-models/get", { name: "shared-name" }, { ...A, token: bob })).status).toBe(200);
    const writes: [Parameters<typeof mlflow>[1], string, Record<string, unknown>][] = [
      ["POST", "registered-models/create", { name: "bobs" }],
      ["POST", "registered-models/set-tag", { name: "shared-name", key: "k", value: "v" }],
      ["POST", "registered-models/alias", { name: "shared-name", alias: "x", version: "1" }],
      ["POST", "model-versions/transition-stage", { name: "shared-name", version: "1", stage: "Production", archive_existing_versions: false }],
      ["DELETE", "registered-models/delete", { name: "shared-name" }],
    ];
    for (const [method, path, input] of writes) {
      const r = await mlflow(s, method, path, input, { ...A, token: bob });
      expect([path, r.status, r.body.error_code]).toEqual([path, 403, "PERMISSION_DENIED"]);
    }
    expect((await native(s, "PUT", "/api/v1/projects/team-a/models/shared-name/aliases/x", { version: 1 }, bob)).status).toBe(403);
  });

  it("an admin on a project that does not exist gets 404; no credentials get 401", async () => {
    const r = await mlflow(s, "GET", "registered-models/search", {}, { root: "/projects/no-such/api/2.0/mlflow" });
    expect([r.status, r.body.error_code]).toEqual([404, "RESOURCE_DOES_NOT_EXIST"]);
    const anon = await mlflow(s, "GET", "registered-models/search", {}, { token: null });
    expect([anon.status, anon.body.error_code]).toEqual([401, "UNAUTHENTICATED"]);
  });

  it("logged models follow their experiment's project", async () => {
    const run = await newRun(s, { ...A, token: alice });
    const { model } = await ok(s, "POST", "logged-models", { experiment_id: run.experimentId, name: "lm" }, { ...A, token: alice });
    const fromB = await mlflow(s, "GET", `logged-models/${model.info.model_id}`, {}, { ...B, token: carol });
    expect(fromB.status).toBe(404);
    const unscoped = await mlflow(s, "GET", `logged-models/${model.info.model_id}`, {}, { token: carol });
    expect(unscoped.status).toBe(403);
    expect((await mlflow(s, "GET", `logged-models/${model.info.model_id}`, {}, { ...A, token: bob })).status).toBe(200);
    expect((await mlflow(s, "PATCH", `logged-models/${model.info.model_id}`, { status: "LOGGED_MODEL_READY" }, { ...A, token: bob })).status).toBe(403);
  });
});

describe("native API and lineage", () => {
  it("lists models, shows one with versions and aliases; sets aliases and stages", async () => {
    const list = await native(s, "GET", "/api/v1/projects/team-a/models", undefined, bob);
    expect(list.status).toBe(200);
    expect(list.body.items.map((m: { name: string }) => m.name)).toContain("shared-name");
    const alias = await native(s, "PUT", "/api/v1/projects/team-a/models/shared-name/aliases/champion", { version: "1" }, alice);
    expect(alias.status).toBe(200);
    expect(alias.body).toMatchObject({ version: "1", aliases: ["champion"] });
    const bad = await native(s, "PUT", "/api/v1/projects/team-a/models/shared-name/aliases/latest", { version: "1" }, alice);
    expect(bad.status).toBe(400);
    const staged = await native(s, "POST", "/api/v1/projects/team-a/models/shared-name/versions/1/stage", { stage: "staging" }, alice);
    expect(staged.body.current_stage).toBe("Staging");
    const detail = await native(s, "GET", "/api/v1/projects/team-a/models/shared-name", undefined, bob);
    expect(detail.body).toMatchObject({ name: "shared-name", aliases: [{ alias: "champion", version: "1" }], versions: [{ version: "1", current_stage: "Staging" }] });
    expect((await native(s, "DELETE", "/api/v1/projects/team-a/models/shared-name/aliases/champion", undefined, alice)).status).toBe(200);
    expect((await native(s, "GET", "/api/v1/projects/team-a/models/none", undefined, bob)).status).toBe(404);
  });

  it("lineage: version → run → experiment → datasets, pipeline run and step; and pipeline run → versions", async () => {
    const run = await newRun(s, {
      ...A,
      token: alice,
      tags: [
        { key: "forja.pipelineRun", value: "train-x1" },
        { key: "forja.step", value: "fit" },
      ],
    });
    await ok(
      s,
      "POST",
      "runs/log-inputs",
      { run_id: run.runId, datasets: [{ dataset: { name: "iris", digest: "abc123", source_type: "local", source: "{}" } }] },
      { ...A, token: alice },
    );
    await ok(s, "POST", "registered-models/create", { name: "lineage-m" }, { ...A, token: alice });
    await ok(s, "POST", "model-versions/create", { name: "lineage-m", source: `${run.artifactUri}/model`, run_id: run.runId }, { ...A, token: alice });
    const l = await native(s, "GET", "/api/v1/projects/team-a/models/lineage-m/versions/1/lineage", undefined, bob);
    expect(l.status).toBe(200);
    expect(l.body).toMatchObject({
      modelVersion: { name: "lineage-m", version: "1", run_id: run.runId },
      run: { runId: run.runId, experimentId: run.experimentId, project: "team-a" },
      experiment: { experimentId: run.experimentId, project: "team-a" },
      pipelineRun: { name: "train-x1" },
      step: { name: "fit" },
      datasets: [{ name: "iris", digest: "abc123" }],
    });
    const fromPipeline = await native(s, "GET", "/api/v1/projects/team-a/pipelineruns/train-x1/model-versions", undefined, bob);
    expect(fromPipeline.body.items).toEqual([expect.objectContaining({ name: "lineage-m", version: "1", pipeline_step: "fit" })]);
    expect((await native(s, "GET", "/api/v1/projects/team-a/pipelineruns/other-run/model-versions", undefined, bob)).body.items).toEqual([]);
  });
});
