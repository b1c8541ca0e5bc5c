/**
 * Two-sample Kolmogorov–Smirnov test, two-sided, with the p-value semantics of
 * `scipy.stats.ks_2samp(a, b, method='auto')`:
 *
 *  - statistic D = sup_x |F₁(x) − F₂(x)| over the pooled sample (ties handled by evaluating
 *    both ECDFs after every copy of a value, as scipy's `searchsorted(side='right')`);
 *  - 'auto' picks the exact null distribution when max(n₁, n₂) ≤ 10 000, else the asymptotic one;
 *  - exact, n₁ = n₂ = n: P(D ≥ h/n) = 2 Σ_{k≥1} (−1)^{k−1} C(2n, n−kh) / C(2n, n), evaluated in a
 *    nested (Horner-like) form to limit cancellation;
 *  - exact, n₁ ≠ n₂: probability that a uniformly random monotone lattice path (0,0)→(n₁,n₂)
 *    leaves the band |x/n₁ − y/n₂| < D, accumulated over first exits (scipy ≥ 1.13 likewise
 *    computes the outer probability directly), so nothing overflows and tiny p-values survive;
 *  - asymptotic: the one-sample two-sided distribution `kstwo.sf(D, round(n₁n₂/(n₁+n₂)))`
 *    (rounded half-to-even like numpy).
 *
 * Like scipy, the null distribution assumes a continuous variable (ties are not corrected for).
 */
import { clamp01, kolmogorovNSf, roundHalfEven } from "./special.ts";

/** scipy's MAX_AUTO_N: 'auto' is exact when both samples are at most this large. */
export const KS_MAX_EXACT_N = 10_000;

export interface KsResult {
  /** The KS statistic D ∈ [0, 1]. */
  readonly statistic: number;
  /** Two-sided p-value. */
  readonly pValue: number;
  /** Which null distribution produced the p-value. */
  readonly mode: "exact" | "asymp";
}

export interface KsOptions {
  /** 'auto' (default) as scipy; 'exact' or 'asymp' force one computation. */
  readonly mode?: "auto" | "exact" | "asymp";
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

function sortedCopy(values: readonly number[]): Float64Array {
  const out = Float64Array.from(values);
  out.sort();
  return out;
}

/**
 * max over the pooled sample of |i·n₂ − j·n₁| where i, j are the counts of values ≤ x in each
 * sample; D = that / (n₁n₂). Integer arithmetic keeps the lattice index exact.
 */
function maxScaledEcdfGap(a: Float64Array, b: Float64Array): number {
  const n1 = a.length;
  const n2 = b.length;
  let i = 0;
  let j = 0;
  let best = 0;
  while (i < n1 || j < n2) {
    const va = i < n1 ? (a[i] ?? 0) : Number.POSITIVE_INFINITY;
    const vb = j < n2 ? (b[j] ?? 0) : Number.POSITIVE_INFINITY;
    const v = va <= vb ? va : vb;
    while (i < n1 && a[i] === v) i++;
    while (j < n2 && b[j] === v) j++;
    const gap = Math.abs(i * n2 - j * n1);
    if (gap > best) best = gap;
  }
  return best;
}

/** P(D_{n,n} ≥ h/n) for two samples of equal size n, 1 ≤ h ≤ n. */
function exactEqualSizes(n: number, h: number): number {
  // t_k = C(2n, n−kh) / C(2n, n) = Π_{j<kh} (n−j)/(n+j+1); S = t₁ − t₂ + t₃ − …
  // S = r₁(1 − r₂(1 − r₃(1 − …))) with r_k = t_k / t_{k−1}.
  const kMax = Math.floor(n / h);
  let acc = 0;
  for (let k = kMax; k >= 1; k--) {
    let r = 1;
    for (let j = (k - 1) * h; j < k * h; j++) r *= (n - j) / (n + j + 1);
    acc = r * (1 - acc);
  }
  return clamp01(2 * acc);
}

/** Path probabilities below this are dropped in the unequal-size walk. */
const FLUSH = 1e-300;

/**
 * P(D ≥ h/lcm) for sizes m ≠ n, as the probability that a uniformly random monotone lattice
 * path (0,0)→(m,n) ever leaves the band |x·ng − y·mg| < h (ng = n/g, mg = m/g), i.e.
 * |x/m − y/n| < h/lcm(m,n). The path is walked as a Markov chain (from (x,y) it steps right
 * with probability (m−x)/(m−x+n−y)); q(x,y) is the probability of reaching (x,y) without having
 * left the band, and the p-value is the sum of the probabilities of the first exits. Summing
 * positive exit terms (instead of 1 − P(inside)) keeps tiny p-values accurate.
 */
function exactUnequalSizes(m: number, n: number, g: number, h: number): number {
  const mg = m / g;
  const ng = n / g;
  const inv = new Float64Array(m + n + 1);
  for (let k = 1; k <= m + n; k++) inv[k] = 1 / k;
  // Step probabilities from (x, y): right = (m−x)/(m−x+n−y), up = (n−y)/(m−x+n−y).
  const right = (x: number, y: number): number => (m - x) * (inv[m - x + n - y] ?? 0);
  const up = (x: number, y: number): number => (n - y) * (inv[m - x + n - y] ?? 0);
  const q = new Float64Array(n + 1);
  let pOut = 0;
  // Support of the previous column: q is zero outside [nzLo, nzHi]. Probabilities below FLUSH are
  // dropped (at most ~1e-290 in total), which keeps the walk out of slow denormals and lets the
  // support stay narrow when D is large.
  let nzLo = 0;
  let nzHi = -1;
  for (let x = 0; x <= m; x++) {
    // y with |x·ng − y·mg| < h  ⇔  (x·ng − h)/mg < y < (x·ng + h)/mg
    const lo = Math.max(0, Math.floor((x * ng - h) / mg) + 1);
    const hi = Math.min(n, Math.ceil((x * ng + h) / mg) - 1);
    // Cells of column x−1 whose right step lands outside the band exit here.
    for (let y = nzLo; y <= nzHi; y++) {
      if (y >= lo && y <= hi) continue;
      pOut += (q[y] ?? 0) * right(x - 1, y);
      q[y] = 0;
    }
    if (hi < lo) return clamp01(pOut);
    const prevHi = nzHi;
    let first = -1;
    let last = -1;
    for (let y = Math.max(lo, nzLo); y <= hi; y++) {
      let v: number;
      if (x === 0 && y === 0) v = 1;
      else {
        const fromLeft = x > 0 ? (q[y] ?? 0) * right(x - 1, y) : 0; // q[y] still holds column x−1
        const fromBelow = y > lo ? (q[y - 1] ?? 0) * up(x, y - 1) : 0; // q[y−1] already column x
        v = fromLeft + fromBelow;
        if (v < FLUSH) v = 0;
      }
      q[y] = v;
      if (v !== 0) {
        if (first < 0) first = y;
        last = y;
      } else if (y > prevHi) {
        break; // nothing above: the old column is zero there and nothing flows up
      }
    }
    if (first < 0) return clamp01(pOut); // every path has left the band
    // The up step from the top cell leaves the band.
    if (hi < n && last === hi) pOut += (q[hi] ?? 0) * up(x, hi);
    nzLo = first;
    nzHi = last;
  }
  return clamp01(pOut);
}

function exactPValue(n1: number, n2: number, g: number, h: number): number | undefined {
  if (h === 0) return 1;
  const p = n1 === n2 ? exactEqualSizes(n1, h) : exactUnequalSizes(Math.max(n1, n2), Math.min(n1, n2), g, h);
  return Number.isFinite(p) && p >= -1e-12 && p <= 1 + 1e-12 ? clamp01(p) : undefined;
}

function asymptoticPValue(n1: number, n2: number, d: number): number {
  const en = (n1 * n2) / (n1 + n2);
  return kolmogorovNSf(Math.max(1, roundHalfEven(en)), d);
}

/**
 * Two-sided two-sample KS test. Both samples must be non-empty and contain only finite numbers
 * (callers drop missing values first).
 */
export function ks2samp(reference: readonly number[], current: readonly number[], opts: KsOptions = {}): KsResult {
  const n1 = reference.length;
  const n2 = current.length;
  if (n1 === 0 || n2 === 0) throw new RangeError("ks2samp: both samples must be non-empty");
  const a = sortedCopy(reference);
  const b = sortedCopy(current);
  const g = gcd(n1, n2);
  const gap = maxScaledEcdfGap(a, b); // D·n₁n₂, an integer
  const h = Math.round(gap / g); // D in units of 1/lcm(n₁, n₂); exact integer
  const lcm = (n1 / g) * n2;
  const statistic = h / lcm;

  const requested = opts.mode ?? "auto";
  const mode = requested === "auto" ? (Math.max(n1, n2) <= KS_MAX_EXACT_N ? "exact" : "asymp") : requested;
  if (mode === "exact") {
    const p = exactPValue(n1, n2, g, h);
    if (p !== undefined) return { statistic, pValue: p, mode: "exact" };
  }
  return { statistic, pValue: asymptoticPValue(n1, n2, statistic), mode: "asymp" };
}
