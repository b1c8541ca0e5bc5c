import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../platform/errors.ts";
import type { ModelSearchTarget, ModelVersionView, RegisteredModelView } from "./index.ts";
import {
  compareModelVersions,
  compareRegisteredModels,
  matchesModelVersion,
  matchesRegisteredModel,
  parseModelFilter,
  parseModelVersionFilter,
  parseModelVersionOrderBy,
  parseRegisteredModelFilter,
  parseRegisteredModelOrderBy,
  queriesPrompts,
} from "./index.ts";

function invalid(fn: () => unknown, ...fragments: string[]): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(InvalidInputError);
  for (const f of fragments) expect((caught as Error).message).toContain(f);
}

const rm = (name: string, created: number, updated: number, tags: Record<string, string> = {}): RegisteredModelView => ({
  name,
  creation_timestamp: created,
  last_updated_timestamp: updated,
  tags,
});

const mv = (name: string, version: number, over: Partial<ModelVersionView> = {}): ModelVersionView => ({
  name,
  version: String(version),
  creation_timestamp: version,
  last_updated_timestamp: version,
  run_id: `run${version}`,
  source: `runs:/run${version}/model`,
  tags: {},
  ...over,
});

describe("parseModelFilter", () => {
  it("parses registered-model filters", () => {
    expect(parseRegisteredModelFilter("name = 'm1' and tags.team LIKE 'ml%'")).toEqual({
      target: "registered_model",
      clauses: [
        { entity: "attribute", key: "name", predicate: { type: "string", op: "=", value: "m1" } },
        { entity: "tag", key: "team", predicate: { type: "string", op: "LIKE", value: "ml%" } },
      ],
    });
    expect(parseRegisteredModelFilter("attribute.name ilike '%M%'").clauses[0]).toMatchObject({ predicate: { op: "ILIKE" } });
    expect(parseRegisteredModelFilter('tag.`mlflow.prompt.is_prompt` = "true"').clauses[0]).toMatchObject({
      entity: "tag",
      key: "mlflow.prompt.is_prompt",
    });
    expect(parseRegisteredModelFilter("").clauses).toEqual([]);
    expect(parseModelFilter(null, "model_version")).toEqual({ target: "model_version", clauses: [] });
  });

  it("parses model-version filters", () => {
    expect(parseModelVersionFilter("name='m' AND version_number >= 2 AND run_id IN ('a','b') AND source_path LIKE 'runs:/%'").clauses).toEqual([
      { entity: "attribute", key: "name", predicate: { type: "string", op: "=", value: "m" } },
      { entity: "attribute", key: "version_number", predicate: { type: "number", op: ">=", value: 2 } },
      { entity: "attribute", key: "run_id", predicate: { type: "list", op: "IN", values: ["a", "b"] } },
      { entity: "attribute", key: "source_path", predicate: { type: "string", op: "LIKE", value: "runs:/%" } },
    ]);
    expect(parseModelVersionFilter("version_number = '3'").clauses[0]).toMatchObject({ predicate: { type: "number", value: 3 } });
    expect(parseModelVersionFilter("run_id = 'abc'").clauses[0]).toMatchObject({ predicate: { type: "string", op: "=" } });
  });

  it.each<[ModelSearchTarget, string, string[]]>([
    ["registered_model", "run_id = 'a'", ["Invalid attribute key 'run_id' specified. Valid keys are '{'name'}'"]],
    ["registered_model", "version_number = 1", ["Invalid attribute key 'version_number'"]],
    ["registered_model", "metrics.a > 1", ["Invalid entity type 'metrics'. Valid entity types are ('attribute', 'tag', 'tags')"]],
    ["registered_model", "attributes.name = 'x'", ["Invalid entity type 'attributes'"]],
    ["registered_model", "name IN ('a')", ["Invalid comparator 'IN'"]],
    ["registered_model", "name > 'a'", ["Invalid comparator '>'"]],
    ["registered_model", "name = 5", ["Expected a quoted string value or a list of quoted string values for attributes. Got value 5"]],
    ["registered_model", "name = m1", ["not quoted", "m1"]],
    ["registered_model", "tags.k IN ('a')", ["Invalid comparator 'IN'"]],
    ["registered_model", "tags.k = 1", ["Expected a quoted string value for tag"]],
    ["registered_model", "tags.k IS NULL", ["IS NULL / IS NOT NULL", "not in model registry search"]],
    ["registered_model", "name = 'a' OR name = 'b'", ["Invalid clause(s) in filter string", "'OR'"]],
    ["model_version", "name IN ('a')", ["Invalid comparator 'IN'"]],
    ["model_version", "run_id NOT IN ('a')", ["Invalid comparator 'NOT IN'"]],
    ["model_version", "run_id = ('a')", ["expects a single quoted string value"]],
    ["model_version", "version_number LIKE '1'", ["Invalid comparator 'LIKE'"]],
    ["model_version", "version_number = 'abc'", ["Expected numeric value type for numeric attribute: version_number. Found 'abc'"]],
    ["model_version", "source_path = 1", ["attributes support comparison with numeric values"]],
    ["model_version", "current_stage = 'Production'", ["Invalid attribute key 'current_stage'"]],
  ])("%s: rejects %s", (target, filter, fragments) => {
    invalid(() => parseModelFilter(filter, target), ...fragments);
  });
});

describe("matchesRegisteredModel / matchesModelVersion", () => {
  const models = [rm("Alpha", 1, 10, { team: "ml" }), rm("beta", 2, 20, { team: "ML-ops" }), rm("gamma_1", 3, 30)];
  const names = (filter: string): string[] =>
    models.filter((m) => matchesRegisteredModel(parseRegisteredModelFilter(filter), m)).map((m) => m.name);

  it.each([
    ["name = 'Alpha'", ["Alpha"]],
    ["name = 'alpha'", []],
    ["name != 'Alpha'", ["beta", "gamma_1"]],
    ["name LIKE 'a%'", []],
    ["name ILIKE 'a%'", ["Alpha"]],
    ["name LIKE '%a'", ["Alpha", "beta"]],
    ["name LIKE 'gamma_1'", ["gamma_1"]],
    ["name LIKE 'gamma.1'", []],
    ["tags.team = 'ml'", ["Alpha"]],
    ["tags.team ILIKE 'ml%'", ["Alpha", "beta"]],
    ["tags.team != 'ml'", ["beta"]],
    ["tags.team != 'ml' AND name LIKE 'b%'", ["beta"]],
    ["tags.missing LIKE '%'", []],
  ])("%s", (filter, expected) => {
    expect(names(filter)).toEqual(expected);
  });

  const versions = [
    mv("m", 1),
    mv("m", 2, { tags: { stage: "x" } }),
    mv("m", 10, { run_id: null, source: "s3://bucket/model" }),
    mv("other", 3),
  ];
  const ids = (filter: string): string[] =>
    versions.filter((v) => matchesModelVersion(parseModelVersionFilter(filter), v)).map((v) => `${v.name}/${v.version}`);

  it.each([
    ["name = 'm'", ["m/1", "m/2", "m/10"]],
    ["version_number > 2", ["m/10", "other/3"]],
    ["version_number = 10", ["m/10"]],
    ["version_number <= 2 AND name = 'm'", ["m/1", "m/2"]],
    ["run_id = 'run1'", ["m/1"]],
    ["run_id IN ('run2', 'run3', 'nope')", ["m/2", "other/3"]],
    ["run_id != 'run1'", ["m/2", "other/3"]],
    ["source_path LIKE 's3://%'", ["m/10"]],
    ["source_path = 'runs:/run3/model'", ["other/3"]],
    ["tags.stage = 'x'", ["m/2"]],
  ])("%s", (filter, expected) => {
    expect(ids(filter)).toEqual(expected);
  });

  it("detects prompt queries", () => {
    expect(queriesPrompts(parseRegisteredModelFilter("tags.`mlflow.prompt.is_prompt` = 'True'"))).toBe(true);
    expect(queriesPrompts(parseRegisteredModelFilter("tags.`mlflow.prompt.is_prompt` != 'false'"))).toBe(true);
    expect(queriesPrompts(parseRegisteredModelFilter("tags.`mlflow.prompt.is_prompt` = 'false'"))).toBe(false);
    expect(queriesPrompts(parseRegisteredModelFilter("name = 'x'"))).toBe(false);
  });
});

describe("model order_by", () => {
  it("parses registered-model keys; timestamp means last_updated_timestamp (SQL store)", () => {
    expect(parseRegisteredModelOrderBy(["name DESC", "timestamp"])).toEqual([
      { key: "name", ascending: false },
      { key: "last_updated_timestamp", ascending: true },
    ]);
    expect(parseRegisteredModelOrderBy(["creation_timestamp desc"])).toEqual([{ key: "creation_timestamp", ascending: false }]);
    invalid(() => parseRegisteredModelOrderBy(["timestamp", "last_updated_timestamp DESC"]), "`order_by` contains duplicate fields");
    invalid(() => parseRegisteredModelOrderBy(["version_number"]), "Invalid order by key 'version_number' specified");
    invalid(() => parseRegisteredModelOrderBy(["tags.x"]), "Invalid order by key 'tags.x'");
    invalid(() => parseRegisteredModelOrderBy(["name aCs"]), "Invalid ordering key");
    invalid(() => parseRegisteredModelOrderBy(["timestamp somerandomstuff ASC"]), "Invalid order_by clause");
    invalid(() => parseRegisteredModelOrderBy([""]), "Invalid order_by clause");
  });

  it("parses model-version keys", () => {
    expect(parseModelVersionOrderBy(["version_number DESC", "attribute.creation_timestamp"])).toEqual([
      { key: "version_number", ascending: false },
      { key: "creation_timestamp", ascending: true },
    ]);
    invalid(() => parseModelVersionOrderBy(["timestamp"]), "Invalid order by key 'timestamp'");
    invalid(() => parseModelVersionOrderBy(["name", "name DESC"]), "duplicate fields");
  });

  it("sorts registered models with a name ASC tie-breaker", () => {
    const models = [rm("c", 1, 5), rm("a", 2, 5), rm("b", 3, 1)];
    const sorted = (o: string[]): string[] => [...models].sort(compareRegisteredModels(parseRegisteredModelOrderBy(o))).map((m) => m.name);
    expect(sorted([])).toEqual(["a", "b", "c"]);
    expect(sorted(["name DESC"])).toEqual(["c", "b", "a"]);
    expect(sorted(["timestamp DESC"])).toEqual(["a", "c", "b"]);
    expect(sorted(["creation_timestamp DESC"])).toEqual(["b", "a", "c"]);
  });

  it("sorts model versions: default last_updated DESC, name ASC, version DESC; numeric versions", () => {
    const vs = [
      mv("b", 2, { last_updated_timestamp: 7 }),
      mv("a", 9, { last_updated_timestamp: 7 }),
      mv("a", 10, { last_updated_timestamp: 7 }),
      mv("z", 1, { last_updated_timestamp: 8 }),
    ];
    const sorted = (o: string[]): string[] =>
      [...vs].sort(compareModelVersions(parseModelVersionOrderBy(o))).map((v) => `${v.name}/${v.version}`);
    expect(sorted([])).toEqual(["z/1", "a/10", "a/9", "b/2"]);
    expect(sorted(["version_number ASC"])).toEqual(["z/1", "b/2", "a/9", "a/10"]);
    expect(sorted(["name"])).toEqual(["a/10", "a/9", "b/2", "z/1"]);
    expect(sorted(["last_updated_timestamp"])).toEqual(["a/10", "a/9", "b/2", "z/1"]);
  });
});
