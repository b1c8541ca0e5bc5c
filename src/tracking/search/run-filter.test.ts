import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../platform/errors.ts";
import type { RunFilterClause } from "./index.ts";
import { parseRunFilter } from "./index.ts";

function clauses(filter: string): readonly RunFilterClause[] {
  return parseRunFilter(filter).clauses;
}

function one(filter: string): RunFilterClause {
  const cs = clauses(filter);
  expect(cs).toHaveLength(1);
  return cs[0]!;
}

/** Asserts an InvalidInputError whose message contains every fragment; returns the message. */
function invalid(filter: string, ...fragments: string[]): string {
  let caught: unknown;
  try {
    parseRunFilter(filter);
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${JSON.stringify(filter)} to be rejected`).toBeInstanceOf(InvalidInputError);
  const err = caught as InvalidInputError;
  for (const f of fragments) expect(err.message).toContain(f);
  expect(err.details[0]?.path).toBe("filter");
  return err.message;
}

describe("parseRunFilter: basics", () => {
  it("returns no clauses for empty, null and whitespace-only filters", () => {
    expect(clauses("")).toEqual([]);
    expect(parseRunFilter(undefined).clauses).toEqual([]);
    expect(parseRunFilter(null).clauses).toEqual([]);
    expect(clauses("  \t\n ")).toEqual([]);
  });

  it("parses a conjunction with AND in any case", () => {
    expect(clauses("metrics.rmse < 1 and params.model_class = 'LR' AnD tags.t != 'x'")).toEqual([
      { entity: "metric", key: "rmse", predicate: { type: "number", op: "<", value: 1 } },
      { entity: "param", key: "model_class", predicate: { type: "string", op: "=", value: "LR" } },
      { entity: "tag", key: "t", predicate: { type: "string", op: "!=", value: "x" } },
    ]);
  });

  it("does not need whitespace around operators and tolerates lots of it", () => {
    expect(one("metric.acc>=100")).toEqual({ entity: "metric", key: "acc", predicate: { type: "number", op: ">=", value: 100 } });
    expect(one("params.m!='tf'")).toEqual({ entity: "param", key: "m", predicate: { type: "string", op: "!=", value: "tf" } });
    expect(clauses("  metrics.a\t>\n1   AND\n\nparams.b   =   'x'  ")).toHaveLength(2);
  });

  it.each([
    ["metric", "metric"],
    ["metrics", "metric"],
    ["param", "param"],
    ["params", "param"],
    ["parameter", "param"],
    ["parameters", "param"],
    ["tag", "tag"],
    ["tags", "tag"],
  ] as const)("accepts entity alias %s", (alias, entity) => {
    const value = entity === "metric" ? "1" : "'v'";
    expect(one(`${alias}.k = ${value}`)).toMatchObject({ entity, key: "k" });
  });

  it.each(["attribute", "attributes", "attr", "run"])("accepts attribute prefix %s", (prefix) => {
    expect(one(`${prefix}.status = 'RUNNING'`)).toEqual({
      entity: "attribute",
      key: "status",
      predicate: { type: "string", op: "=", value: "RUNNING" },
    });
  });

  it("treats bare names as attributes and resolves aliases", () => {
    expect(one("status = 'FAILED'")).toMatchObject({ entity: "attribute", key: "status" });
    expect(one("created > 5")).toMatchObject({ entity: "attribute", key: "start_time" });
    expect(one("attributes.Created > 5")).toMatchObject({ entity: "attribute", key: "start_time" });
    expect(one("\"run name\" = 'r1'")).toMatchObject({ entity: "attribute", key: "run_name" });
    expect(one("attr.`Run Name` LIKE 'r%'")).toMatchObject({ entity: "attribute", key: "run_name" });
    for (const k of ["run_id", "run_name", "status", "user_id", "artifact_uri"]) {
      expect(one(`${k} = 'x'`)).toMatchObject({ entity: "attribute", key: k });
    }
    for (const k of ["start_time", "end_time"]) {
      expect(one(`${k} >= 10`)).toMatchObject({ entity: "attribute", key: k, predicate: { type: "number" } });
    }
  });

  it("parses dataset clauses", () => {
    expect(one("datasets.name = 'ds'")).toEqual({
      entity: "dataset",
      key: "name",
      predicate: { type: "string", op: "=", value: "ds" },
    });
    expect(one("dataset.digest IN ('a', 'b')")).toEqual({
      entity: "dataset",
      key: "digest",
      predicate: { type: "list", op: "IN", values: ["a", "b"] },
    });
    expect(one("datasets.context NOT IN ('train')")).toMatchObject({ predicate: { op: "NOT IN", values: ["train"] } });
    expect(one("datasets.context ilike 'TR%'")).toMatchObject({ predicate: { type: "string", op: "ILIKE" } });
  });
});

describe("parseRunFilter: keys", () => {
  it("accepts double-quoted and backticked keys with spaces, dots, dashes and symbols", () => {
    expect(one('metrics."my metric" > 1')).toMatchObject({ entity: "metric", key: "my metric" });
    expect(one("tags.`a.b` = 'x'")).toMatchObject({ entity: "tag", key: "a.b" });
    expect(one('params."p.a.r.a.m" != "a"')).toMatchObject({ entity: "param", key: "p.a.r.a.m" });
    expect(one('metrics."X-Y-Z" = 3')).toMatchObject({ key: "X-Y-Z" });
    expect(one('metrics."X//Y#$$@&Z" = 3')).toMatchObject({ key: "X//Y#$$@&Z" });
    expect(one("metrics.`spacey name` > 5")).toMatchObject({ key: "spacey name" });
    expect(one('tags."mlflow.runName" LIKE \'r%\'')).toMatchObject({ entity: "tag", key: "mlflow.runName" });
    expect(one('metrics."accuracy.2.0" > 5')).toMatchObject({ key: "accuracy.2.0" });
  });

  it("splits at the first dot only, like MLflow (unquoted dotted keys)", () => {
    expect(one("metrics.a.b.c = 2")).toMatchObject({ entity: "metric", key: "a.b.c" });
    expect(one("tags.mlflow.user = 'me'")).toMatchObject({ entity: "tag", key: "mlflow.user" });
  });

  it("accepts a backticked entity", () => {
    expect(one("`metric`.a >= 0.1")).toMatchObject({ entity: "metric", key: "a" });
    expect(one("`tags`.source_name = 'a notebook'")).toMatchObject({ entity: "tag", key: "source_name" });
  });

  it("keeps keys case-sensitive and allows keywords and digits as key segments", () => {
    expect(one("metrics.XYZ = 3")).toMatchObject({ key: "XYZ" });
    expect(clauses("params.and = 'x' AND params.or = 'y' AND params.in = 'z'").map((c) => c.key)).toEqual([
      "and",
      "or",
      "in",
    ]);
    expect(one("metrics.1st = 1")).toMatchObject({ key: "1st" });
    expect(one("params.größe = 'x'")).toMatchObject({ key: "größe" });
  });
});

describe("parseRunFilter: values", () => {
  it.each([
    ["0", 0],
    ["42", 42],
    ["-1", -1],
    ["-0.5", -0.5],
    ["0.94", 0.94],
    [".5", 0.5],
    ["2.", 2],
    ["1e3", 1000],
    ["1E3", 1000],
    ["1.5e-3", 0.0015],
    ["-2.5E+2", -250],
    ["1e400", Infinity],
  ])("parses numeric literal %s", (text, value) => {
    expect(one(`metrics.m >= ${text}`)).toEqual({ entity: "metric", key: "m", predicate: { type: "number", op: ">=", value } });
  });

  it("parses negative numbers right after an operator", () => {
    expect(one("metrics.m>-3")).toMatchObject({ predicate: { op: ">", value: -3 } });
    expect(one("start_time<=-1")).toMatchObject({ predicate: { op: "<=", value: -1 } });
  });

  it("accepts single- and double-quoted strings and keeps their text verbatim", () => {
    expect(one("params.m = 'LR'")).toMatchObject({ predicate: { value: "LR" } });
    expect(one('params.m = "LR"')).toMatchObject({ predicate: { value: "LR" } });
    expect(one('params.m = "L\'Hosp"')).toMatchObject({ predicate: { value: "L'Hosp" } });
    expect(one("params.m = 'say \"hi\"'")).toMatchObject({ predicate: { value: 'say "hi"' } });
    expect(one("params.m = ''")).toMatchObject({ predicate: { value: "" } });
    // MLflow trims the quotes and never unescapes.
    expect(one("params.m = 'it''s'")).toMatchObject({ predicate: { value: "it''s" } });
    expect(one("params.p = 'C:\\data\\x'")).toMatchObject({ predicate: { value: "C:\\data\\x" } });
    expect(one("params.m = 'a AND b OR c'")).toMatchObject({ predicate: { value: "a AND b OR c" } });
  });

  it("keeps LIKE patterns verbatim, including regex-special characters", () => {
    const patterns = ["%", "a_c", "C+W%", "(x)|[y]", "^a.*$", "50%_off", "a\\b", "{1,2}?"];
    for (const p of patterns) {
      expect(one(`tags.t LIKE '${p}'`)).toEqual({ entity: "tag", key: "t", predicate: { type: "string", op: "LIKE", value: p } });
    }
  });

  it("parses comparators case-insensitively", () => {
    expect(one("params.a like 'x%'")).toMatchObject({ predicate: { op: "LIKE" } });
    expect(one("params.a iLiKe 'x%'")).toMatchObject({ predicate: { op: "ILIKE" } });
    expect(one("run_id in ('a')")).toMatchObject({ predicate: { op: "IN" } });
    expect(one("run_id Not In ('a')")).toMatchObject({ predicate: { op: "NOT IN" } });
    expect(one("tags.x is null")).toEqual({ entity: "tag", key: "x", predicate: { type: "null", op: "IS NULL" } });
    expect(one("params.x IS NOT NULL")).toEqual({ entity: "param", key: "x", predicate: { type: "null", op: "IS NOT NULL" } });
  });

  it("parses IN lists with one and many values", () => {
    expect(one("run_id IN ('a')")).toEqual({ entity: "attribute", key: "run_id", predicate: { type: "list", op: "IN", values: ["a"] } });
    expect(one("attributes.run_id IN ('a','b' ,  'c')")).toMatchObject({ predicate: { values: ["a", "b", "c"] } });
    // Verbatim: no lower-casing filter (MLflow drops non-lowercase ids), duplicates kept.
    expect(one("run_id NOT IN ('ABC', 'ABC', 'with space')")).toMatchObject({
      predicate: { op: "NOT IN", values: ["ABC", "ABC", "with space"] },
    });
  });
});

describe("parseRunFilter: errors", () => {
  it("rejects OR with MLflow's message and the offending token", () => {
    invalid("metrics.A > 0.1 OR params.B = 'LR'", "Invalid clause(s) in filter string", "'OR'");
    invalid("metrics.A > 0.1 or params.B = 'LR'", "Invalid clause(s) in filter string", "'or'");
  });

  it("rejects other junk between clauses", () => {
    invalid("metrics.A > 0.1 NAND params.B = 'LR'", "Invalid clause(s) in filter string", "'NAND'");
    invalid("metrics.A > 0.1 AND (params.B = 'LR')", "Invalid comparison clause. Expected 'Identifier' found '('");
    invalid("metrics.a > 1 metrics.b > 2", "Invalid clause(s) in filter string", "'metrics'");
    invalid("metrics.a > 1 AND", "Invalid clause(s) in filter string", "'AND'");
    invalid("metrics.a > 1 AND AND metrics.b > 2", "Invalid clause(s) in filter string", "AND AND");
  });

  it("rejects multiple statements", () => {
    invalid("metric.acc >= 0.94; metrics.rmse < 1", "Search filter contained multiple expression", "Provide AND-ed expression list");
  });

  it("rejects unknown entities", () => {
    invalid("m.acc >= 0.94", "Invalid entity type 'm'", "Valid values are ['metric', 'parameter', 'tag', 'attribute', 'dataset']");
    invalid("p.model >= 'LR'", "Invalid entity type 'p'");
    invalid("attri.x != 1", "Invalid entity type 'attri'");
    invalid("METRICS.x > 1", "Invalid entity type 'METRICS'");
    invalid('"metrics".x > 1', "Invalid entity type '\"metrics\"'");
  });

  it("rejects unknown attribute and dataset keys", () => {
    invalid("acc >= 0.94", "Invalid attribute key 'acc' specified. Valid keys are");
    invalid("attribute.lifecycle_stage = 'active'", "Invalid attribute key 'lifecycle_stage'");
    invalid("attribute.experiment_id = '1'", "Invalid attribute key 'experiment_id'");
    invalid("attribute.Status = 'x'", "Invalid attribute key 'Status'");
    invalid("foo is null", "Invalid attribute key 'foo'");
    invalid("dataset.profile = 'x'", "Invalid dataset key 'profile'", "'name'", "'digest'", "'context'");
  });

  it("rejects missing or misplaced values and operators", () => {
    invalid("metric.acc !=", "Invalid clause(s) in filter string", "'metric.acc !='", "missing a value");
    invalid("metrics.acc > AND params.b = 'x'", "missing a value after '>'");
    invalid("params.acc LR", "Invalid clause(s) in filter string", "found 'LR'");
    invalid("params.acc", "Invalid clause(s) in filter string", "'params.acc'");
    invalid("tags.acc = = 'LR'", "Invalid clause(s) in filter string", "found '='");
    invalid("1=1", "Invalid comparison clause. Expected 'Identifier' found '1'");
    invalid("1.0 > metrics.acc", "Expected 'Identifier' found '1.0'");
    invalid("attribute.status IS 'RUNNING'", "IS must be followed by NULL or NOT NULL");
    invalid("params.a NOT LIKE 'x'", "Invalid clause(s) in filter string", "found 'NOT'");
    invalid("metrics. = 1", "missing key after '.'");
  });

  it("rejects unterminated strings and stray characters, naming them", () => {
    invalid("params.acc = 'LR", "Invalid clause(s) in filter string", "unterminated", "'LR");
    invalid('tags.acc = "LR\'', "unterminated", '"LR\'');
    invalid("params.'acc = LR", "unterminated");
    invalid("`metrics.A > 0.1", "unterminated", "`metrics.A > 0.1");
    invalid("params.acc = LR'", "unterminated");
    invalid("metrics.a # 1", "unexpected '#'");
    invalid("metrics.a > 1abc", "unexpected '1abc'");
    invalid("metrics.a > - 1", "unexpected '-'");
  });

  it("rejects comparators not allowed for the entity type", () => {
    invalid("metrics.x LIKE 'a'", "Invalid comparator 'LIKE' not one of '{'=', '!=', '>', '>=', '<', '<='}'");
    invalid("metrics.x IN ('a')", "Invalid comparator 'IN'");
    invalid("metrics.x == 1", "Invalid comparator '=='");
    invalid("metrics.x <> 1", "Invalid comparator '<>'");
    invalid("params.x > 'a'", "Invalid comparator '>' not one of '{'=', '!=', 'LIKE', 'ILIKE'}'");
    invalid("tags.x IN ('a')", "Invalid comparator 'IN'");
    invalid("tags.x NOT IN ('a')", "Invalid comparator 'NOT IN'");
    invalid("attributes.status >= 'x'", "Invalid comparator '>='");
    invalid("attributes.start_time LIKE 1234", "Invalid comparator 'LIKE'");
    invalid("datasets.name > 'x'", "Invalid comparator '>'");
  });

  it("rejects values of the wrong type", () => {
    invalid("metric.model = 'LR'", "Expected numeric value type for metric. Found 'LR'");
    invalid("metrics.acc != metrics.acc", "Expected numeric value type for metric. Found metrics.acc");
    invalid("metrics.acc = NaN", "Expected numeric value type for metric. Found NaN");
    invalid("params.acc = 5", "Expected a quoted string value for parameter (e.g. 'my-value'). Got value 5");
    invalid("tags.acc = 5", "Expected a quoted string value for tag");
    invalid("params.acc = LR", "Parameter value is either not quoted or unidentified quote types used for string value LR");
    invalid("params.acc = `LR`", "not quoted", "`LR`");
    invalid("attribute.status = true", "not quoted", "true");
    invalid("attribute.status = 1", "Expected a quoted string value for attributes. Got value 1");
    invalid("attributes.start_time = 'now'", "Expected numeric value type for numeric attribute: start_time. Found 'now'");
    invalid("datasets.name = 40", "Expected a quoted string value for dataset attributes. Got value 40");
  });

  it("restricts lists to run_id and dataset keys, IN/NOT IN, single-quoted items", () => {
    invalid("status IN ('a')", "Only the 'run_id' attribute supports comparison with a list of quoted string values.");
    invalid("attributes.run_name IN ('foo','bar')", "Only the 'run_id' attribute");
    invalid("run_id = ('a', 'b')", "expects a single quoted string value");
    invalid("run_id IN 'a'", "IN must be followed by a parenthesized list");
    invalid("run_id IN ()", "expected a non-empty list of string values, but got empty list");
    invalid('run_id IN ("a")', "but got different type in list", "'\"a\"'");
    invalid("run_id IN (1, 2)", "but got different type in list", "'1'");
    invalid("run_id IN ('a' 'b')", "ill-formed list", "''b''");
    invalid("run_id IN ('a',)", "ill-formed list", "Trailing ','");
    invalid("run_id IN (,'a')", "ill-formed list");
    invalid("run_id IN ('a'", "ill-formed list", "Missing ')'");
  });

  it("allows IS NULL / IS NOT NULL for tags and params only", () => {
    invalid("metrics.acc IS NULL", "IS NULL / IS NOT NULL is only supported for tags and params", "'metric' 'acc'");
    invalid("attribute.status IS NOT NULL", "IS NULL / IS NOT NULL is only supported for tags and params");
    invalid("datasets.name IS NULL", "only supported for tags and params");
  });

  it("reports errors as InvalidInputError with an unprefixed MLflow message", () => {
    const message = invalid("m.acc >= 1");
    expect(message.startsWith("Invalid entity type")).toBe(true);
  });
});
