/**
 * Latency histogram: HdrHistogram (hdr-histogram-js) in microseconds, 3 significant digits
 * (values within 0.1%), from 1 µs to 1 hour. Read out in milliseconds.
 */
import { build, type Histogram } from "hdr-histogram-js";

const HIGHEST_US = 3_600_000_000;

export interface LatencySummary {
  /** Number of recorded samples. */
  readonly count: number;
  readonly min: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

export const PERCENTILES = [50, 66, 75, 80, 90, 95, 98, 99, 99.9, 99.99, 100] as const;

export class LatencyHistogram {
  private h: Histogram = LatencyHistogram.create();

  private static create(): Histogram {
    return build({ lowestDiscernibleValue: 1, highestTrackableValue: HIGHEST_US, numberOfSignificantValueDigits: 3, bitBucketSize: 64, useWebAssembly: false });
  }

  /** Records one latency in milliseconds (clamped to [1 µs, 1 h]). */
  record(ms: number): void {
    const us = Math.min(HIGHEST_US, Math.max(1, Math.round(ms * 1000)));
    this.h.recordValue(us);
  }

  get count(): number {
    return this.h.totalCount;
  }

  /** Latency in ms at percentile p (0–100); 0 when empty. */
  percentile(p: number): number {
    if (this.h.totalCount === 0) return 0;
    const max = this.h.maxValue;
    if (p >= 100) return max / 1000;
    // HDR reports a bucket's highest equivalent value: never above the true max.
    return Math.min(this.h.getValueAtPercentile(p), max) / 1000;
  }

  add(other: LatencyHistogram): void {
    this.h.add(other.h);
  }

  reset(): void {
    this.h.reset();
  }

  summary(): LatencySummary {
    const h = this.h;
    if (h.totalCount === 0) return { count: 0, min: 0, mean: 0, p50: 0, p90: 0, p95: 0, p99: 0, max: 0 };
    return {
      count: h.totalCount,
      min: round3(h.minNonZeroValue / 1000),
      mean: round3(h.mean / 1000),
      p50: round3(this.percentile(50)),
      p90: round3(this.percentile(90)),
      p95: round3(this.percentile(95)),
      p99: round3(this.percentile(99)),
      max: round3(h.maxValue / 1000),
    };
  }

  /** Locust's percentile columns (50% … 100%), in ms. */
  percentiles(): Record<string, number> {
    return Object.fromEntries(PERCENTILES.map((p) => [`${p}%`, round3(this.percentile(p))]));
  }

  destroy(): void {
    this.h.destroy();
  }
}

export const round3 = (x: number): number => Math.round(x * 1000) / 1000;
