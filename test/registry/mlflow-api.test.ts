/**
 * Contract tests of the MLflow model-registry endpoints against a real server: exact status,
 * error_code and response shapes from the compatibility reference (docs: mlflow-api.md §2-§4).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/server.ts";
import { mlflow, newRun, ok, type TestRun } from "./support.ts";

let s: TestServer;
/** Real tracking runs: the registry checks a version's run_id against them. */
let runs: TestRun[];
beforeAll(async () => {
  s = await startTestServer();
  const first = await newRun(s);
  runs = [first, await newRun(s, { experimentId: first.experimentId }), await newRun(s, { experimentId: first.experimentId })];
});
afterAll(async () => {
  await s?.stop();
});

let seq = 0;
const fresh = (prefix = "m") => `${prefix}-${++seq}`;

async function modelWithVersions(n: number, name = fresh()): Promise<string> {
  await ok(s, "POST", "registered-models/create", { name });
  for (let i = 0; i < n; i++) {
    const run = runs[i % runs.length]!;
    await ok(s, "POST", "model-versions/create", { name, source: `runs:/${run.runId}/model`, run_id: run.runId });
  }
  return name;
}

describe("registered-models", () => {
  it("create answers the RegisteredModel; a duplicate is 400 RESOURCE_ALREADY_EXISTS", async () => {
    const name = fresh();
    const r = await mlflow(s, "POST", "registered-models/create", { name, tags: [{ key: "k", value: "v" }], description: "d" });
    expect(r.status).toBe(200);
    expect(r.body.registered_model).toMatchObject({ name, description: "d", tags: [{ key: "k", value: "v" }] });
    expect(r.body.registered_model.creation_timestamp).toBeTypeOf("number");
    const dup = await mlflow(s, "POST", "registered-models/create", { name });
    expect(dup.status).toBe(400);
    expect(dup.body.error_code).toBe("RESOURCE_ALREADY_EXISTS");
  });

  it("missing or mistyped fields are 400 INVALID_PARAMETER_VALUE naming the field; a non-JSON POST is 400", async () => {
    const missing = await mlflow(s, "POST", "registered-models/create", {});
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ error_code: "INVALID_PARAMETER_VALUE" });
    expect(missing.body.message).toContain("'name'");
    const res = await s.fetch("/api/2.0/mlflow/registered-models/create", { method: "POST", body: "name=x", headers: { "content-type": "text/plain" } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toContain("Content-Type must be one of ['application/json']");
  });

  it("get of a missing model is 404 RESOURCE_DOES_NOT_EXIST", async () => {
    const r = await mlflow(s, "GET", "registered-models/get", { name: "nope" });
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ error_code: "RESOURCE_DOES_NOT_EXIST", message: "Registered Model with name=nope not found" });
  });

  it("rename, update (PATCH) and delete (DELETE with a JSON body)", async () => {
    const name = await modelWithVersions(1);
    const renamed = await ok(s, "POST", "registered-models/rename", { name, new_name: `${name}-new` });
    expect(renamed.registered_model.name).toBe(`${name}-new`);
    expect(renamed.registered_model.latest_versions[0]).toMatchObject({ name: `${name}-new`, version: "1" });
    const updated = await ok(s, "PATCH", "registered-models/update", { name: `${name}-new`, description: "better" });
    expect(updated.registered_model.description).toBe("better");
    const del = await mlflow(s, "DELETE", "registered-models/delete", { name: `${name}-new` });
    expect(del).toMatchObject({ status: 200, body: {} });
    expect((await mlflow(s, "GET", "registered-models/get", { name: `${name}-new` })).status).toBe(404);
    expect((await mlflow(s, "DELETE", "registered-models/delete", { name: `${name}-new` })).status).toBe(404);
  });

  it("search: filter, order_by, max_results bounds, paging; an empty page is {}", async () => {
    const tag = fresh("t");
    for (const n of ["b", "a", "c"]) await ok(s, "POST", "registered-models/create", { name: `${tag}-${n}`, tags: [{ key: "grp", value: tag }] });
    const page1 = await ok(s, "GET", "registered-models/search", { filter: `tags.grp = '${tag}'`, max_results: 2, order_by: "name DESC" });
    expect(page1.registered_models.map((m: { name: string }) => m.name)).toEqual([`${tag}-c`, `${tag}-b`]);
    const page2 = await ok(s, "GET", "registered-models/search", { filter: `tags.grp = '${tag}'`, max_results: 2, order_by: "name DESC", page_token: page1.next_page_token });
    expect(page2).toEqual({ registered_models: [expect.objectContaining({ name: `${tag}-a` })] });
    expect(await ok(s, "GET", "registered-models/search", { filter: "name = 'no-such-model'" })).toEqual({});
    const tooMany = await mlflow(s, "GET", "registered-models/search", { max_results: 1001 });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.message).toContain("at most 1000");
    expect((await mlflow(s, "GET", "registered-models/search", { filter: "name = " })).status).toBe(400);
    expect((await mlflow(s, "GET", "registered-models/search", { order_by: "bogus" })).status).toBe(400);
    expect((await mlflow(s, "GET", "registered-models/search", { page_token: "%%%" })).status).toBe(400);
  });

  it("set-tag / delete-tag (DELETE body); tag limits are 400", async () => {
    const name = await modelWithVersions(0);
    expect(await ok(s, "POST", "registered-models/set-tag", { name, key: "owner", value: "ana" })).toEqual({});
    expect((await ok(s, "GET", "registered-models/get", { name })).registered_model.tags).toEqual([{ key: "owner", value: "ana" }]);
    expect(await ok(s, "DELETE", "registered-models/delete-tag", { name, key: "owner" })).toEqual({});
    expect((await ok(s, "GET", "registered-models/get", { name })).registered_model.tags).toBeUndefined();
    // As MLflow: deleting a tag that is not set succeeds; a model that does not exist is a 404.
    expect(await ok(s, "DELETE", "registered-models/delete-tag", { name, key: "owner" })).toEqual({});
    expect((await mlflow(s, "DELETE", "registered-models/delete-tag", { name: `${name}-missing`, key: "owner" })).status).toBe(404);
    expect((await mlflow(s, "POST", "registered-models/set-tag", { name, key: "k".repeat(251), value: "v" })).status).toBe(400);
    expect((await mlflow(s, "POST", "registered-models/set-tag", { name, key: "k", value: "v".repeat(100_001) })).status).toBe(400);
    expect((await mlflow(s, "POST", "registered-models/set-tag", { name, key: "k", value: "v".repeat(100_000) })).status).toBe(200);
  });
});

describe("aliases", () => {
  it("set → {}; shown on the RegisteredModel ({alias, version}) and the ModelVersion ([alias]); setting again moves it", async () => {
    const name = await modelWithVersions(2);
    expect(await ok(s, "POST", "registered-models/alias", { name, alias: "champion", version: "1" })).toEqual({});
    const mv = await ok(s, "GET", "registered-models/alias", { name, alias: "champion" });
    expect(mv.model_version).toMatchObject({ name, version: "1", aliases: ["champion"] });
    await ok(s, "POST", "registered-models/alias", { name, alias: "champion", version: "2" });
    const rm = (await ok(s, "GET", "registered-models/get", { name })).registered_model;
    expect(rm.aliases).toEqual([{ alias: "champion", version: "2" }]);
    expect((await ok(s, "GET", "model-versions/get", { name, version: "1" })).model_version.aliases).toBeUndefined();
    expect((await ok(s, "GET", "model-versions/get", { name, version: "2" })).model_version.aliases).toEqual(["champion"]);
  });

  it("GET of an unknown alias is 400 INVALID_PARAMETER_VALUE; DELETE takes a JSON body", async () => {
    const name = await modelWithVersions(1);
    const r = await mlflow(s, "GET", "registered-models/alias", { name, alias: "ghost" });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ error_code: "INVALID_PARAMETER_VALUE", message: "Registered model alias ghost not found." });
    await ok(s, "POST", "registered-models/alias", { name, alias: "prod", version: 1 });
    expect(await ok(s, "DELETE", "registered-models/alias", { name, alias: "prod" })).toEqual({});
    expect((await mlflow(s, "GET", "registered-models/alias", { name, alias: "prod" })).status).toBe(400);
  });

  it("reserved and malformed aliases are 400; a missing version is 404", async () => {
    const name = await modelWithVersions(1);
    for (const alias of ["latest", "LATEST", "v1", "V42", "has space", "dot.ted", "a".repeat(256)]) {
      const r = await mlflow(s, "POST", "registered-models/alias", { name, alias, version: "1" });
      expect([alias, r.status, r.body.error_code]).toEqual([alias, 400, "INVALID_PARAMETER_VALUE"]);
    }
    expect((await mlflow(s, "POST", "registered-models/alias", { name, alias: "a".repeat(255), version: "1" })).status).toBe(200);
    expect((await mlflow(s, "POST", "registered-models/alias", { name, alias: "v1x-ok", version: "1" })).status).toBe(200);
    const missing = await mlflow(s, "POST", "registered-models/alias", { name, alias: "x", version: "7" });
    expect([missing.status, missing.body.error_code]).toEqual([404, "RESOURCE_DOES_NOT_EXIST"]);
  });
});

describe("model-versions", () => {
  it("create answers the ModelVersion with a string version, READY, stage None", async () => {
    const name = await modelWithVersions(0);
    const runId = runs[0]!.runId;
    const r = await ok(s, "POST", "model-versions/create", { name, source: `runs:/${runId}/model`, run_id: runId, description: "first", tags: [{ key: "k", value: "v" }] });
    expect(r.model_version).toMatchObject({
      name,
      version: "1",
      current_stage: "None",
      status: "READY",
      source: `runs:/${runId}/model`,
      run_id: runId,
      description: "first",
      run_link: "",
      tags: [{ key: "k", value: "v" }],
    });
    const second = await ok(s, "POST", "model-versions/create", { name, source: `runs:/${runId}/model` });
    expect(second.model_version).toMatchObject({ version: "2", run_id: runId });
    const noModel = await mlflow(s, "POST", "model-versions/create", { name: "nope", source: "runs:/abc/model" });
    expect([noModel.status, noModel.body.error_code]).toEqual([404, "RESOURCE_DOES_NOT_EXIST"]);
  });

  it("rejects local and relative sources with 400", async () => {
    const name = await modelWithVersions(0);
    for (const source of ["/tmp/model", "file:///tmp/model", "relative/dir", "mlflow-artifacts:/1/../2/model", "runs:/abc/../x", "C:\\models\\m"]) {
      const r = await mlflow(s, "POST", "model-versions/create", { name, source });
      expect([source, r.status, r.body.error_code]).toEqual([source, 400, "INVALID_PARAMETER_VALUE"]);
    }
  });

  it("an mlflow-artifacts:/0/... source is stored under the project's own Default experiment id", async () => {
    const name = await modelWithVersions(0);
    const def = (await ok(s, "GET", "experiments/get", { experiment_id: "0" })).experiment.experiment_id as string;
    const v = (await ok(s, "POST", "model-versions/create", { name, source: "mlflow-artifacts:/0/m/model" })).model_version;
    expect(v.source).toBe("mlflow-artifacts:/0/m/model");
    expect(await ok(s, "GET", "model-versions/get-download-uri", { name, version: v.version })).toEqual({ artifact_uri: `mlflow-artifacts:/${def}/m/model` });
  });

  it("get / update (PATCH) / delete (DELETE body); missing version 404; bad version 400", async () => {
    const name = await modelWithVersions(2);
    expect((await ok(s, "GET", "model-versions/get", { name, version: "2" })).model_version.version).toBe("2");
    expect((await ok(s, "PATCH", "model-versions/update", { name, version: "2", description: "d2" })).model_version.description).toBe("d2");
    expect(await ok(s, "DELETE", "model-versions/delete", { name, version: "2" })).toEqual({});
    const gone = await mlflow(s, "GET", "model-versions/get", { name, version: "2" });
    expect(gone.status).toBe(404);
    expect(gone.body.message).toBe(`Model Version (name=${name}, version=2) not found`);
    for (const version of ["abc", "0", "-1", "1.5"]) {
      expect((await mlflow(s, "GET", "model-versions/get", { name, version })).status).toBe(400);
    }
  });

  it("transition-stage: case-insensitive stages, archive_existing_versions, invalid stages 400", async () => {
    const name = await modelWithVersions(3);
    const v1 = await ok(s, "POST", "model-versions/transition-stage", { name, version: "1", stage: "production", archive_existing_versions: false });
    expect(v1.model_version.current_stage).toBe("Production");
    await ok(s, "POST", "model-versions/transition-stage", { name, version: "2", stage: "Staging", archive_existing_versions: false });
    const v3 = await ok(s, "POST", "model-versions/transition-stage", { name, version: "3", stage: "PRODUCTION", archive_existing_versions: true });
    expect(v3.model_version.current_stage).toBe("Production");
    expect((await ok(s, "GET", "model-versions/get", { name, version: "1" })).model_version.current_stage).toBe("Archived");
    expect((await ok(s, "GET", "model-versions/get", { name, version: "2" })).model_version.current_stage).toBe("Staging");
    const bad = await mlflow(s, "POST", "model-versions/transition-stage", { name, version: "1", stage: "Prod", archive_existing_versions: false });
    expect([bad.status, bad.body.error_code]).toEqual([400, "INVALID_PARAMETER_VALUE"]);
    const archive = await mlflow(s, "POST", "model-versions/transition-stage", { name, version: "1", stage: "None", archive_existing_versions: true });
    expect(archive.status).toBe(400);
  });

  it("get-latest-versions: POST and GET, all stages or the listed ones (repeated query keys)", async () => {
    const name = await modelWithVersions(3);
    await ok(s, "POST", "model-versions/transition-stage", { name, version: "1", stage: "Production", archive_existing_versions: false });
    await ok(s, "POST", "model-versions/transition-stage", { name, version: "2", stage: "Staging", archive_existing_versions: false });
    const all = await ok(s, "POST", "registered-models/get-latest-versions", { name });
    expect(all.model_versions.map((v: { version: string; current_stage: string }) => `${v.version}:${v.current_stage}`)).toEqual(["1:Production", "2:Staging", "3:None"]);
    const viaGet = await ok(s, "GET", "registered-models/get-latest-versions", { name, stages: ["production", "Staging"] });
    expect(viaGet.model_versions.map((v: { version: string }) => v.version)).toEqual(["1", "2"]);
    expect(await ok(s, "POST", "registered-models/get-latest-versions", { name, stages: ["Archived"] })).toEqual({});
    expect((await mlflow(s, "POST", "registered-models/get-latest-versions", { name, stages: ["Live"] })).status).toBe(400);
  });

  it("search: run_id IN, name, version_number, tags; get-download-uri keeps runs:/ sources", async () => {
    const name = await modelWithVersions(3);
    await ok(s, "POST", "model-versions/set-tag", { name, version: "3", key: "quality", value: "good" });
    const inRuns = await ok(s, "GET", "model-versions/search", { filter: `name = '${name}' AND run_id IN ('${runs[0]!.runId}', '${runs[2]!.runId}')` });
    expect(inRuns.model_versions.map((v: { version: string }) => v.version).sort()).toEqual(["1", "3"]);
    const newer = await ok(s, "GET", "model-versions/search", { filter: `name = '${name}' AND version_number >= 2`, order_by: ["version_number ASC"] });
    expect(newer.model_versions.map((v: { version: string }) => v.version)).toEqual(["2", "3"]);
    const tagged = await ok(s, "GET", "model-versions/search", { filter: `tags.quality = 'good' AND name = '${name}'` });
    expect(tagged.model_versions).toEqual([expect.objectContaining({ version: "3", tags: [{ key: "quality", value: "good" }] })]);
    expect((await mlflow(s, "GET", "model-versions/search", { filter: "run_id NOT IN ('a')" })).status).toBe(400);
    expect((await mlflow(s, "GET", "model-versions/search", { max_results: 200_001 })).status).toBe(400);
    expect(await ok(s, "GET", "model-versions/get-download-uri", { name, version: "2" })).toEqual({ artifact_uri: `runs:/${runs[1]!.runId}/model` });
    expect(await ok(s, "DELETE", "model-versions/delete-tag", { name, version: "3", key: "quality" })).toEqual({});
  });

  it("a models:/<name>/<version> source resolves to that version's download URI", async () => {
    const src = await modelWithVersions(1);
    const dst = await modelWithVersions(0);
    await ok(s, "POST", "model-versions/create", { name: dst, source: `models:/${src}/1` });
    expect(await ok(s, "GET", "model-versions/get-download-uri", { name: dst, version: "1" })).toEqual({ artifact_uri: `runs:/${runs[0]!.runId}/model` });
    expect((await mlflow(s, "POST", "model-versions/create", { name: dst, source: `models:/${src}/9` })).status).toBe(404);
  });
});

describe("wire conventions", () => {
  it("serves the ajax-api prefix too", async () => {
    const name = fresh();
    await ok(s, "POST", "registered-models/create", { name }, { root: "/ajax-api/2.0/mlflow" });
    expect((await ok(s, "GET", "registered-models/get", { name })).registered_model.name).toBe(name);
  });

  it("answers junk input with 4xx, never 5xx", async () => {
    const name = await modelWithVersions(1);
    const cases: [Parameters<typeof mlflow>[1], string, Record<string, unknown>][] = [
      ["POST", "registered-models/create", { name: 5 }],
      ["POST", "registered-models/create", { name: "x/y" }],
      ["POST", "registered-models/create", { name: "n".repeat(300) }],
      ["POST", "registered-models/create", { name: fresh(), tags: "k=v" }],
      ["POST", "registered-models/create", { name: fresh(), tags: [{ value: "v" }] }],
      ["POST", "registered-models/create", { name: fresh(), tags: [{ key: "bad#key", value: "v" }] }],
      ["POST", "registered-models/rename", { name }],
      ["POST", "model-versions/create", { name, source: 42 }],
      ["POST", "model-versions/create", { name }],
      ["POST", "model-versions/transition-stage", { name, version: "1", stage: 3 }],
      ["POST", "model-versions/transition-stage", { name, version: "1", stage: "Staging", archive_existing_versions: "maybe" }],
      ["POST", "registered-models/alias", { name, alias: "a", version: "one" }],
      ["POST", "registered-models/alias", { name, alias: "a", version: { n: 1 } }],
      ["GET", "registered-models/search", { max_results: "ten" }],
      ["GET", "model-versions/search", { filter: "tags.x IN ('a')" }],
      ["GET", "model-versions/get-download-uri", { name }],
      ["POST", "logged-models", {}],
      ["POST", "logged-models", { experiment_id: "not an id" }],
      ["PATCH", "logged-models/m-unknown", { status: "NOPE" }],
      ["POST", "logged-models/search", { order_by: [{ field_name: "bogus" }] }],
    ];
    for (const [method, path, input] of cases) {
      const r = await mlflow(s, method, path, input);
      expect([path, JSON.stringify(input).slice(0, 60), r.status >= 400 && r.status < 500, typeof r.body?.error_code]).toEqual([path, JSON.stringify(input).slice(0, 60), true, "string"]);
    }
  });
});
