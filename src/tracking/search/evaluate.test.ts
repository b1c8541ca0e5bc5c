import { describe, expect, it } from "vitest";
import type { RunView } from "./index.ts";
import { compareCodePoints, compareRuns, likeToRegExp, matchesRun, parseOrderBy, parseRunFilter } from "./index.ts";

function run(id: string, over: Partial<Omit<RunView, "info">> & { info?: Partial<RunView["info"]> } = {}): RunView {
  return {
    info: {
      run_id: id,
      run_name: `name-${id}`,
      status: "FINISHED",
      start_time: 0,
      end_time: 1,
      artifact_uri: `mlflow-artifacts:/1/${id}/artifacts`,
      lifecycle_stage: "active",
      user_id: "user-id",
      experiment_id: "1",
      ...over.info,
    },
    latestMetrics: over.latestMetrics ?? {},
    params: over.params ?? {},
    tags: over.tags ?? {},
    ...(over.datasets ? { datasets: over.datasets } : {}),
  };
}

function filterIds(runs: readonly RunView[], filter: string): string[] {
  const f = parseRunFilter(filter);
  return runs.filter((r) => matchesRun(f, r)).map((r) => r.info.run_id);
}

function sortIds(runs: readonly RunView[], orderBy: string[] = []): string[] {
  return [...runs].sort(compareRuns(parseOrderBy(orderBy))).map((r) => r.info.run_id);
}

describe("matchesRun", () => {
  // The fixture of MLflow's test_correct_filtering.
  const runs = [
    run("r0", {
      info: { status: "FAILED" },
      latestMetrics: { key1: 121 },
      params: { my_param: "A" },
      datasets: [{ name: "name1", digest: "digest1", context: "train" }],
    }),
    run("r1", {
      latestMetrics: { key1: 123 },
      params: { my_param: "A" },
      tags: { tag1: "C" },
      datasets: [{ name: "name1", digest: "digest1" }],
    }),
    run("r2", {
      info: { status: "FAILED" },
      latestMetrics: { key1: 125 },
      params: { my_param: "B" },
      tags: { tag1: "D" },
      datasets: [{ name: "name2", digest: "digest2" }],
    }),
  ];

  it.each([
    ["", ["r0", "r1", "r2"]],
    ["attributes.status = 'FAILED'", ["r0", "r2"]],
    ["metrics.key1 = 123", ["r1"]],
    ["metrics.key1 != 123", ["r0", "r2"]],
    ["metrics.key1 >= 123", ["r1", "r2"]],
    ["metrics.key1 > 123", ["r2"]],
    ["metrics.key1 <= 123", ["r0", "r1"]],
    ["metrics.key1 < 123", ["r0"]],
    ["params.my_param = 'A'", ["r0", "r1"]],
    ["tags.tag1 = 'D'", ["r2"]],
    ["tags.tag1 != 'D'", ["r1"]],
    ["params.my_param = 'A' AND attributes.status = 'FAILED'", ["r0"]],
    ["datasets.name = 'name1'", ["r0", "r1"]],
    ["datasets.name IN ('name1', 'name2')", ["r0", "r1", "r2"]],
    ["datasets.digest IN ('digest1', 'digest2')", ["r0", "r1", "r2"]],
    ["datasets.name = 'name1' AND datasets.digest = 'digest2'", []],
    ["datasets.context = 'train'", ["r0"]],
    ["datasets.name = 'name1' AND datasets.context = 'train'", ["r0"]],
    ["datasets.name NOT IN ('name1')", ["r2"]],
  ])("%s", (filter, expected) => {
    expect(filterIds(runs, filter)).toEqual(expected);
  });

  it("never matches a run lacking the metric / param / tag, whatever the operator", () => {
    const bare = [run("x")];
    for (const f of [
      "metrics.m = 1",
      "metrics.m != 1",
      "metrics.m < 1",
      "params.p = 'a'",
      "params.p != 'a'",
      "params.p LIKE '%'",
      "tags.t != 'a'",
      "tags.t ILIKE '%'",
      "datasets.name != 'a'",
      "datasets.context LIKE '%'",
      "datasets.name NOT IN ('a')",
    ]) {
      expect(filterIds(bare, f), f).toEqual([]);
    }
  });

  it("treats a null attribute as missing (end_time of a running run)", () => {
    const runs2 = [run("ended", { info: { end_time: 5 } }), run("running", { info: { end_time: null, status: "RUNNING" } })];
    expect(filterIds(runs2, "end_time > 0")).toEqual(["ended"]);
    expect(filterIds(runs2, "end_time != 5")).toEqual([]);
    expect(filterIds([run("n", { info: { run_name: null } })], "run_name != 'x'")).toEqual([]);
  });

  it("implements IS NULL / IS NOT NULL for tags and params", () => {
    const rs = [run("with_tag", { tags: { env: "prod" } }), run("with_param", { params: { lr: "0.01" } })];
    expect(filterIds(rs, "tags.env IS NOT NULL")).toEqual(["with_tag"]);
    expect(filterIds(rs, "tags.env IS NULL")).toEqual(["with_param"]);
    expect(filterIds(rs, "params.lr IS NOT NULL")).toEqual(["with_param"]);
    expect(filterIds(rs, "params.lr IS NULL")).toEqual(["with_tag"]);
  });

  it("does not see Object.prototype members as params or tags", () => {
    expect(filterIds([run("x")], "params.constructor IS NOT NULL")).toEqual([]);
    expect(filterIds([run("x")], "tags.toString LIKE '%'")).toEqual([]);
    expect(filterIds([run("x", { params: { constructor: "c" } })], "params.constructor = 'c'")).toEqual(["x"]);
  });

  it("compares NaN metrics with IEEE semantics: only != matches", () => {
    const rs = [run("nan", { latestMetrics: { m: NaN } })];
    for (const f of ["metrics.m = 0", "metrics.m > -1e308", "metrics.m < 1e308", "metrics.m >= 0", "metrics.m <= 0"]) {
      expect(filterIds(rs, f), f).toEqual([]);
    }
    expect(filterIds(rs, "metrics.m != 0")).toEqual(["nan"]);
  });

  it("compares infinite metrics as numbers", () => {
    const rs = [run("inf", { latestMetrics: { m: Infinity } }), run("ninf", { latestMetrics: { m: -Infinity } })];
    expect(filterIds(rs, "metrics.m > 1e308")).toEqual(["inf"]);
    expect(filterIds(rs, "metrics.m < -1e308")).toEqual(["ninf"]);
    expect(filterIds(rs, "metrics.m = 1e400")).toEqual(["inf"]);
  });

  it("compares numeric attributes numerically", () => {
    const rs = ["a", "b", "c"].map((id, idx) => run(id, { info: { start_time: idx, end_time: idx } }));
    expect(filterIds(rs, "attribute.start_time >= 0")).toEqual(["a", "b", "c"]);
    expect(filterIds(rs, "attribute.start_time > 1")).toEqual(["c"]);
    expect(filterIds(rs, "created = 2")).toEqual(["c"]);
    expect(filterIds(rs, "attribute.end_time < 1.5")).toEqual(["a", "b"]);
  });

  it("filters run_id with IN / NOT IN", () => {
    const rs = [run("a"), run("b"), run("c")];
    expect(filterIds(rs, "run_id IN ('a')")).toEqual(["a"]);
    expect(filterIds(rs, "run_id IN ('a', 'c', 'zzz')")).toEqual(["a", "c"]);
    expect(filterIds(rs, "run_id NOT IN ('a', 'c')")).toEqual(["b"]);
  });

  it("matches the run name attribute and its alias", () => {
    const rs = [run("a", { info: { run_name: "good-run" } }), run("b", { info: { run_name: "bad-run" } })];
    expect(filterIds(rs, "attributes.run_name = 'good-run'")).toEqual(["a"]);
    expect(filterIds(rs, '"run name" LIKE \'%-run\'')).toEqual(["a", "b"]);
  });
});

describe("LIKE / ILIKE", () => {
  const rs = [
    run("a", { tags: { t: "Hello World" } }),
    run("b", { tags: { t: "hello" } }),
    run("c", { tags: { t: "C+W (beta) [x] $1.5 a|b ^z" } }),
    run("d", { tags: { t: "line1\nline2" } }),
    run("e", { tags: { t: "50% off" } }),
    run("f", { tags: { t: "日本語" } }),
  ];

  it.each([
    ["tags.t = 'hello'", ["b"]],
    ["tags.t = 'Hello'", []],
    ["tags.t LIKE 'hello'", ["b"]],
    ["tags.t LIKE 'Hello%'", ["a"]],
    ["tags.t LIKE 'hello%'", ["b"]],
    ["tags.t ILIKE 'hello%'", ["a", "b"]],
    ["tags.t ILIKE 'HELLO'", ["b"]],
    ["tags.t LIKE '%World'", ["a"]],
    ["tags.t LIKE '%o W%'", ["a"]],
    ["tags.t LIKE 'h_llo'", ["b"]],
    ["tags.t LIKE 'h_lo'", []],
    ["tags.t LIKE '_____'", ["b"]],
    ["tags.t LIKE '___'", ["f"]],
    ["tags.t LIKE '%'", ["a", "b", "c", "d", "e", "f"]],
    ["tags.t LIKE 'C+W%'", ["c"]],
    ["tags.t LIKE 'C.W%'", []],
    ["tags.t LIKE '%(beta) [x] $1.5 a|b ^z'", ["c"]],
    ["tags.t LIKE '%$1_5%'", ["c"]],
    ["tags.t LIKE 'line1%line2'", ["d"]],
    ["tags.t LIKE 'line1_line2'", ["d"]],
    ["tags.t LIKE '50% off'", ["e"]],
    ["tags.t LIKE '50%'", ["e"]],
    ["tags.t LIKE '.*'", []],
  ])("%s", (filter, expected) => {
    expect(filterIds(rs, filter)).toEqual(expected);
  });

  it("builds anchored regular expressions with literal metacharacters", () => {
    expect(likeToRegExp("a.b", false).test("a.b")).toBe(true);
    expect(likeToRegExp("a.b", false).test("axb")).toBe(false);
    expect(likeToRegExp("x", false).test("xx")).toBe(false);
    expect(likeToRegExp("[a-z]+", false).test("[a-z]+")).toBe(true);
    expect(likeToRegExp("a\\%", false).test("a\\anything")).toBe(true); // no escape character
    expect(likeToRegExp("ABC", true).test("abc")).toBe(true);
  });
});

describe("compareRuns", () => {
  // The fixture of MLflow's test_correct_sorting.
  const r0 = run("9", { info: { status: "FAILED", start_time: 0 }, latestMetrics: { key1: 121 }, params: { my_param: "A" } });
  const r1 = run("8", {
    info: { status: "FINISHED", start_time: 1 },
    latestMetrics: { key1: 123 },
    params: { my_param: "A" },
    tags: { tag1: "C" },
  });
  const r2 = run("7", {
    info: { status: "FAILED", start_time: 1 },
    latestMetrics: { key1: 125 },
    params: { my_param: "B" },
    tags: { tag1: "D" },
  });
  const runs = [r0, r1, r2];
  const idx = (ids: string[]): number[] => ids.map((id) => runs.findIndex((r) => r.info.run_id === id));

  it.each([
    [[], [2, 1, 0]],
    [["tags.noSuchTag"], [2, 1, 0]],
    [["attributes.status"], [2, 0, 1]],
    [["attributes.start_time"], [0, 2, 1]],
    [["metrics.key1 asc"], [0, 1, 2]],
    [['metrics."key1"  desc'], [2, 1, 0]],
    [["params.my_param"], [1, 0, 2]],
    [["params.my_param aSc", "attributes.status  ASC"], [0, 1, 2]],
    [["params.my_param", "attributes.status DESC"], [1, 0, 2]],
    [["params.my_param DESC", "attributes.status   DESC"], [2, 1, 0]],
    [["params.`my_param` DESC", "attributes.status DESC"], [2, 1, 0]],
    [["tags.tag1"], [1, 2, 0]],
    [["tags.tag1    DESC"], [2, 1, 0]],
  ])("order_by %j", (orderBy, expected) => {
    expect(idx(sortIds(runs, orderBy))).toEqual(expected);
  });

  it("sorts NaN after every number and missing values last, in both directions", () => {
    const vals: Array<[string, number | undefined]> = [
      ["nan", NaN],
      ["inf", Infinity],
      ["-inf", -Infinity],
      ["-1000", -1000],
      ["0", 0],
      ["1000", 1000],
      ["None", undefined],
    ];
    const rs = vals.map(([id, v]) => run(id, { latestMetrics: v === undefined ? {} : { x: v } }));
    expect(sortIds(rs, ["metrics.x asc"])).toEqual(["-inf", "-1000", "0", "1000", "inf", "nan", "None"]);
    expect(sortIds(rs, ["metrics.x desc"])).toEqual(["inf", "1000", "0", "-1000", "-inf", "nan", "None"]);
  });

  it("puts missing params, tags and null attributes last in both directions", () => {
    const rs = [
      run("a", { params: { p: "x" }, info: { end_time: 5 } }),
      run("b", { info: { end_time: null } }),
      run("c", { params: { p: "y" }, info: { end_time: 9 } }),
    ];
    expect(sortIds(rs, ["params.p ASC"])).toEqual(["a", "c", "b"]);
    expect(sortIds(rs, ["params.p DESC"])).toEqual(["c", "a", "b"]);
    expect(sortIds(rs, ["attributes.end_time"])).toEqual(["a", "c", "b"]);
    expect(sortIds(rs, ["end_time DESC"])).toEqual(["c", "a", "b"]);
  });

  it("breaks ties by start_time DESC then run_id ASC (default order)", () => {
    const rs = [
      run("b", { info: { start_time: 5 } }),
      run("a", { info: { start_time: 5 } }),
      run("c", { info: { start_time: 9 } }),
      run("d", { info: { start_time: 1 } }),
    ];
    expect(sortIds(rs)).toEqual(["c", "a", "b", "d"]);
    // Ties on the metric fall back to start_time DESC, run_id ASC.
    const withMetric = rs.map((r) => ({ ...r, latestMetrics: { m: 1 } }));
    expect(sortIds(withMetric, ["metrics.m DESC"])).toEqual(["c", "a", "b", "d"]);
  });

  it("does not add start_time DESC when start_time is ordered explicitly", () => {
    const rs = [run("b", { info: { start_time: 5 } }), run("a", { info: { start_time: 5 } }), run("c", { info: { start_time: 1 } })];
    expect(sortIds(rs, ["attributes.start_time ASC"])).toEqual(["c", "a", "b"]);
    expect(sortIds(rs, ["created DESC"])).toEqual(["a", "b", "c"]);
  });

  it("orders params as strings (lexicographic), metrics as numbers", () => {
    const rs = [
      run("a", { params: { p: "10" }, latestMetrics: { m: 10 } }),
      run("b", { params: { p: "9" }, latestMetrics: { m: 9 } }),
      run("c", { params: { p: "100" }, latestMetrics: { m: 100 } }),
    ];
    expect(sortIds(rs, ["params.p"])).toEqual(["a", "c", "b"]);
    expect(sortIds(rs, ["metrics.m"])).toEqual(["b", "a", "c"]);
  });

  it("applies later clauses only to ties of earlier ones", () => {
    const rs = [
      run("a", { params: { g: "1" }, latestMetrics: { m: 3 } }),
      run("b", { params: { g: "2" }, latestMetrics: { m: 1 } }),
      run("c", { params: { g: "1" }, latestMetrics: { m: 2 } }),
      run("d", { params: { g: "2" }, latestMetrics: { m: 5 } }),
    ];
    expect(sortIds(rs, ["params.g ASC", "metrics.m DESC"])).toEqual(["a", "c", "d", "b"]);
  });

  it("is a total, deterministic order: any input permutation sorts the same", () => {
    const rs = Array.from({ length: 30 }, (_, i) =>
      run(`r${String(i).padStart(2, "0")}`, {
        info: { start_time: i % 3 },
        latestMetrics: i % 5 === 0 ? {} : i % 7 === 0 ? { m: NaN } : { m: i % 4 },
      }),
    );
    const expected = sortIds(rs, ["metrics.m DESC"]);
    for (let seed = 1; seed <= 5; seed++) {
      const shuffled = [...rs].sort((x, y) => ((x.info.run_id.charCodeAt(2) * seed) % 11) - ((y.info.run_id.charCodeAt(2) * seed) % 11));
      expect(sortIds(shuffled, ["metrics.m DESC"])).toEqual(expected);
    }
    const cmp = compareRuns(parseOrderBy(["metrics.m DESC"]));
    for (const a of rs) {
      expect(cmp(a, a)).toBe(0);
      for (const b of rs) if (a !== b) expect(Math.sign(cmp(a, b))).toBe(-Math.sign(cmp(b, a)));
    }
  });

  it("keeps the input order of entries that compare equal (stable sort)", () => {
    const a1 = run("same", { params: { p: "1" } });
    const a2 = run("same", { params: { p: "1" } });
    const sorted = [a1, a2].sort(compareRuns(parseOrderBy(["params.p"])));
    expect(sorted[0]).toBe(a1);
    expect(sorted[1]).toBe(a2);
  });
});

describe("compareCodePoints", () => {
  it("orders by code point (UTF-8 byte order), not UTF-16 code unit", () => {
    expect(compareCodePoints("a", "b")).toBeLessThan(0);
    expect(compareCodePoints("B", "a")).toBeLessThan(0);
    expect(compareCodePoints("ab", "a")).toBeGreaterThan(0);
    expect(compareCodePoints("x", "x")).toBe(0);
    // U+FF5E (BMP, high) < U+1F600 (astral); plain `<` says the opposite.
    expect("\u{1F600}" < "\uFF5E").toBe(true);
    expect(compareCodePoints("\u{1F600}", "\uFF5E")).toBeGreaterThan(0);
  });
});
