import { describe, expect, it } from "vitest";
import { ks2samp } from "./ks.ts";
import { mulberry32, normals } from "./test-random.ts";

/**
 * Brute force: every way to interleave m values of sample 1 with n of sample 2 is equally likely
 * under H0. Returns, per arrangement, the pair of samples and its D scaled by m·n (an integer).
 */
function* arrangements(m: number, n: number): Generator<{ a: number[]; b: number[]; scaledD: number }> {
  const total = m + n;
  const pick: number[] = [];
  function* rec(start: number): Generator<{ a: number[]; b: number[]; scaledD: number }> {
    if (pick.length === m) {
      const inA = new Set(pick);
      const a: number[] = [];
      const b: number[] = [];
      let i = 0;
      let j = 0;
      let best = 0;
      for (let pos = 0; pos < total; pos++) {
        if (inA.has(pos)) {
          a.push(pos);
          i++;
        } else {
          b.push(pos);
          j++;
        }
        best = Math.max(best, Math.abs(i * n - j * m));
      }
      yield { a, b, scaledD: best };
      return;
    }
    for (let p = start; p <= total - (m - pick.length); p++) {
      pick.push(p);
      yield* rec(p + 1);
      pick.pop();
    }
  }
  yield* rec(0);
}

describe("ks2samp statistic", () => {
  it("is the largest ECDF gap, with ties evaluated after every copy of a value", () => {
    // ECDFs at 1, 2, 3: (2/5, 1/6), (4/5, 3/6), (1, 1) → D = 0.3 (scipy: 0.3, p 0.8961038961038962)
    const r = ks2samp([1, 1, 2, 2, 3], [1, 2, 2, 3, 3, 3]);
    expect(r.statistic).toBeCloseTo(0.3, 15);
    expect(r.pValue).toBeCloseTo(0.8961038961038962, 12);
  });

  it("is 0 with p = 1 for identical samples, and symmetric in its arguments", () => {
    expect(ks2samp([3, 1, 2], [2, 3, 1])).toEqual({ statistic: 0, pValue: 1, mode: "exact" });
    const a = normals(mulberry32(21), 37);
    const b = normals(mulberry32(22), 53, 0.4);
    const ab = ks2samp(a, b);
    const ba = ks2samp(b, a);
    expect(ba.statistic).toBe(ab.statistic);
    expect(ba.pValue).toBeCloseTo(ab.pValue, 14);
  });

  it("rejects empty samples", () => {
    expect(() => ks2samp([], [1])).toThrow(RangeError);
  });
});

describe("ks2samp exact p-values", () => {
  it("hand-derived extreme cases: complete separation", () => {
    // n₁ = n₂ = 3, D = 1: only the 2 orderings "all a before all b" and the reverse out of
    // C(6,3) = 20 reach D = 1 → p = 2/20.
    const equal = ks2samp([1, 2, 3], [4, 5, 6]);
    expect(equal.statistic).toBe(1);
    expect(equal.mode).toBe("exact");
    expect(equal.pValue).toBeCloseTo(0.1, 14);
    // n₁ = 4, n₂ = 3: 2 of C(7,3) = 35 arrangements → p = 2/35 = 0.0571428…
    expect(ks2samp([1, 2, 3, 4], [5, 6, 7]).pValue).toBeCloseTo(2 / 35, 14);
    // n₁ = 5, n₂ = 4, D = 1/2: 71 of C(9,4) = 126 arrangements have D ≥ 1/2 (scipy: 0.5634920634920635)
    const mid = ks2samp([1, 2, 3, 4, 5], [2.5, 3.5, 6, 7]);
    expect(mid.statistic).toBe(0.5);
    expect(mid.pValue).toBeCloseTo(71 / 126, 14);
  });

  // Independent check of both exact algorithms (closed form for n₁ = n₂, lattice walk otherwise):
  // P(D ≥ d) is the share of all C(m+n, m) equally likely arrangements whose D is at least d.
  it.each([
    [5, 4],
    [4, 8],
    [7, 3],
    [6, 6],
    [8, 8],
    [9, 5],
  ])("matches full enumeration of all arrangements for sizes %i and %i", (m, n) => {
    const all = [...arrangements(m, n)];
    const examples = new Map<number, { a: number[]; b: number[] }>();
    for (const arr of all) if (!examples.has(arr.scaledD)) examples.set(arr.scaledD, arr);
    for (const [scaledD, example] of examples) {
      const expected = all.filter((x) => x.scaledD >= scaledD).length / all.length;
      const r = ks2samp(example.a, example.b);
      expect(r.statistic).toBeCloseTo(scaledD / (m * n), 14);
      expect(Math.abs(r.pValue - expected)).toBeLessThan(1e-12);
    }
  });
});

describe("ks2samp against scipy.stats.ks_2samp (scipy 1.17.1, method='auto')", () => {
  // Data from mulberry32 + Box–Muller (test-random.ts); the same arrays were fed to scipy.
  const cases: readonly {
    name: string;
    a: () => number[];
    b: () => number[];
    d: number;
    p: number;
    mode: "exact" | "asymp";
  }[] = [
    {
      name: "40 vs 60, shift 0.5 (exact, unequal sizes)",
      a: () => normals(mulberry32(1), 40),
      b: () => normals(mulberry32(2), 60, 0.5),
      d: 0.35833333333333334,
      p: 0.003290731650430495,
      mode: "exact",
    },
    {
      name: "200 vs 200, shift 0.2 (exact, equal sizes)",
      a: () => normals(mulberry32(3), 200),
      b: () => normals(mulberry32(4), 200, 0.2),
      d: 0.12,
      p: 0.11228360286766195,
      mode: "exact",
    },
    {
      name: "500 vs 700, shift 1 (exact, tiny p)",
      a: () => normals(mulberry32(7), 500),
      b: () => normals(mulberry32(8), 700, 1),
      d: 0.44542857142857145,
      p: 1.3022753588825308e-52,
      mode: "exact",
    },
    {
      name: "800 vs 12000, shift 0.05 (asymptotic: max size > 10000)",
      a: () => normals(mulberry32(5), 800),
      b: () => normals(mulberry32(6), 12000, 0.05),
      d: 0.0375833333333333,
      p: 0.23402835205786654,
      mode: "asymp",
    },
    {
      name: "15000 vs 15000, shift 0.02 (asymptotic, Pelz–Good region)",
      a: () => normals(mulberry32(9), 15000),
      b: () => normals(mulberry32(10), 15000, 0.02),
      d: 0.018000000000000016,
      p: 0.015312897610008178,
      mode: "asymp",
    },
    {
      name: "30 vs 20000, shift 0.3 (asymptotic with n = round(29.96) = 30)",
      a: () => normals(mulberry32(13), 30),
      b: () => normals(mulberry32(14), 20000, 0.3),
      d: 0.24270000000000003,
      p: 0.04851138758612805,
      mode: "asymp",
    },
  ];
  it.each(cases)("$name", ({ a, b, d, p, mode }) => {
    const r = ks2samp(a(), b());
    expect(r.mode).toBe(mode);
    expect(r.statistic).toBeCloseTo(d, 12);
    // well within the required 1e-3; relative 1e-6 also covers the 1e-52 case
    expect(Math.abs(r.pValue - p)).toBeLessThanOrEqual(1e-6 * p + 1e-12);
  });

  it("forced modes: asymptotic stays close to exact for moderate samples", () => {
    const a = normals(mulberry32(1), 40);
    const b = normals(mulberry32(2), 60, 0.5);
    const exact = ks2samp(a, b, { mode: "exact" });
    const asymp = ks2samp(a, b, { mode: "asymp" });
    expect(asymp.mode).toBe("asymp");
    expect(Math.abs(asymp.pValue - exact.pValue)).toBeLessThan(5e-3);
  });
});
