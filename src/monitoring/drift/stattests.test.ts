import { describe, expect, it } from "vitest";
import {
  binnedDistributions,
  chiSquareTest,
  histogramCounts,
  jensenShannonDistance,
  populationStabilityIndex,
  populationStd,
  sturgesEdges,
  wassersteinDistance,
  wassersteinNormed,
  zTest,
} from "./stattests.ts";
import { mulberry32, normals } from "./test-random.ts";

const rep = <T>(v: T, n: number): T[] => Array.from({ length: n }, () => v);

describe("chiSquareTest (Evidently chi_stat_test → scipy.stats.chisquare)", () => {
  it("scales the reference counts to the current size", () => {
    // ref a×5 b×5, cur a×8 b×3: expected 5.5 each → χ² = 2·2.5²/5.5 = 2.2727…, 1 dof
    const r = chiSquareTest([...rep("a", 5), ...rep("b", 5)], [...rep("a", 8), ...rep("b", 3)]);
    expect(r.statistic).toBeCloseTo(25 / 11, 14);
    expect(r.dof).toBe(1);
    expect(r.pValue).toBeCloseTo(0.13166801602281455, 12); // scipy chisquare([8,3],[5.5,5.5])
  });

  it("gives p = 1 for identical proportions and p = 0 for a category unseen in the reference", () => {
    expect(chiSquareTest(["a", "b", "c"], ["c", "b", "a", "a", "b", "c"]).pValue).toBeCloseTo(1, 14);
    const unseen = chiSquareTest(["a", "b"], ["a", "b", "z"]);
    expect(unseen.statistic).toBe(Number.POSITIVE_INFINITY);
    expect(unseen.pValue).toBe(0);
  });

  it("has no degrees of freedom for a single category (p = 1)", () => {
    expect(chiSquareTest([1, 1], [1, 1, 1])).toEqual({ statistic: 0, pValue: 1, dof: 0 });
  });
});

describe("zTest (Evidently z_stat_test)", () => {
  it("computes the pooled two-proportion z", () => {
    // p_ref = 0.5, p_cur = 0.3, n = 100 each: P = 0.4, z = 0.2/√(0.4·0.6·0.02) = 2.88675…
    const r = zTest([...rep("no", 50), ...rep("yes", 50)], [...rep("no", 70), ...rep("yes", 30)]);
    expect(r.statistic).toBeCloseTo(2.886751345948129, 12);
    expect(r.pValue).toBeCloseTo(0.003892417122778628, 12); // 2·norm.sf(z)
  });

  it("returns p = 1 when both samples are the same single value", () => {
    expect(zTest([true, true], [true])).toEqual({ statistic: 0, pValue: 1 });
  });

  it("refuses more than two categories", () => {
    expect(() => zTest(["a", "b"], ["c"])).toThrow(RangeError);
  });
});

describe("Wasserstein", () => {
  it("matches scipy's documented examples", () => {
    expect(wassersteinDistance([0, 1, 3], [5, 6, 8])).toBeCloseTo(5, 14);
    expect(wassersteinDistance([3.4, 3.9, 7.5, 7.8], [4.5, 1.4])).toBeCloseTo(2.7, 14);
    expect(wassersteinDistance([1, 2, 3], [3, 2, 1])).toBe(0);
  });

  it("normed: divides by the population std of the reference, at least 0.001", () => {
    const ref = [1, 2, 3, 4];
    expect(populationStd(ref)).toBeCloseTo(Math.sqrt(1.25), 15);
    expect(wassersteinNormed(ref, [2, 3, 4, 5])).toBeCloseTo(1 / Math.sqrt(1.25), 14);
    expect(wassersteinNormed([7, 7, 7], [7.001, 7.001])).toBeCloseTo(1, 9); // 0.001 / 0.001
  });

  it("matches scipy.stats.wasserstein_distance on seeded normal samples", () => {
    const u = normals(mulberry32(11), 300);
    const v = normals(mulberry32(12), 500, 0.3, 1.2);
    expect(wassersteinDistance(u, v)).toBeCloseTo(0.3085460460932413, 12);
    expect(wassersteinNormed(u, v)).toBeCloseTo(0.31737009743923594, 12);
  });
});

describe("Jensen–Shannon distance (scipy.spatial.distance.jensenshannon)", () => {
  it("is 1 for disjoint supports in base 2 and 0 for equal distributions", () => {
    expect(jensenShannonDistance([1, 0, 0], [0, 1, 0], 2)).toBeCloseTo(1, 15);
    expect(jensenShannonDistance([0.2, 0.8], [0.2, 0.8], 2)).toBe(0);
  });

  it("matches scipy's values and normalises its inputs", () => {
    expect(jensenShannonDistance([1, 0], [0.5, 0.5], 2)).toBeCloseTo(0.5579230452841438, 14);
    expect(jensenShannonDistance([1, 0], [0.5, 0.5], Math.E)).toBeCloseTo(0.464501404022459, 14);
    expect(jensenShannonDistance([2, 0], [3, 3], 2)).toBeCloseTo(0.5579230452841438, 14);
  });
});

describe("PSI", () => {
  it("hand-computed two-bin value", () => {
    // (0.5−0.25)·ln 2 + (0.5−0.75)·ln(2/3) = 0.25·(ln 2 + ln 1.5)
    expect(populationStabilityIndex([0.5, 0.5], [0.25, 0.75])).toBeCloseTo(0.25 * Math.log(3), 14);
    expect(populationStabilityIndex([0.3, 0.7], [0.3, 0.7])).toBe(0);
  });
});

describe("binnedDistributions (Evidently get_binned_data)", () => {
  it("uses relative frequencies over the union of values for categorical data", () => {
    const b = binnedDistributions(["a", "a", "b", "c"], ["a", "d"], false, false);
    expect(b.bins).toEqual(["a", "b", "c", "d"]);
    expect(b.reference).toEqual([0.5, 0.25, 0.25, 0]);
    expect(b.current).toEqual([0.5, 0, 0, 0.5]);
  });

  it("fills zeros with 0.0001, or min/1e6 when the smallest share is ≤ 0.0001", () => {
    const b = binnedDistributions(["a", "b"], ["a"], false, true);
    expect(b.current).toEqual([1, 0.0001]);
    const many = [...rep("x", 20_000), "y"]; // smallest share 1/20001 < 1e-4
    const c = binnedDistributions(many, ["x", "y", "z"], false, true);
    expect(c.reference[2]).toBeCloseTo(1 / 20_001 / 1e6, 20);
  });

  it("treats numerical columns with ≤ 20 distinct reference values as categories", () => {
    const ref = Array.from({ length: 40 }, (_, i) => i % 20);
    expect(binnedDistributions(ref, [0, 1], true, false).bins).toHaveLength(20);
  });

  it("bins numerical columns with > 20 distinct values on numpy 'sturges' edges of the pooled data", () => {
    const u = normals(mulberry32(11), 300);
    const v = normals(mulberry32(12), 500, 0.3, 1.2);
    const edges = sturgesEdges([...u, ...v]);
    // numpy: ⌈log₂ 800 + 1⌉ = 11 bins from -3.4689587987314128 to 4.44425980860465
    expect(edges).toHaveLength(12);
    expect(edges[0]).toBe(-3.4689587987314128);
    expect(edges[11]).toBe(4.44425980860465);
    const b = binnedDistributions(u, v, true, false);
    const rp = [0, 0.01, 0.07, 0.22333333333333333, 0.2733333333333333, 0.23, 0.13666666666666666, 0.05, 0.006666666666666667, 0, 0];
    const cp = [0.002, 0.014, 0.06, 0.164, 0.216, 0.24, 0.18, 0.08, 0.034, 0.008, 0.002];
    b.reference.forEach((x, i) => expect(x).toBeCloseTo(rp[i]!, 15));
    b.current.forEach((x, i) => expect(x).toBeCloseTo(cp[i]!, 15));
    // scipy jensenshannon(rp, cp, 2) and Evidently's psi on the same data
    expect(jensenShannonDistance(b.reference, b.current, 2)).toBeCloseTo(0.15564897305827943, 12);
    const filled = binnedDistributions(u, v, true, true);
    expect(populationStabilityIndex(filled.reference, filled.current)).toBeCloseTo(0.1517011103732183, 12);
  });

  it("histogram bins are half-open except the last", () => {
    expect(histogramCounts([0, 0.5, 1, 1.5, 2], [0, 1, 2])).toEqual([2, 3]);
    expect(sturgesEdges([5, 5, 5])).toEqual([4.5, 5.5]);
  });
});
