import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../platform/errors.ts";
import { parseOrderBy } from "./index.ts";

function invalid(clauses: string[], ...fragments: string[]): void {
  let caught: unknown;
  try {
    parseOrderBy(clauses);
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${JSON.stringify(clauses)} to be rejected`).toBeInstanceOf(InvalidInputError);
  const err = caught as InvalidInputError;
  for (const f of fragments) expect(err.message).toContain(f);
  expect(err.details[0]?.path).toBe("order_by");
}

describe("parseOrderBy", () => {
  it("returns [] for no clauses", () => {
    expect(parseOrderBy([])).toEqual([]);
    expect(parseOrderBy(undefined)).toEqual([]);
    expect(parseOrderBy(null)).toEqual([]);
  });

  it("parses entities, directions (any case) and the ASC default", () => {
    expect(parseOrderBy(["metrics.rmse DESC", "attributes.start_time", "params.x ASC", "tags.t desc", "param.y aSc"])).toEqual([
      { entity: "metric", key: "rmse", ascending: false },
      { entity: "attribute", key: "start_time", ascending: true },
      { entity: "param", key: "x", ascending: true },
      { entity: "tag", key: "t", ascending: false },
      { entity: "param", key: "y", ascending: true },
    ]);
  });

  it("parses quoted and backticked keys with spaces and dots", () => {
    expect(parseOrderBy(["metrics.`Mean Square Error`"])).toEqual([{ entity: "metric", key: "Mean Square Error", ascending: true }]);
    expect(parseOrderBy(["metrics.`Mean Square Error` ASC"])[0]?.ascending).toBe(true);
    expect(parseOrderBy(["metrics.`Mean Square Error` DESC"])[0]?.ascending).toBe(false);
    expect(parseOrderBy(['tags."mlflow.runName"   DESC'])).toEqual([{ entity: "tag", key: "mlflow.runName", ascending: false }]);
    expect(parseOrderBy(["metrics.a.b"])).toEqual([{ entity: "metric", key: "a.b", ascending: true }]);
  });

  it("resolves bare attributes and the created alias", () => {
    expect(parseOrderBy(["start_time", "status DESC"])).toEqual([
      { entity: "attribute", key: "start_time", ascending: true },
      { entity: "attribute", key: "status", ascending: false },
    ]);
    expect(parseOrderBy(["attr.Created DESC"])).toEqual([{ entity: "attribute", key: "start_time", ascending: false }]);
    for (const k of ["run_id", "run_name", "status", "user_id", "artifact_uri", "start_time", "end_time"]) {
      expect(parseOrderBy([`attributes.${k}`])[0]).toMatchObject({ entity: "attribute", key: k });
    }
  });

  it("tolerates surrounding whitespace", () => {
    expect(parseOrderBy(["  params.my_param  "])).toEqual([{ entity: "param", key: "my_param", ascending: true }]);
  });

  it.each([
    [["m.acc"], "Invalid entity type 'm'"],
    [["acc"], "Invalid attribute key 'acc'"],
    [["attri.x"], "Invalid entity type 'attri'"],
    [["`metrics.A"], "Invalid order_by clause '`metrics.A'. Could not be parsed."],
    [["attribute.start"], "Invalid attribute key 'start'"],
    [["attribute.experiment_id"], "Invalid attribute key 'experiment_id'"],
    [["attribute.lifecycle_stage"], "Invalid attribute key 'lifecycle_stage'"],
    [["\"run name\""], "Invalid attribute key 'run name'"],
    [["metrics.A != 1"], "Invalid order_by clause 'metrics.A != 1'"],
    [["attribute.run_id ACS"], "Invalid ordering key in order_by clause 'attribute.run_id ACS'."],
    [["attribute.run_id decs"], "Invalid ordering key in order_by clause"],
    [["metrics.a DESC ASC"], "Invalid order_by clause 'metrics.a DESC ASC'"],
    [[""], "Invalid order_by clause ''. Could not be parsed."],
    [["   "], "Invalid order_by clause '   '"],
    [["metrics.a, metrics.b"], "Invalid order_by clause"],
    [["datasets.name"], "Invalid identifier type 'dataset'"],
    [["metrics.'a'"], "Invalid order_by clause"],
  ])("rejects %j", (clauses, message) => {
    invalid(clauses, message);
  });

  it("rejects a field listed twice, also through aliases", () => {
    invalid(["metrics.a", "metrics.a DESC"], "`order_by` contains duplicate fields: ['metrics.a', 'metrics.a DESC']");
    invalid(["metric.a", "metrics.`a`"], "duplicate fields");
    invalid(["start_time", "created DESC"], "duplicate fields");
    expect(parseOrderBy(["metrics.a", "params.a", "tags.a"])).toHaveLength(3);
  });
});
