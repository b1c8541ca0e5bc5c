/**
 * The non-KS drift statistics, each following Evidently's implementation (0.4.x,
 * src/evidently/calculations/stattests/*) and the scipy functions it calls:
 *
 *  - χ² (`chisquare_stattest.py`): observed = current category counts, expected = reference
 *    counts × (n_current / n_reference) over the union of categories; scipy `chisquare`
 *    (Σ (o−e)²/e, k−1 degrees of freedom, p = chi2.sf).
 *  - Z (`z_stattest.py`): two-proportion z-test with pooled proportion,
 *    z = (p₁ − p₂)/√(P(1−P)(1/n₁ + 1/n₂)), p = 2(1 − Φ(|z|)); p = 1 when both samples hold the
 *    same single value.
 *  - Wasserstein normed (`wasserstein_distance_norm.py`): scipy `wasserstein_distance` (W₁ between
 *    the empirical distributions) / max(population std of reference, 0.001).
 *  - Jensen–Shannon (`jensenshannon.py`): scipy `spatial.distance.jensenshannon(p, q, base=2)` on the
 *    binned distributions, without zero filling — a distance in [0, 1].
 *  - PSI (`psi.py`): Σ (r − c)·ln(r/c) on the binned distributions with zero filling.
 *  - Binning (`utils.get_binned_data`): numerical columns with more than 20 distinct reference
 *    values → histogram of both samples on numpy's 'sturges' edges of the pooled sample,
 *    otherwise relative frequencies over the union of values. Fractions are of each sample's size.
 *    Zero filling replaces a sample's zero fractions by min(non-zero)/10⁶ if that minimum is
 *    ≤ 0.0001, else by 0.0001.
 */
import { chi2Sf, normalTwoSidedP } from "./special.ts";

/** A non-missing categorical value. Categories compare with SameValueZero (Map semantics). */
export type Category = number | string | boolean;

export interface PValueResult {
  readonly statistic: number;
  readonly pValue: number;
}

function counts(values: readonly Category[]): Map<Category, number> {
  const out = new Map<Category, number>();
  for (const v of values) out.set(v, (out.get(v) ?? 0) + 1);
  return out;
}

/** Distinct values of both samples, reference order first, then new current values. */
function unionKeys(ref: Map<Category, number>, cur: Map<Category, number>): Category[] {
  const keys = [...ref.keys()];
  for (const k of cur.keys()) if (!ref.has(k)) keys.push(k);
  return keys;
}

/** Deterministic order for mixed categories: numbers (ascending), then strings, then booleans. */
export function compareCategories(a: Category, b: Category): number {
  const rank = (v: Category): number => (typeof v === "number" ? 0 : typeof v === "string" ? 1 : 2);
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  if (typeof a === "number" && typeof b === "number") return a - b;
  const sa = String(a);
  const sb = String(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

/**
 * χ² goodness of fit of the current category counts against the reference proportions.
 * A category absent from the reference but present in current gives χ² = ∞, p = 0 (as scipy).
 * With a single category overall there are no degrees of freedom; the p-value is 1.
 */
export function chiSquareTest(reference: readonly Category[], current: readonly Category[]): PValueResult & { dof: number } {
  if (reference.length === 0 || current.length === 0) throw new RangeError("chiSquareTest: empty sample");
  const ref = counts(reference);
  const cur = counts(current);
  const keys = unionKeys(ref, cur);
  const scale = current.length / reference.length;
  let stat = 0;
  for (const k of keys) {
    const expected = (ref.get(k) ?? 0) * scale;
    const observed = cur.get(k) ?? 0;
    if (expected === 0) {
      if (observed > 0) stat = Number.POSITIVE_INFINITY;
      continue;
    }
    stat += (observed - expected) ** 2 / expected;
  }
  const dof = keys.length - 1;
  if (dof <= 0) return { statistic: 0, pValue: 1, dof: 0 };
  return { statistic: stat, pValue: stat === Number.POSITIVE_INFINITY ? 0 : chi2Sf(stat, dof), dof };
}

/**
 * Two-proportion Z-test for a column with at most two categories. The first category in
 * `compareCategories` order is "0", the other "1"; the statistic is z for p_ref − p_cur of "1".
 */
export function zTest(reference: readonly Category[], current: readonly Category[]): PValueResult {
  if (reference.length === 0 || current.length === 0) throw new RangeError("zTest: empty sample");
  const ref = counts(reference);
  const cur = counts(current);
  const keys = unionKeys(ref, cur).sort(compareCategories);
  if (keys.length > 2) throw new RangeError(`zTest: needs at most 2 categories, got ${keys.length}`);
  if (keys.length < 2) return { statistic: 0, pValue: 1 };
  const one = keys[1] as Category;
  const n1 = reference.length;
  const n2 = current.length;
  const p1 = (ref.get(one) ?? 0) / n1;
  const p2 = (cur.get(one) ?? 0) / n2;
  const pooled = (p1 * n1 + p2 * n2) / (n1 + n2);
  const z = (p1 - p2) / Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  return { statistic: z, pValue: normalTwoSidedP(z) };
}

function mean(values: readonly number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}

/** Population standard deviation (numpy `np.std`, ddof = 0), two-pass. */
export function populationStd(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const mu = mean(values);
  let ss = 0;
  for (const v of values) ss += (v - mu) ** 2;
  return Math.sqrt(ss / values.length);
}

/** First Wasserstein distance between two empirical distributions: ∫ |F_u(x) − F_v(x)| dx. */
export function wassersteinDistance(u: readonly number[], v: readonly number[]): number {
  if (u.length === 0 || v.length === 0) throw new RangeError("wassersteinDistance: empty sample");
  const a = Float64Array.from(u).sort();
  const b = Float64Array.from(v).sort();
  const nu = a.length;
  const nv = b.length;
  let i = 0;
  let j = 0;
  let total = 0;
  let prev: number | undefined;
  // Walk the pooled sorted values; between consecutive values both ECDFs are constant.
  while (i < nu || j < nv) {
    const va = i < nu ? (a[i] ?? 0) : Number.POSITIVE_INFINITY;
    const vb = j < nv ? (b[j] ?? 0) : Number.POSITIVE_INFINITY;
    const x = va <= vb ? va : vb;
    if (prev !== undefined) total += Math.abs(i / nu - j / nv) * (x - prev);
    while (i < nu && a[i] === x) i++;
    while (j < nv && b[j] === x) j++;
    prev = x;
  }
  return total;
}

/** Evidently's normed Wasserstein: W₁ / max(std(reference), 0.001). */
export function wassersteinNormed(reference: readonly number[], current: readonly number[]): number {
  const norm = Math.max(populationStd(reference), 0.001);
  return wassersteinDistance(reference, current) / norm;
}

/** Distinct-value count (SameValueZero). */
export function countUnique(values: readonly Category[]): number {
  return new Set(values).size;
}

/**
 * numpy `histogram_bin_edges(x, bins='sturges')`: ⌈range / (range / (log₂ n + 1))⌉ equal bins over
 * [min, max] (±0.5 around a constant sample).
 */
export function sturgesEdges(values: readonly number[]): number[] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const ptp = hi - lo;
  if (ptp === 0) {
    lo -= 0.5;
    hi += 0.5;
  }
  const range = hi - lo;
  const width = ptp / (Math.log2(values.length) + 1);
  const bins = width > 0 ? Math.ceil(range / width) : 1;
  const step = range / bins;
  const edges: number[] = [];
  for (let i = 0; i < bins; i++) edges.push(lo + i * step);
  edges.push(hi);
  return edges;
}

/** numpy `histogram(values, edges)` counts: bins [e_i, e_{i+1}), the last one closed. */
export function histogramCounts(values: readonly number[], edges: readonly number[]): number[] {
  const bins = edges.length - 1;
  const out = new Array<number>(bins).fill(0);
  const first = edges[0] ?? 0;
  const last = edges[bins] ?? 0;
  for (const v of values) {
    if (v < first || v > last) continue;
    let idx: number;
    if (v === last) idx = bins - 1;
    else {
      // largest i with edges[i] <= v
      let lo = 0;
      let hi = bins;
      while (hi - lo > 1) {
        const mid = (lo + hi) >>> 1;
        if ((edges[mid] ?? 0) <= v) lo = mid;
        else hi = mid;
      }
      idx = lo;
    }
    out[idx] = (out[idx] ?? 0) + 1;
  }
  return out;
}

export interface BinnedDistributions {
  readonly reference: number[];
  readonly current: number[];
  /** Bin labels: category values, or `[lo, hi)` edges for histogram bins. */
  readonly bins: readonly (Category | readonly [number, number])[];
}

function fillZeroes(fractions: number[]): number[] {
  let minNonZero = Number.POSITIVE_INFINITY;
  for (const f of fractions) if (f !== 0 && f < minNonZero) minNonZero = f;
  if (minNonZero === Number.POSITIVE_INFINITY) return fractions;
  const fill = minNonZero <= 0.0001 ? minNonZero / 1e6 : 0.0001;
  return fractions.map((f) => (f === 0 ? fill : f));
}

/** Evidently's `get_binned_data`. `numerical` is the column type (not merely "holds numbers"). */
export function binnedDistributions(
  reference: readonly Category[],
  current: readonly Category[],
  numerical: boolean,
  zeroFill: boolean,
): BinnedDistributions {
  if (reference.length === 0 || current.length === 0) throw new RangeError("binnedDistributions: empty sample");
  let ref: number[];
  let cur: number[];
  let bins: (Category | readonly [number, number])[];
  if (numerical && countUnique(reference) > 20) {
    const r = reference as readonly number[];
    const c = current as readonly number[];
    const edges = sturgesEdges([...r, ...c]);
    ref = histogramCounts(r, edges).map((n) => n / r.length);
    cur = histogramCounts(c, edges).map((n) => n / c.length);
    bins = edges.slice(0, -1).map((e, i) => [e, edges[i + 1] ?? e] as const);
  } else {
    const rc = counts(reference);
    const cc = counts(current);
    const keys = unionKeys(rc, cc);
    ref = keys.map((k) => (rc.get(k) ?? 0) / reference.length);
    cur = keys.map((k) => (cc.get(k) ?? 0) / current.length);
    bins = keys;
  }
  if (zeroFill) {
    ref = fillZeroes(ref);
    cur = fillZeroes(cur);
  }
  return { reference: ref, current: cur, bins };
}

/** x·ln(x/y) with scipy `rel_entr` conventions (0 when x = 0, ∞ when y = 0 < x). */
function relEntr(x: number, y: number): number {
  if (x === 0 && y >= 0) return 0;
  if (x > 0 && y > 0) return x * Math.log(x / y);
  return Number.POSITIVE_INFINITY;
}

/** scipy `jensenshannon(p, q, base)`: √(½ KL(p‖m) + ½ KL(q‖m)) / ln(base)-scaled, m = (p+q)/2. */
export function jensenShannonDistance(p: readonly number[], q: readonly number[], base = 2): number {
  if (p.length !== q.length) throw new RangeError("jensenShannonDistance: length mismatch");
  let sp = 0;
  let sq = 0;
  for (let i = 0; i < p.length; i++) {
    sp += p[i] ?? 0;
    sq += q[i] ?? 0;
  }
  let js = 0;
  for (let i = 0; i < p.length; i++) {
    const pi = (p[i] ?? 0) / sp;
    const qi = (q[i] ?? 0) / sq;
    const mi = (pi + qi) / 2;
    js += relEntr(pi, mi) + relEntr(qi, mi);
  }
  js /= Math.log(base);
  return Math.sqrt(Math.max(0, js / 2));
}

/** Population Stability Index Σ (r − c)·ln(r/c) (inputs already zero-filled). */
export function populationStabilityIndex(reference: readonly number[], current: readonly number[]): number {
  if (reference.length !== current.length) throw new RangeError("populationStabilityIndex: length mismatch");
  let psi = 0;
  for (let i = 0; i < reference.length; i++) {
    const r = reference[i] ?? 0;
    const c = current[i] ?? 0;
    psi += (r - c) * Math.log(r / c);
  }
  return psi;
}
