import { describe, expect, it } from "vitest";
import { coerceString, parseParamValue, formatParamValue, resolveParams, validatePipeline } from "./index.ts";
import { issuesOf } from "./test-helpers.ts";

const pipeline = validatePipeline({
  params: {
    rows: { type: "integer", default: 1000 },
    ratio: { type: "number", default: 0.5 },
    mode: { type: "string", enum: ["fast", "full"] },
    dry: { type: "boolean", default: false },
    shards: { type: "array", default: [1, 2, 3] },
    cfg: { type: "object", default: { a: 1 } },
    level: { type: "integer", enum: [1, 2, 3], default: 1 },
  },
  steps: [{ name: "a", command: ["x"] }],
});

describe("resolveParams", () => {
  it("applies defaults and coerces CLI strings by type", () => {
    expect(
      resolveParams(pipeline, { rows: "5000", ratio: "1e-3", mode: "full", dry: "true", shards: '["a","b"]', cfg: '{"b":[1]}', level: "3" }),
    ).toEqual({ rows: 5000, ratio: 0.001, mode: "full", dry: true, shards: ["a", "b"], cfg: { b: [1] }, level: 3 });
    expect(resolveParams(pipeline, { mode: "fast" })).toEqual({ rows: 1000, ratio: 0.5, mode: "fast", dry: false, shards: [1, 2, 3], cfg: { a: 1 }, level: 1 });
  });

  it("accepts typed JSON values (API) and checks them", () => {
    expect(resolveParams(pipeline, { mode: "fast", rows: 7, ratio: 2, dry: true, shards: [] })).toMatchObject({ rows: 7, ratio: 2, dry: true, shards: [] });
    expect(issuesOf(() => resolveParams(pipeline, { mode: "fast", rows: 7.5, dry: 1, shards: { a: 1 }, cfg: [] }))).toEqual([
      "params.rows: must be an integer, got number 7.5",
      "params.dry: must be a boolean, got integer 1",
      'params.shards: must be an array, got object {"a":1}',
      "params.cfg: must be an object, got array []",
    ]);
  });

  it("reports every problem: required, unknown, bad strings, enum", () => {
    expect(
      issuesOf(() => resolveParams(pipeline, { rowz: "1", rows: "12.5", ratio: "abc", dry: "yes", shards: "1,2", cfg: "[1]", level: "4" })),
    ).toEqual([
      'params.rowz: unknown parameter (did you mean "rows"?)',
      'params.rows: must be an integer, got "12.5"',
      'params.ratio: must be a number, got "abc"',
      "params.mode: required: the parameter has no default (type string)",
      'params.dry: must be true or false, got "yes"',
      'params.shards: must be an array in JSON, e.g. [1,2]; got "1,2"',
      'params.cfg: must be an object in JSON, got "[1]"',
      "params.level: 4 is not one of 1, 2, 3",
    ]);
    expect(issuesOf(() => resolveParams(pipeline, { mode: "slow" }))).toEqual(['params.mode: "slow" is not one of "fast", "full"']);
  });

  it("does not share default objects between runs", () => {
    const a = resolveParams(pipeline, { mode: "fast" });
    (a.shards as number[]).push(4);
    expect(resolveParams(pipeline, { mode: "fast" }).shards).toEqual([1, 2, 3]);
  });
});

describe("value text forms", () => {
  it("coerceString edge cases", () => {
    expect(coerceString(" 42 ", "integer")).toEqual({ value: 42 });
    expect(coerceString("-7", "integer")).toEqual({ value: -7 });
    expect(coerceString("99999999999999999999", "integer")).toEqual({ error: 'integer out of range: "99999999999999999999"' });
    expect(coerceString("", "number")).toEqual({ error: 'must be a number, got ""' });
    expect(coerceString("Infinity", "number")).toEqual({ error: 'must be a number, got "Infinity"' });
    expect(coerceString("TRUE", "boolean")).toEqual({ error: 'must be true or false, got "TRUE"' });
    expect(coerceString(" x ", "string")).toEqual({ value: " x " });
  });

  it("output files: one trailing newline dropped for strings, others trimmed", () => {
    expect(parseParamValue("ok\n", "string")).toEqual({ value: "ok" });
    expect(parseParamValue("a\n\n", "string")).toEqual({ value: "a\n" });
    expect(parseParamValue("5\n", "integer")).toEqual({ value: 5 });
    expect(parseParamValue("[1, 2]\n", "array")).toEqual({ value: [1, 2] });
  });

  it("input files/env: strings as is, others JSON", () => {
    expect(formatParamValue("a b")).toBe("a b");
    expect(formatParamValue(5)).toBe("5");
    expect(formatParamValue(true)).toBe("true");
    expect(formatParamValue([1, "x"])).toBe('[1,"x"]');
    expect(formatParamValue({ a: 1 })).toBe('{"a":1}');
  });
});
