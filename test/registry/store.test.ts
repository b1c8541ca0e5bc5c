/**
 * The registry store on both engines (SQLite and a real PostgreSQL): version numbering,
 * rename / delete cascades, aliases, stages, get-latest-versions, and the search filters,
 * ordering and paging of registered-models/search and model-versions/search.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AlreadyExistsError, InvalidInputError, NotFoundError } from "../../src/platform/errors.ts";
import { LoggedModelStore, parseLoggedModelFilter, parseLoggedModelOrderBy } from "../../src/registry/logged-models.ts";
import { registryMigrations } from "../../src/registry/migrations.ts";
import { RegistryStore, type NewVersion } from "../../src/registry/store.ts";
import { openDatabase, type Database } from "../../src/store/database.ts";
import { coreMigrations, migrate } from "../../src/store/migrations.ts";
import {
  parseModelVersionFilter,
  parseModelVersionOrderBy,
  parseRegisteredModelFilter,
  parseRegisteredModelOrderBy,
} from "../../src/tracking/search/index.ts";
import { forEachEngine, type TestDatabase } from "../support/databases.ts";

const P = "team-a";
const urlOf = (d: TestDatabase) => (d.engine === "sqlite" ? `sqlite:${d.filename}` : d.url);

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection");
}

forEachEngine((_engine, db) => {
  let database: Database;
  let store: RegistryStore;
  let t: number;
  beforeEach(async () => {
    database = openDatabase({ url: urlOf(db()) });
    await migrate(database, { ...coreMigrations(), ...registryMigrations });
    t = 1_700_000_000_000;
    store = new RegistryStore(database, () => (t += 1000));
  });
  afterEach(async () => {
    await database.close();
  });

  const version = (name: string, extra: Partial<NewVersion> = {}) =>
    store.createVersion(P, { name, source: `runs:/r-${name}/model`, storageLocation: `runs:/r-${name}/model`, runId: `r-${name}`, ...extra });

  describe("registered models", () => {
    it("creates with tags and description; a duplicate name in the same project is AlreadyExists, another project is fine", async () => {
      const m = await store.createModel(P, { name: "m1", description: "d", tags: { team: "x" }, userId: "ana" });
      expect(m).toMatchObject({ name: "m1", description: "d", tags: [{ key: "team", value: "x" }], user_id: "ana" });
      expect(m).not.toHaveProperty("latest_versions");
      expect(await rejection(store.createModel(P, { name: "m1" }))).toBeInstanceOf(AlreadyExistsError);
      await expect(store.createModel("team-b", { name: "m1" })).resolves.toMatchObject({ name: "m1" });
    });

    it("numbers versions 1, 2, 3 per model and never reuses a deleted number", async () => {
      await store.createModel(P, { name: "a" });
      await store.createModel(P, { name: "b" });
      expect((await version("a")).version).toBe("1");
      expect((await version("a")).version).toBe("2");
      expect((await version("b")).version).toBe("1");
      await store.deleteVersion(P, "a", 2);
      expect((await version("a")).version).toBe("3");
      expect(await rejection(store.getVersion(P, "a", 2))).toBeInstanceOf(NotFoundError);
    });

    it("hands out distinct numbers to concurrent creations", async () => {
      await store.createModel(P, { name: "c" });
      const made = await Promise.all(Array.from({ length: 8 }, () => version("c")));
      expect(made.map((v) => Number(v.version)).sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    });

    it("rename carries versions, tags and aliases; renaming onto an existing name is AlreadyExists", async () => {
      await store.createModel(P, { name: "old", tags: { k: "v" } });
      await version("old", { tags: { vt: "1" } });
      await store.setAlias(P, "old", "champion", 1);
      await store.createModel(P, { name: "taken" });
      expect(await rejection(store.renameModel(P, "old", "taken"))).toBeInstanceOf(AlreadyExistsError);
      const renamed = await store.renameModel(P, "old", "new");
      expect(renamed).toMatchObject({ name: "new", tags: [{ key: "k", value: "v" }], aliases: [{ alias: "champion", version: "1" }] });
      expect(await store.getVersion(P, "new", 1)).toMatchObject({ name: "new", tags: [{ key: "vt", value: "1" }], aliases: ["champion"] });
      expect(await rejection(store.getModel(P, "old"))).toBeInstanceOf(NotFoundError);
    });

    it("delete removes versions, tags and aliases", async () => {
      await store.createModel(P, { name: "gone", tags: { k: "v" } });
      await version("gone");
      await store.setAlias(P, "gone", "a", 1);
      await store.deleteModel(P, "gone");
      await store.createModel(P, { name: "gone" });
      const again = await store.getModel(P, "gone");
      expect(again).not.toHaveProperty("tags");
      expect(again).not.toHaveProperty("aliases");
      expect((await version("gone")).version).toBe("1");
      expect(await rejection(store.deleteModel(P, "never"))).toBeInstanceOf(NotFoundError);
    });
  });

  describe("aliases and stages", () => {
    beforeEach(async () => {
      await store.createModel(P, { name: "m" });
      for (let i = 0; i < 3; i++) await version("m");
    });

    it("setting an alias moves it; deleting a version drops its aliases; an unknown alias is InvalidInput", async () => {
      await store.setAlias(P, "m", "champion", 1);
      await store.setAlias(P, "m", "champion", 2);
      expect((await store.versionByAlias(P, "m", "champion")).version).toBe("2");
      expect((await store.getVersion(P, "m", 1)).aliases).toBeUndefined();
      await store.deleteVersion(P, "m", 2);
      const e = await rejection(store.versionByAlias(P, "m", "champion"));
      expect(e).toBeInstanceOf(InvalidInputError);
      expect((e as Error).message).toBe("Registered model alias champion not found.");
      expect(await rejection(store.setAlias(P, "m", "x", 9))).toBeInstanceOf(NotFoundError);
    });

    it("archive_existing_versions archives the others in the target stage only", async () => {
      await store.transitionStage(P, "m", 1, "Production", false);
      await store.transitionStage(P, "m", 2, "Staging", false);
      const v3 = await store.transitionStage(P, "m", 3, "Production", true);
      expect(v3.current_stage).toBe("Production");
      expect((await store.getVersion(P, "m", 1)).current_stage).toBe("Archived");
      expect((await store.getVersion(P, "m", 2)).current_stage).toBe("Staging");
      expect(await rejection(store.transitionStage(P, "m", 2, "Archived", true))).toBeInstanceOf(InvalidInputError);
    });

    it("latest versions: one per stage, or only the stages asked for", async () => {
      await store.transitionStage(P, "m", 1, "Production", false);
      await store.transitionStage(P, "m", 2, "Production", false);
      const all = await store.latestVersions(P, "m");
      expect(all.map((v) => [v.version, v.current_stage])).toEqual([
        ["2", "Production"],
        ["3", "None"],
      ]);
      expect((await store.latestVersions(P, "m", ["Staging"])).length).toBe(0);
      expect((await store.latestVersions(P, "m", ["Production"])).map((v) => v.version)).toEqual(["2"]);
      expect((await store.getModel(P, "m")).latest_versions?.map((v) => v.version)).toEqual(["2", "3"]);
    });
  });

  describe("search", () => {
    beforeEach(async () => {
      await store.createModel(P, { name: "alpha", tags: { team: "nlp" } });
      await store.createModel(P, { name: "beta", tags: { team: "cv" } });
      await store.createModel(P, { name: "Gamma" });
      await store.createModel(P, { name: "prompt1", tags: { "mlflow.prompt.is_prompt": "true" } });
      await store.createModel("other", { name: "alpha-elsewhere" });
      await version("alpha");
      await version("alpha", { runId: "run-2", source: "mlflow-artifacts:/1/run-2/artifacts/model", storageLocation: "x", tags: { quality: "good" } });
      await version("beta", { runId: "run-3" });
    });

    const models = (filter?: string, orderBy?: string[], maxResults = 100, pageToken?: string) =>
      store.searchModels(P, {
        filter: parseRegisteredModelFilter(filter),
        orderBy: parseRegisteredModelOrderBy(orderBy),
        maxResults,
        ...(pageToken ? { pageToken } : {}),
      });
    const versions = (filter?: string, orderBy?: string[], maxResults = 100) =>
      store.searchVersions(P, { filter: parseModelVersionFilter(filter), orderBy: parseModelVersionOrderBy(orderBy), maxResults });
    const names = (p: { items: { name: string }[] }) => p.items.map((m) => m.name);

    it("registered models: name and tag filters, LIKE / ILIKE, project isolation, prompts hidden unless asked for", async () => {
      expect(names(await models())).toEqual(["Gamma", "alpha", "beta"]);
      expect(names(await models("name = 'alpha'"))).toEqual(["alpha"]);
      expect(names(await models("name LIKE 'a%'"))).toEqual(["alpha"]);
      expect(names(await models("name ILIKE 'g%'"))).toEqual(["Gamma"]);
      expect(names(await models("tags.team = 'cv'"))).toEqual(["beta"]);
      expect(names(await models("name != 'alpha' AND tags.team LIKE '%'"))).toEqual(["beta"]);
      expect(names(await models("tags.`mlflow.prompt.is_prompt` = 'true'"))).toEqual(["prompt1"]);
    });

    it("registered models: order_by and page tokens", async () => {
      expect(names(await models(undefined, ["name DESC"]))).toEqual(["beta", "alpha", "Gamma"]);
      expect(names(await models(undefined, ["creation_timestamp DESC"]))).toEqual(["Gamma", "beta", "alpha"]);
      const p1 = await models(undefined, undefined, 2);
      expect(names(p1)).toEqual(["Gamma", "alpha"]);
      expect(p1.nextPageToken).toBeTypeOf("string");
      const p2 = await models(undefined, undefined, 2, p1.nextPageToken);
      expect(names(p2)).toEqual(["beta"]);
      expect(p2.nextPageToken).toBeUndefined();
      expect(await rejection(models(undefined, undefined, 2, "not-a-token!"))).toBeInstanceOf(InvalidInputError);
    });

    it("model versions: name, version_number, run_id (= and IN), source_path, tags", async () => {
      const key = (p: { items: { name: string; version: string }[] }) => p.items.map((v) => `${v.name}/${v.version}`);
      expect(key(await versions("name = 'alpha'"))).toEqual(["alpha/2", "alpha/1"]);
      expect(key(await versions("name = 'alpha' AND version_number > 1"))).toEqual(["alpha/2"]);
      expect(key(await versions("run_id = 'run-3'"))).toEqual(["beta/1"]);
      expect(key(await versions("run_id IN ('run-2', 'run-3')", ["name ASC"]))).toEqual(["alpha/2", "beta/1"]);
      expect(key(await versions("source_path LIKE 'mlflow-artifacts:%'"))).toEqual(["alpha/2"]);
      expect(key(await versions("tags.quality = 'good'"))).toEqual(["alpha/2"]);
      expect(key(await versions(undefined, ["version_number ASC", "name DESC"]))).toEqual(["beta/1", "alpha/1", "alpha/2"]);
      expect(() => parseModelVersionFilter("bogus = 'x'")).toThrow(InvalidInputError);
    });
  });

  describe("logged models", () => {
    it("create, tags, params, finalize and search by name / attributes", async () => {
      const logged = new LoggedModelStore(database, () => (t += 1000));
      const a = await logged.create(P, { experimentId: "1", name: "model", params: { alpha: "0.5" }, tags: {}, sourceRunId: "r1", experimentArtifactLocation: "mlflow-artifacts:/1" });
      const b = await logged.create(P, { experimentId: "1", name: "other", params: {}, tags: { k: "v" }, experimentArtifactLocation: "mlflow-artifacts:/1/" });
      await logged.create("elsewhere", { experimentId: "1", name: "model", params: {}, tags: {}, experimentArtifactLocation: "mlflow-artifacts:/1" });
      expect(a.model_id).toMatch(/^m-[0-9a-f]{32}$/);
      expect(a.artifact_location).toBe(`mlflow-artifacts:/1/models/${a.model_id}/artifacts`);
      expect(b.artifact_location).toBe(`mlflow-artifacts:/1/models/${b.model_id}/artifacts`);
      await logged.finalize(a.model_id, "LOGGED_MODEL_READY");
      await logged.setTags(a.model_id, { stage: "dev" });
      await logged.logParams(a.model_id, { alpha: "0.5", beta: "2" });
      expect(await rejection(logged.logParams(a.model_id, { alpha: "0.7" }))).toBeInstanceOf(InvalidInputError);
      const search = async (filter?: string, order?: unknown) =>
        (await logged.search({ projects: [P], experimentIds: ["1"], filter: parseLoggedModelFilter(filter), orderBy: parseLoggedModelOrderBy(order), maxResults: 10 })).items.map((r) => r.name);
      expect(await search("name = 'model'")).toEqual(["model"]);
      expect(await search("status = 'LOGGED_MODEL_READY' AND params.beta = '2' AND tags.stage = 'dev'")).toEqual(["model"]);
      expect(await search()).toEqual(["other", "model"]);
      expect(await search(undefined, [{ field_name: "name", ascending: true }])).toEqual(["model", "other"]);
      expect(await rejection(search("metrics.acc > 1"))).toBeInstanceOf(InvalidInputError);
      await logged.deleteTag(a.model_id, "stage");
      expect(await rejection(logged.deleteTag(a.model_id, "stage"))).toBeInstanceOf(NotFoundError);
    });
  });
});
