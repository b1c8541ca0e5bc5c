/**
 * Special functions needed by the drift tests, in plain double precision:
 *
 *  - `logGamma`                 ln Γ(x), Lanczos approximation (g = 7, 9 terms), ~1e-15 relative.
 *  - `regularizedGammaP/Q`      P(a,x), Q(a,x): power series for x < a+1, otherwise a continued
 *                               fraction evaluated with the modified Lentz method.
 *  - `chi2Sf`                   χ² survival function, = Q(k/2, x/2)   (scipy.stats.chi2.sf).
 *  - `normalTwoSidedP`          2·(1 − Φ(|z|)) = erfc(|z|/√2) = Q(1/2, z²/2), without the
 *                               cancellation of the `1 - cdf` form.
 *  - `smirnovSf`                exact one-sided KS tail P(D⁺ₙ ≥ x), Birnbaum–Tingey sum
 *                               (scipy.special.smirnov).
 *  - `kolmogorovNSf`            exact two-sided one-sample KS tail P(Dₙ ≥ x)  (scipy.stats.kstwo.sf),
 *                               choosing between Ruben–Gambino closed forms, the Durbin matrix
 *                               (Marsaglia–Tsang–Wang), Pelz–Good and 2·smirnov with the
 *                               decision rules of Simard & L'Ecuyer (2011), as scipy does.
 *
 * Everything here is pure and allocation-light; no dependency.
 */

const EPS = 1e-16;
const TINY = 1e-300;
const MAX_ITER = 10_000;

// Lanczos coefficients for g = 7, n = 9 (Godfrey's published set).
const LANCZOS_G = 7;
const LANCZOS: readonly number[] = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];
const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** ln Γ(x) for x > 0 (reflection for 0 < x < 0.5). */
export function logGamma(x: number): number {
  if (!(x > 0)) throw new RangeError(`logGamma: x must be > 0, got ${x}`);
  if (x < 0.5) {
    // Γ(x)Γ(1−x) = π / sin(πx)
    return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  }
  const z = x - 1;
  let sum = LANCZOS[0] ?? 0;
  for (let i = 1; i < LANCZOS.length; i++) sum += (LANCZOS[i] ?? 0) / (z + i);
  const t = z + LANCZOS_G + 0.5;
  return HALF_LOG_2PI + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** e^{−x} x^a / Γ(a), the common prefactor of the incomplete-gamma expansions. */
function gammaPrefactor(a: number, x: number): number {
  return Math.exp(-x + a * Math.log(x) - logGamma(a));
}

function gammaSeries(a: number, x: number): number {
  // P(a,x) = e^{−x} x^a / Γ(a) · Σ_{n≥0} x^n / (a (a+1) … (a+n))
  let term = 1 / a;
  let sum = term;
  for (let n = 1; n < MAX_ITER; n++) {
    term *= x / (a + n);
    sum += term;
    if (Math.abs(term) < Math.abs(sum) * EPS) break;
  }
  return sum * gammaPrefactor(a, x);
}

function gammaContinuedFraction(a: number, x: number): number {
  // Q(a,x) = e^{−x} x^a / Γ(a) · 1/(x+1−a− 1·(1−a)/(x+3−a− 2·(2−a)/(x+5−a− …)))
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < MAX_ITER; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) break;
  }
  return h * gammaPrefactor(a, x);
}

/** Regularized lower incomplete gamma P(a, x) = γ(a,x)/Γ(a), a > 0, x ≥ 0. */
export function regularizedGammaP(a: number, x: number): number {
  if (!(a > 0)) throw new RangeError(`regularizedGammaP: a must be > 0, got ${a}`);
  if (Number.isNaN(x)) return Number.NaN;
  if (x <= 0) return 0;
  if (x === Number.POSITIVE_INFINITY) return 1;
  return x < a + 1 ? gammaSeries(a, x) : 1 - gammaContinuedFraction(a, x);
}

/** Regularized upper incomplete gamma Q(a, x) = Γ(a,x)/Γ(a) = 1 − P(a,x), a > 0, x ≥ 0. */
export function regularizedGammaQ(a: number, x: number): number {
  if (!(a > 0)) throw new RangeError(`regularizedGammaQ: a must be > 0, got ${a}`);
  if (Number.isNaN(x)) return Number.NaN;
  if (x <= 0) return 1;
  if (x === Number.POSITIVE_INFINITY) return 0;
  return x < a + 1 ? 1 - gammaSeries(a, x) : gammaContinuedFraction(a, x);
}

/** Survival function of the χ² distribution with `dof` > 0 degrees of freedom (scipy `chi2.sf`). */
export function chi2Sf(x: number, dof: number): number {
  if (!(dof > 0)) throw new RangeError(`chi2Sf: dof must be > 0, got ${dof}`);
  if (Number.isNaN(x)) return Number.NaN;
  if (x <= 0) return 1;
  return clamp01(regularizedGammaQ(dof / 2, x / 2));
}

/** Two-sided standard-normal p-value 2·(1 − Φ(|z|)). */
export function normalTwoSidedP(z: number): number {
  if (Number.isNaN(z)) return Number.NaN;
  return clamp01(regularizedGammaQ(0.5, (z * z) / 2));
}

/** Upper tail 1 − Φ(z) of the standard normal. */
export function normalSf(z: number): number {
  const half = 0.5 * normalTwoSidedP(z);
  return z >= 0 ? half : 1 - half;
}

export function clamp01(p: number): number {
  if (Number.isNaN(p)) return p;
  return p < 0 ? 0 : p > 1 ? 1 : p;
}

/** Round half to even, as numpy's `np.round`. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// ---------------------------------------------------------------------------------------------
// Kolmogorov–Smirnov distributions
// ---------------------------------------------------------------------------------------------

/** ln(n! / nⁿ) for n ≥ 1: exact product for small n, Stirling series otherwise. */
function logFactorialOverPower(n: number): number {
  if (n <= 140) {
    let s = 0;
    for (let i = 1; i <= n; i++) s += Math.log(i / n);
    return s;
  }
  const n2 = n * n;
  return 0.5 * Math.log(2 * Math.PI * n) - n + 1 / (12 * n) - 1 / (360 * n * n2) + 1 / (1260 * n2 * n2 * n);
}

/**
 * One-sided one-sample KS survival P(D⁺ₙ ≥ x) (exact, Birnbaum & Tingey 1951):
 *   x · Σ_{j=0}^{⌊n(1−x)⌋} C(n,j) (1 − x − j/n)^{n−j} (x + j/n)^{j−1}.
 * All terms are positive, so the sum is evaluated in log space without cancellation.
 */
export function smirnovSf(n: number, x: number): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`smirnovSf: n must be a positive integer, got ${n}`);
  if (Number.isNaN(x)) return Number.NaN;
  if (x <= 0) return 1;
  if (x >= 1) return 0;
  const nx = n * x;
  const jmax = Math.min(n, Math.floor(n - nx));
  const logs: number[] = [];
  let logC = 0; // ln C(n, j)
  let maxLog = Number.NEGATIVE_INFINITY;
  for (let j = 0; j <= jmax; j++) {
    if (j > 0) logC += Math.log((n - j + 1) / j);
    const lower = (n - j - nx) / n; // 1 − x − j/n, computed with less round-off
    const upper = (nx + j) / n; // x + j/n
    let l: number;
    if (lower <= 0) {
      if (n - j !== 0) continue; // 0^{positive} = 0
      l = logC + (j - 1) * Math.log(upper);
    } else {
      l = logC + (n - j) * Math.log(lower) + (j - 1) * Math.log(upper);
    }
    logs.push(l);
    if (l > maxLog) maxLog = l;
  }
  if (logs.length === 0) return 0;
  let s = 0;
  for (const l of logs) s += Math.exp(l - maxLog);
  return clamp01(x * s * Math.exp(maxLog));
}

const SCALE_EXP = 128;
const SCALE_UP = 2 ** SCALE_EXP;
const SCALE_DOWN = 2 ** -SCALE_EXP;

/**
 * P(Dₙ < d) by the Durbin matrix algorithm as organised by Marsaglia, Tsang & Wang (2003):
 * with k = ⌈nd⌉, h = k − nd and m = 2k − 1, the probability is n!/nⁿ · (Hⁿ)_{k,k} for the
 * m×m matrix H with H_{ij} = 1/(i−j+1)! (0 when i−j+1 < 0), corrected first column and last
 * row. Powers are scaled by 2^±128 and the exponent tracked separately.
 */
function kolmogorovDurbinCdf(n: number, d: number): number {
  const nd = n * d;
  if (d >= 1) return 1;
  if (nd <= 0.5) return 0;
  const k = Math.ceil(nd);
  const h = k - nd;
  const m = 2 * k - 1;
  const invFact: number[] = [1];
  for (let i = 1; i <= m; i++) invFact.push((invFact[i - 1] ?? 0) / i);
  const at = (i: number): number => invFact[i] ?? 0;

  let H: Float64Array = new Float64Array(m * m);
  for (let r = 0; r < m; r++) {
    for (let c = 0; c < m; c++) {
      const e = r - c + 1;
      H[r * m + c] = e >= 0 ? at(e) : 0;
    }
  }
  for (let r = 0; r < m; r++) H[r * m] = (1 - h ** (r + 1)) * at(r + 1); // first column
  for (let c = 0; c < m; c++) H[(m - 1) * m + c] = (1 - h ** (m - c)) * at(m - c); // last row
  H[(m - 1) * m] = (1 - 2 * h ** m + Math.max(0, 2 * h - 1) ** m) * at(m); // corner

  const multiply = (A: Float64Array, B: Float64Array): Float64Array => {
    const C = new Float64Array(m * m);
    for (let i = 0; i < m; i++) {
      for (let l = 0; l < m; l++) {
        const a = A[i * m + l] ?? 0;
        if (a === 0) continue;
        const rowB = l * m;
        const rowC = i * m;
        for (let j = 0; j < m; j++) C[rowC + j] = (C[rowC + j] ?? 0) + a * (B[rowB + j] ?? 0);
      }
    }
    return C;
  };

  let P: Float64Array | undefined; // accumulated power, undefined = identity
  let pExp = 0;
  let hExp = 0;
  let e = n;
  const centre = (k - 1) * m + (k - 1);
  while (e > 0) {
    if (e % 2 === 1) {
      P = P === undefined ? H.slice() : multiply(P, H);
      pExp += hExp;
      if (Math.abs(P[centre] ?? 0) > SCALE_UP) {
        for (let i = 0; i < P.length; i++) P[i] = (P[i] ?? 0) * SCALE_DOWN;
        pExp += SCALE_EXP;
      }
    }
    e = Math.floor(e / 2);
    if (e === 0) break;
    H = multiply(H, H);
    hExp *= 2;
    if (Math.abs(H[centre] ?? 0) > SCALE_UP) {
      for (let i = 0; i < H.length; i++) H[i] = (H[i] ?? 0) * SCALE_DOWN;
      hExp += SCALE_EXP;
    }
  }
  let p = P?.[centre] ?? 1;
  for (let i = 1; i <= n; i++) {
    p = (i * p) / n;
    if (Math.abs(p) < SCALE_DOWN) {
      p *= SCALE_UP;
      pExp -= SCALE_EXP;
    }
  }
  return clamp01(p * 2 ** pExp);
}

/**
 * Pelz–Good (1976) asymptotic series for P(Dₙ ≤ x):
 *   K₀(z) + K₁(z)/√n + K₂(z)/n + K₃(z)/n^{3/2},  z = x√n,
 * with the K_i written as theta-function series that converge fast for small z.
 */
function kolmogorovPelzGoodCdf(n: number, x: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const z = Math.sqrt(n) * x;
  const z2 = z * z;
  const z4 = z2 * z2;
  const z6 = z4 * z2;
  const z8 = z4 * z4;
  const pi2 = Math.PI * Math.PI;
  const pi4 = pi2 * pi2;
  const pi6 = pi4 * pi2;
  const logQ = -pi2 / (8 * z2);
  if (logQ < -708) return 0;
  const sqrt2pi = Math.sqrt(2 * Math.PI);
  const maxK = Math.ceil((16 * z) / Math.PI);

  // Sums over odd m = 2k−1 of polynomial(m²) · exp(−π² m² / (8z²)).
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  for (let k = maxK; k >= 1; k--) {
    const m2 = (2 * k - 1) ** 2;
    const w = Math.exp(logQ * m2);
    if (w === 0) continue;
    s0 += w;
    s1 += (-z2 + (pi2 / 4) * m2) * w;
    s2 += (6 * z6 + 2 * z4 + ((2 * z4 - 5 * z2) * pi2 * m2) / 4 + (pi4 * (1 - 2 * z2) * m2 * m2) / 16) * w;
    s3 +=
      (-30 * z6 -
        90 * z8 +
        (pi2 * (135 * z4 - 96 * z6) * m2) / 4 +
        (pi4 * (-60 * z2 + 212 * z4) * m2 * m2) / 16 +
        (pi6 * (5 - 30 * z2) * m2 * m2 * m2) / 64) *
      w;
  }
  // Extra sums over all k of k² exp(−π² k² / (2z²)) terms in K₂ and K₃.
  let e2 = 0;
  let e3 = 0;
  for (let k = maxK; k >= 1; k--) {
    const k2 = k * k;
    const w = Math.exp((-pi2 * k2) / (2 * z2));
    if (w === 0) continue;
    e2 += k2 * w;
    e3 += (3 * z2 - pi2 * k2) * k2 * w;
  }
  const K0 = (sqrt2pi / z) * s0;
  const K1 = (sqrt2pi / (6 * z4)) * s1;
  const K2 = (sqrt2pi / (72 * z6 * z)) * s2 - ((pi2 * sqrt2pi) / (36 * z2 * z)) * e2;
  const K3 = (sqrt2pi / (6480 * z8 * z2)) * s3 + ((pi2 * sqrt2pi) / (216 * z6)) * e3;
  const sn = Math.sqrt(n);
  return K0 + K1 / sn + K2 / n + K3 / (n * sn);
}

/**
 * Two-sided one-sample KS survival P(Dₙ ≥ x) for sample size n — scipy's `kstwo.sf(x, n)`,
 * which `ks_2samp(method='asymp')` evaluates at n = round(n₁n₂/(n₁+n₂)).
 */
export function kolmogorovNSf(n: number, x: number): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`kolmogorovNSf: n must be a positive integer, got ${n}`);
  if (Number.isNaN(x)) return Number.NaN;
  if (x >= 1) return 0;
  if (x <= 0) return 1;
  const t = n * x;
  if (t <= 1) {
    // Ruben–Gambino: P(Dₙ ≤ x) = n!/nⁿ (2t − 1)ⁿ for 1/(2n) ≤ x ≤ 1/n.
    if (t <= 0.5) return 1;
    const cdf = Math.exp(logFactorialOverPower(n) + n * Math.log(2 * t - 1));
    return clamp01(1 - cdf);
  }
  if (t >= n - 1) return clamp01(2 * (1 - x) ** n); // Ruben–Gambino upper end
  if (x >= 0.5) return clamp01(2 * smirnovSf(n, x)); // D⁺ and D⁻ cannot both exceed 1/2
  const nx2 = t * x;
  if (n <= 140) {
    if (nx2 <= 4) return clamp01(1 - kolmogorovDurbinCdf(n, x));
    return clamp01(2 * smirnovSf(n, x));
  }
  if (nx2 >= 370) return 0;
  if (nx2 >= 2.2) return clamp01(2 * smirnovSf(n, x));
  const cdf = n <= 100_000 && n * x ** 1.5 <= 1.4 ? kolmogorovDurbinCdf(n, x) : kolmogorovPelzGoodCdf(n, x);
  return clamp01(1 - cdf);
}
