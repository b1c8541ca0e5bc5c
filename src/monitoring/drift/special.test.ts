import { describe, expect, it } from "vitest";
import {
  chi2Sf,
  kolmogorovNSf,
  logGamma,
  normalSf,
  normalTwoSidedP,
  regularizedGammaP,
  regularizedGammaQ,
  roundHalfEven,
  smirnovSf,
} from "./special.ts";

/** |actual − expected| ≤ rel·|expected| + abs. */
function expectClose(actual: number, expected: number, rel = 1e-9, abs = 1e-300): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(rel * Math.abs(expected) + abs);
}

describe("logGamma", () => {
  it("matches ln((n−1)!) and ln Γ(1/2) = ln √π", () => {
    let fact = 1;
    for (let n = 1; n <= 20; n++) {
      expectClose(logGamma(n), Math.log(fact), 1e-13, 1e-14);
      fact *= n;
    }
    expectClose(logGamma(0.5), 0.5 * Math.log(Math.PI), 1e-14);
    expectClose(logGamma(0.1), Math.log(9.513507698668732), 1e-13); // Γ(0.1)
  });
});

describe("regularized incomplete gamma", () => {
  it("P(1, x) = 1 − e^{−x} and P + Q = 1", () => {
    for (const x of [1e-6, 0.1, 0.5, 1, 2, 5, 20, 60]) {
      expectClose(regularizedGammaP(1, x), -Math.expm1(-x), 1e-12);
      expectClose(regularizedGammaQ(1, x), Math.exp(-x), 1e-12);
      for (const a of [0.5, 3, 12.5]) expect(regularizedGammaP(a, x) + regularizedGammaQ(a, x)).toBeCloseTo(1, 12);
    }
  });

  it("handles the domain ends", () => {
    expect(regularizedGammaQ(2, 0)).toBe(1);
    expect(regularizedGammaP(2, 0)).toBe(0);
    expect(regularizedGammaQ(2, Number.POSITIVE_INFINITY)).toBe(0);
    expect(() => regularizedGammaQ(0, 1)).toThrow(RangeError);
  });
});

describe("chi2Sf", () => {
  it("hits the textbook critical values", () => {
    // chi2.ppf(0.95, 1) = 3.841458820694124, chi2.ppf(0.95, 2) = 5.991464547107979 = −2 ln 0.05
    expectClose(chi2Sf(3.841458820694124, 1), 0.05, 1e-12);
    expectClose(chi2Sf(-2 * Math.log(0.05), 2), 0.05, 1e-13);
    // the brief's example: chi2.sf(3.84, 1) ≈ 0.05
    expectClose(chi2Sf(3.84, 1), 0.05004352124870519, 1e-10);
  });

  it("equals closed forms: df=2 → e^{−x/2}, df=1 → 2(1 − Φ(√x))", () => {
    for (const x of [0.01, 0.7, 3, 9, 40, 200]) {
      expectClose(chi2Sf(x, 2), Math.exp(-x / 2), 1e-12);
      expectClose(chi2Sf(x, 1), normalTwoSidedP(Math.sqrt(x)), 1e-12);
    }
  });

  it("matches scipy.stats.chi2.sf (scipy 1.17.1)", () => {
    expectClose(chi2Sf(10, 5), 0.07523524614651217, 1e-10);
    expectClose(chi2Sf(100, 50), 3.454931382984871e-5, 1e-10);
    expectClose(chi2Sf(1000, 900), 0.010994608942135844, 1e-9);
    expectClose(chi2Sf(50, 3), 7.989179244951495e-11, 1e-9);
    expect(chi2Sf(0, 3)).toBe(1);
  });
});

describe("normal tails", () => {
  it("2(1 − Φ(1.959964)) = 0.05 and symmetric", () => {
    expectClose(normalTwoSidedP(1.959963984540054), 0.05, 1e-12);
    expect(normalTwoSidedP(0)).toBe(1);
    expect(normalTwoSidedP(-2.5)).toBe(normalTwoSidedP(2.5));
    expectClose(normalTwoSidedP(2.5), 0.012419330651552265, 1e-12);
    expectClose(normalTwoSidedP(8), 1.244192114854348e-15, 1e-10); // no 1 − cdf cancellation
    expectClose(normalSf(-1) + normalSf(1), 1, 1e-15);
  });
});

describe("roundHalfEven", () => {
  it("rounds .5 to the even neighbour like numpy", () => {
    expect(roundHalfEven(2.5)).toBe(2);
    expect(roundHalfEven(3.5)).toBe(4);
    expect(roundHalfEven(5000.5)).toBe(5000);
    expect(roundHalfEven(2.4999)).toBe(2);
    expect(roundHalfEven(2.51)).toBe(3);
  });
});

describe("Kolmogorov–Smirnov distributions", () => {
  it("n = 1 closed forms: P(D⁺ ≥ x) = 1 − x, P(D ≥ x) = 2(1 − x) for x ≥ 1/2", () => {
    for (const x of [0.1, 0.5, 0.7, 0.95]) expectClose(smirnovSf(1, x), 1 - x, 1e-14);
    for (const x of [0.5, 0.7, 0.95]) expectClose(kolmogorovNSf(1, x), 2 * (1 - x), 1e-14);
  });

  it("handles the ends of the support", () => {
    expect(kolmogorovNSf(10, 0)).toBe(1);
    expect(kolmogorovNSf(10, 0.04)).toBe(1); // nx ≤ 1/2: D ≥ 1/(2n) always
    expect(kolmogorovNSf(10, 1)).toBe(0);
    expect(smirnovSf(10, 0)).toBe(1);
    expect(smirnovSf(10, 1)).toBe(0);
  });

  // scipy 1.17.1: stats.kstwo.sf(x, n) and special.smirnov(n, x). The cases go through every
  // branch: Ruben–Gambino, Durbin matrix (small n and large n), 2·smirnov, Pelz–Good.
  const cases: readonly [n: number, x: number, kstwo: number, smirnov: number][] = [
    [5, 0.3, 0.664, 0.34282],
    [20, 0.1, 0.976255094592155, 0.6290710188849629],
    [100, 0.05, 0.9532159710635725, 0.5871453380805337],
    [100, 0.2, 0.0005551927327988775, 0.0002775963664037337],
    [1000, 0.01, 0.9999496745370611, 0.8133237754763678],
    [1000, 0.05, 0.013012074781090332, 0.006506037390545166],
    [5000, 0.02, 0.03613941395325637, 0.01806981293722266],
    [100000, 0.002, 0.8178408363081542, 0.44873073672138813],
    [100000, 0.005, 0.013430824977799608, 0.006715412488899804],
  ];
  it.each(cases)("kstwo.sf / smirnov at n=%i, x=%f match scipy", (n, x, kstwo, smirnov) => {
    expect(Math.abs(kolmogorovNSf(n, x) - kstwo)).toBeLessThan(1e-9);
    expect(Math.abs(smirnovSf(n, x) - smirnov)).toBeLessThan(1e-9);
  });
});
