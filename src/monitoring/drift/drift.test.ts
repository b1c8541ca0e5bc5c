import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../platform/errors.ts";
import type { DriftRow, DriftValue } from "./index.ts";
import { columnDrift, datasetDrift, defaultMethod, inferColumnType } from "./index.ts";
import { categorical, mulberry32, normals } from "./test-random.ts";

const SMALL = 500; // reference ≤ 1000 rows → hypothesis tests
const LARGE = 2000; // reference > 1000 rows → distances

const cats = ["a", "b", "c", "d"] as const;
const catWeights = [0.4, 0.3, 0.2, 0.1];
const shiftedCatWeights = [0.2, 0.25, 0.25, 0.3];

describe("column type inference (Evidently _get_column_type)", () => {
  it("floats are numerical; integers with ≤ 5 distinct reference values are categorical", () => {
    expect(inferColumnType([0.5, 1.5, 2.5], [1.5])).toBe("numerical");
    expect(inferColumnType([1, 2, 3, 4, 5, 1], [6, 7, 8])).toBe("categorical"); // 5 distinct in reference
    expect(inferColumnType([1, 2, 3, 4, 5, 6], [1])).toBe("numerical"); // 6 distinct
    expect(inferColumnType([1.5, 2.5], [1.5])).toBe("numerical"); // floats stay numerical
  });

  it("strings, booleans and mixtures are categorical; exactly two values make it binary", () => {
    expect(inferColumnType(["x", "y", "z"], ["x"])).toBe("categorical");
    expect(inferColumnType(["x", "y"], ["x"])).toBe("binary");
    expect(inferColumnType([true, false], [true])).toBe("binary");
    expect(inferColumnType([0, 1, 1], [0])).toBe("binary");
    expect(inferColumnType(["x"], ["x"])).toBe("categorical"); // one value: not binary
    expect(inferColumnType([1.5, "1.5", 2.5], [3.5])).toBe("categorical");
  });
});

describe("default method choice (Evidently _get_default_stattest)", () => {
  it.each([
    ["numerical", 1000, 6, "ks"],
    ["numerical", 1000, 5, "chisquare"],
    ["numerical", 1000, 3, "chisquare"],
    ["numerical", 1000, 2, "z"],
    ["categorical", 1000, 40, "chisquare"],
    ["categorical", 1000, 1, "z"],
    ["binary", 1000, 2, "z"],
    ["numerical", 1001, 6, "wasserstein"],
    ["numerical", 1001, 5, "jensenshannon"],
    ["categorical", 1001, 40, "jensenshannon"],
    ["binary", 1001, 2, "jensenshannon"],
  ] as const)("%s, reference %i rows, %i unique → %s", (type, rows, unique, method) => {
    expect(defaultMethod(type, rows, unique)).toBe(method);
  });
});

describe("columnDrift, reference ≤ 1000 rows", () => {
  it("KS: same distribution → no drift, shifted mean → drift", () => {
    const ref = normals(mulberry32(101), SMALL);
    const same = columnDrift(ref, normals(mulberry32(102), 400), { column: "age" });
    expect(same).toMatchObject({ column: "age", type: "numerical", method: "ks", threshold: 0.05, drifted: false });
    expect(same.pValue).toBeGreaterThan(0.2);
    expect(same.score).toBe(same.pValue);

    const shifted = columnDrift(ref, normals(mulberry32(103), 400, 0.5), { column: "age" });
    expect(shifted).toMatchObject({ method: "ks", drifted: true });
    expect(shifted.pValue).toBeLessThan(1e-6);
  });

  it("χ²: same category mix → no drift, shifted mix → drift", () => {
    const ref = categorical(mulberry32(111), SMALL, cats, catWeights);
    const same = columnDrift(ref, categorical(mulberry32(112), 400, cats, catWeights));
    expect(same).toMatchObject({ type: "categorical", method: "chisquare", threshold: 0.05, drifted: false });
    expect(same.pValue).toBeGreaterThan(0.1);

    const shifted = columnDrift(ref, categorical(mulberry32(113), 400, cats, shiftedCatWeights));
    expect(shifted).toMatchObject({ method: "chisquare", drifted: true });
    expect(shifted.pValue).toBeLessThan(1e-6);
  });

  it("χ² also covers integer columns with few values", () => {
    const ref = categorical(mulberry32(114), SMALL, [1, 2, 3, 4], catWeights);
    const r = columnDrift(ref, categorical(mulberry32(115), 400, [1, 2, 3, 4], shiftedCatWeights));
    expect(r).toMatchObject({ type: "categorical", method: "chisquare", drifted: true });
  });

  it("Z: binary share unchanged → no drift, share moved → drift", () => {
    const ref = categorical(mulberry32(121), SMALL, ["no", "yes"], [0.5, 0.5]);
    const same = columnDrift(ref, categorical(mulberry32(122), 400, ["no", "yes"], [0.5, 0.5]));
    expect(same).toMatchObject({ type: "binary", method: "z", threshold: 0.05, drifted: false });
    expect(same.pValue).toBeGreaterThan(0.2);

    const shifted = columnDrift(ref, categorical(mulberry32(123), 400, ["no", "yes"], [0.3, 0.7]));
    expect(shifted).toMatchObject({ type: "binary", method: "z", drifted: true });
    expect(shifted.pValue).toBeLessThan(1e-6);
  });
});

describe("columnDrift, reference > 1000 rows", () => {
  it("normed Wasserstein: same distribution → below 0.1, shifted mean → drift", () => {
    const ref = normals(mulberry32(201), LARGE);
    const same = columnDrift(ref, normals(mulberry32(202), 1500));
    expect(same).toMatchObject({ type: "numerical", method: "wasserstein", threshold: 0.1, drifted: false });
    expect(same.pValue).toBeUndefined();
    expect(same.statistic).toBeLessThan(0.08);
    expect(same.score).toBe(same.statistic);

    const shifted = columnDrift(ref, normals(mulberry32(203), 1500, 0.5));
    expect(shifted).toMatchObject({ method: "wasserstein", drifted: true });
    expect(shifted.statistic).toBeGreaterThan(0.4); // ≈ shift / σ
  });

  it("Jensen–Shannon: same category mix → below 0.1, shifted mix → drift", () => {
    const ref = categorical(mulberry32(211), LARGE, cats, catWeights);
    const same = columnDrift(ref, categorical(mulberry32(212), 1500, cats, catWeights));
    expect(same).toMatchObject({ type: "categorical", method: "jensenshannon", threshold: 0.1, drifted: false });
    expect(same.statistic).toBeLessThan(0.05);

    const shifted = columnDrift(ref, categorical(mulberry32(213), 1500, cats, shiftedCatWeights));
    expect(shifted).toMatchObject({ method: "jensenshannon", drifted: true });
    expect(shifted.statistic).toBeGreaterThan(0.15);
  });

  it("binary and few-valued numerical columns also use Jensen–Shannon", () => {
    const ref = categorical(mulberry32(221), LARGE, [false, true], [0.5, 0.5]);
    const r = columnDrift(ref, categorical(mulberry32(222), 1500, [false, true], [0.2, 0.8]));
    expect(r).toMatchObject({ type: "binary", method: "jensenshannon", drifted: true });
    const few = categorical(mulberry32(223), LARGE, [0.5, 1.5, 2.5], [1, 1, 1]);
    expect(columnDrift(few, few.slice(0, 900))).toMatchObject({ type: "numerical", method: "jensenshannon" });
  });

  it("the switch happens above 1000 reference rows", () => {
    const ref = normals(mulberry32(231), 1001);
    expect(columnDrift(ref.slice(0, 1000), ref).method).toBe("ks");
    expect(columnDrift(ref, ref.slice(0, 1000)).method).toBe("wasserstein");
  });
});

describe("PSI (explicit choice)", () => {
  it.each([SMALL, LARGE])("numerical, reference %i rows: same → below 0.1, shifted → drift", (n) => {
    const ref = normals(mulberry32(301), n);
    const same = columnDrift(ref, normals(mulberry32(302), n), { method: "psi" });
    expect(same).toMatchObject({ method: "psi", threshold: 0.1, drifted: false });
    expect(same.statistic).toBeLessThan(0.06);
    const shifted = columnDrift(ref, normals(mulberry32(303), n, 0.5), { method: "psi" });
    expect(shifted.drifted).toBe(true);
    expect(shifted.statistic).toBeGreaterThan(0.15);
  });

  it("categorical: same → below 0.1, shifted → drift", () => {
    const ref = categorical(mulberry32(311), LARGE, cats, catWeights);
    expect(columnDrift(ref, categorical(mulberry32(312), 1500, cats, catWeights), { method: "psi" }).drifted).toBe(false);
    const shifted = columnDrift(ref, categorical(mulberry32(313), 1500, cats, shiftedCatWeights), { method: "psi" });
    expect(shifted.drifted).toBe(true);
  });
});

describe("overrides", () => {
  it("method and threshold can be forced per call", () => {
    const ref = normals(mulberry32(401), LARGE);
    const cur = normals(mulberry32(402), 1500, 0.1);
    expect(columnDrift(ref, cur).method).toBe("wasserstein");
    const ks = columnDrift(ref, cur, { method: "ks" });
    expect(ks).toMatchObject({ method: "ks", threshold: 0.05 });
    expect(ks.pValue).toBeDefined();
    const loose = columnDrift(ref, cur, { threshold: 0.5 });
    expect(loose).toMatchObject({ method: "wasserstein", threshold: 0.5, drifted: false });
    const strict = columnDrift(ref, cur, { threshold: 0.01 });
    expect(strict.drifted).toBe(true);
  });

  it("p-value tests drift strictly below the threshold, distances at or above it", () => {
    const ref = normals(mulberry32(403), 300);
    const cur = normals(mulberry32(404), 300, 0.2);
    const r = columnDrift(ref, cur);
    expect(columnDrift(ref, cur, { threshold: r.pValue! }).drifted).toBe(false);
    const w = columnDrift(ref, cur, { method: "wasserstein" });
    expect(columnDrift(ref, cur, { method: "wasserstein", threshold: w.statistic }).drifted).toBe(true);
  });

  it("the column type can be forced", () => {
    const ref = categorical(mulberry32(405), SMALL, [1, 2, 3, 4], catWeights);
    expect(columnDrift(ref, ref, { type: "numerical" })).toMatchObject({ type: "numerical", method: "chisquare" });
    const wide = normals(mulberry32(406), SMALL);
    expect(columnDrift(wide, wide, { type: "categorical" })).toMatchObject({ type: "categorical", method: "chisquare" });
  });

  it("impossible choices are rejected with the column name", () => {
    expect(() => columnDrift(["a", "b"], ["a"], { column: "city", method: "ks" })).toThrow(/column 'city': method 'ks' needs numeric/);
    expect(() => columnDrift(["a", "b", "c"], ["a"], { column: "city", method: "z" })).toThrow(/column 'city'.*at most 2/);
    expect(() => columnDrift([1, 2], [1], { column: "n", method: "nope" as "ks" })).toThrow(/column 'n': unknown drift method/);
    expect(() => columnDrift([1, 2], [1], { column: "n", threshold: -1 })).toThrow(/column 'n': threshold/);
    expect(() => columnDrift(["a"], ["a"], { column: "s", type: "numerical" })).toThrow(/column 's'/);
  });
});

describe("missing values, empty and constant columns", () => {
  it("drops null, undefined, NaN and ±Infinity per side", () => {
    const ref: DriftValue[] = [...normals(mulberry32(501), 100), null, Number.NaN, undefined, Number.POSITIVE_INFINITY];
    const cur: DriftValue[] = [null, ...normals(mulberry32(502), 80), Number.NEGATIVE_INFINITY];
    const r = columnDrift(ref, cur);
    expect(r).toMatchObject({ referenceCount: 100, currentCount: 80, method: "ks" });
    expect(Number.isFinite(r.pValue)).toBe(true);
  });

  it("an empty side is an InvalidInputError naming the column and the side", () => {
    const run = (): unknown => columnDrift([null, Number.NaN], [1, 2], { column: "income" });
    expect(run).toThrow(InvalidInputError);
    expect(run).toThrow(/column 'income'.*reference dataset/);
    expect(() => columnDrift([1], [], { column: "income" })).toThrow(/column 'income'.*current dataset/);
    try {
      run();
    } catch (e) {
      expect((e as InvalidInputError).details).toEqual([{ path: "income", reason: expect.stringContaining("reference") }]);
    }
  });

  it("unsupported cell types are rejected", () => {
    expect(() => columnDrift([{}] as unknown as DriftValue[], [1], { column: "obj" })).toThrow(/column 'obj'.*unsupported/);
  });

  it("constant columns: same constant → no drift, different constants → drift", () => {
    expect(columnDrift([3, 3, 3], [3, 3])).toMatchObject({ type: "categorical", method: "z", pValue: 1, drifted: false });
    const moved = columnDrift(Array<number>(100).fill(1), Array<number>(100).fill(2));
    expect(moved).toMatchObject({ type: "binary", method: "z", drifted: true });
    const bigSame = columnDrift(Array<string>(1500).fill("x"), Array<string>(10).fill("x"));
    expect(bigSame).toMatchObject({ method: "jensenshannon", statistic: 0, drifted: false });
    // Wasserstein on a constant reference uses the 0.001 floor for the std
    const w = columnDrift(Array<number>(1500).fill(2.5), Array<number>(10).fill(2.5), { method: "wasserstein" });
    expect(w).toMatchObject({ statistic: 0, drifted: false });
    const ks = columnDrift(Array<number>(20).fill(2.5), Array<number>(20).fill(2.5), { method: "ks" });
    expect(ks).toMatchObject({ statistic: 0, pValue: 1, drifted: false });
  });
});

/**
 * Rows with `drifting` columns whose current sample is shifted by one standard deviation
 * (KS p ≪ 0.05) and `stable` columns whose current sample is the reference sample itself
 * (D = 0, p = 1), so the number of drifted columns is known exactly.
 */
function rows(drifting: number, stable: number, seed: number): { ref: DriftRow[]; cur: DriftRow[] } {
  const n = 300;
  const ref: Record<string, DriftValue>[] = Array.from({ length: n }, () => ({}));
  const cur: Record<string, DriftValue>[] = Array.from({ length: n }, () => ({}));
  for (let c = 0; c < drifting + stable; c++) {
    const r = normals(mulberry32(seed + 2 * c), n);
    const k = c < drifting ? normals(mulberry32(seed + 2 * c + 1), n, 1) : [...r].reverse();
    for (let i = 0; i < n; i++) {
      ref[i]![`f${c}`] = r[i];
      cur[i]![`f${c}`] = k[i];
    }
  }
  return { ref, cur };
}

describe("datasetDrift", () => {
  it("exactly 50 % of columns drifted → dataset drift", () => {
    const { ref, cur } = rows(2, 2, 600);
    const r = datasetDrift(ref, cur);
    expect(r.columns.map((c) => [c.column, c.drifted])).toEqual([
      ["f0", true],
      ["f1", true],
      ["f2", false],
      ["f3", false],
    ]);
    expect(r).toMatchObject({ columnCount: 4, driftedCount: 2, driftedShare: 0.5, shareThreshold: 0.5, drifted: true });
  });

  it("just under 50 % → no dataset drift", () => {
    const fewer = rows(2, 3, 700);
    expect(datasetDrift(fewer.ref, fewer.cur)).toMatchObject({ driftedCount: 2, driftedShare: 0.4, drifted: false });
    const many = rows(49, 51, 800);
    expect(datasetDrift(many.ref, many.cur)).toMatchObject({ columnCount: 100, driftedCount: 49, drifted: false });
    const half = rows(50, 50, 800);
    expect(datasetDrift(half.ref, half.cur)).toMatchObject({ driftedCount: 50, driftedShare: 0.5, drifted: true });
  });

  it("shareThreshold and the column list can be chosen", () => {
    const { ref, cur } = rows(1, 3, 900);
    expect(datasetDrift(ref, cur).drifted).toBe(false);
    expect(datasetDrift(ref, cur, { shareThreshold: 0.25 }).drifted).toBe(true);
    const only = datasetDrift(ref, cur, { columns: ["f0"] });
    expect(only).toMatchObject({ columnCount: 1, driftedShare: 1, drifted: true });
  });

  it("defaults to the columns present on both sides and mixes column types", () => {
    const rng = mulberry32(1000);
    const ref: DriftRow[] = Array.from({ length: 200 }, (_, i) => ({ x: rng(), city: i % 3 === 0 ? "a" : "b", onlyRef: 1 }));
    const cur: DriftRow[] = Array.from({ length: 150 }, (_, i) => ({ x: rng(), city: i % 3 === 0 ? "a" : "b", onlyCur: 2 }));
    const r = datasetDrift(ref, cur);
    expect(r.columns.map((c) => [c.column, c.type, c.method])).toEqual([
      ["x", "numerical", "ks"],
      ["city", "binary", "z"],
    ]);
  });

  it("per-column, per-type and global overrides apply in that order", () => {
    const { ref, cur } = rows(1, 2, 1100);
    const r = datasetDrift(ref, cur, {
      method: "psi",
      numericalMethod: "wasserstein",
      perColumn: { f2: { method: "ks", threshold: 0.01 } },
    });
    expect(r.columns.map((c) => [c.method, c.threshold])).toEqual([
      ["wasserstein", 0.1],
      ["wasserstein", 0.1],
      ["ks", 0.01],
    ]);
    const global = datasetDrift(ref, cur, { method: "psi", threshold: 0.2 });
    expect(global.columns.every((c) => c.method === "psi" && c.threshold === 0.2)).toBe(true);
  });

  it("errors name the offending column", () => {
    const { ref, cur } = rows(1, 1, 1200);
    expect(() => datasetDrift(ref, cur, { columns: ["f0", "ghost"] })).toThrow(/column 'ghost'.*reference dataset/);
    const blankCurrent = cur.map((row) => ({ ...row, f1: null }));
    expect(() => datasetDrift(ref, blankCurrent)).toThrow(/column 'f1'.*current dataset/);
    expect(() => datasetDrift([{ a: 1 }], [{ b: 1 }])).toThrow(/no columns/);
    expect(() => datasetDrift(ref, cur, { shareThreshold: 2 })).toThrow(/shareThreshold/);
  });
});
