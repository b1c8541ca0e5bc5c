/**
 * Test helper: deterministic random samples for the drift tests (never Math.random).
 * mulberry32 is a tiny 32-bit PRNG (Tommy Ettinger); normals come from Box–Muller.
 */

export type Rng = () => number;

/** Uniform [0, 1) generator seeded with a 32-bit integer. */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n draws from N(mean, sd²). */
export function normals(rng: Rng, n: number, mean = 0, sd = 1): number[] {
  const out: number[] = [];
  while (out.length < n) {
    const u1 = 1 - rng(); // (0, 1]
    const u2 = rng();
    const r = Math.sqrt(-2 * Math.log(u1));
    out.push(mean + sd * r * Math.cos(2 * Math.PI * u2));
    if (out.length < n) out.push(mean + sd * r * Math.sin(2 * Math.PI * u2));
  }
  return out;
}

/** n draws from a categorical distribution over `labels` with the given (unnormalised) weights. */
export function categorical<T>(rng: Rng, n: number, labels: readonly T[], weights: readonly number[]): T[] {
  const total = weights.reduce((s, w) => s + w, 0);
  const out: T[] = [];
  for (let i = 0; i < n; i++) {
    let u = rng() * total;
    let k = 0;
    for (; k < labels.length - 1; k++) {
      u -= weights[k] ?? 0;
      if (u < 0) break;
    }
    out.push(labels[k] as T);
  }
  return out;
}
