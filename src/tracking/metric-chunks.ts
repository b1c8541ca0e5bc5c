/**
 * How metric points are stored (see TrackingStore): staged as one row per log call, then
 * flushed into per-(run, key) chunks of packed points plus one latest point per run and key.
 *
 * Points are packed as little-endian float64 (numbers cost more to print and parse as text than
 * to write and read as doubles): a staged batch has (step, timestamp, value) per point and its
 * keys as a JSON array; a chunk has (step, timestamp, value, seq) per point. NaN is stored as
 * NaN, ±Inf was clamped before staging; steps and timestamps are int64 on the wire but
 * JavaScript numbers here (exact up to 2^53). `seq` orders points with equal (step, timestamp)
 * by arrival: staged batch seq × SEQ_PER_BATCH + index in the batch.
 */
import { CLAMP } from "./validate.ts";

/** A metric point as a log call sends it (already validated). */
export interface MetricPoint {
  readonly key: string;
  readonly value: number;
  readonly timestamp: number;
  readonly step: number;
}

/** A point as read back: NaN is value 0 with is_nan 1 (as in tracking_latest_metrics). */
export interface StoredMetric {
  key: string;
  value: number;
  is_nan: number;
  timestamp: number;
  step: number;
}

/** A staged row of tracking_metric_batches. */
export interface StagedBatch {
  readonly seq: number;
  readonly run_id: string;
  /** JSON array of the points' keys. */
  readonly keys: string;
  /** (step, timestamp, value) per point. */
  readonly points: Uint8Array;
}

/** A row of tracking_metric_chunks. */
export interface ChunkRow {
  readonly run_id: string;
  readonly key: string;
  /** The seq of the chunk's first point (unique per run and key). */
  readonly seq: number;
  readonly points: Buffer;
}

/** A row of tracking_latest_metrics. */
export type LatestRow = StoredMetric & { readonly run_id: string };

/** A batch holds at most MAX_BATCH_METRICS (1000) points. */
export const SEQ_PER_BATCH = 1000;
const STAGED_FIELDS = 3;
const CHUNK_FIELDS = 4;

/** A staged batch's keys and points. */
export function encodeBatch(metrics: readonly MetricPoint[]): { keys: string; points: Buffer } {
  const keys = new Array<string>(metrics.length);
  const points = Buffer.allocUnsafe(metrics.length * STAGED_FIELDS * 8);
  const view = new DataView(points.buffer, points.byteOffset, points.byteLength);
  for (let i = 0; i < metrics.length; i++) {
    const m = metrics[i] as MetricPoint;
    keys[i] = m.key;
    const o = i * STAGED_FIELDS * 8;
    view.setFloat64(o, m.step, true);
    view.setFloat64(o + 8, m.timestamp, true);
    view.setFloat64(o + 16, m.value === Infinity ? CLAMP : m.value === -Infinity ? -CLAMP : m.value, true);
  }
  return { keys: JSON.stringify(keys), points };
}

interface Group {
  readonly run_id: string;
  readonly key: string;
  /** (step, timestamp, value, seq) per point, in arrival order. */
  readonly points: number[];
  /** Offset in `points` of the latest point. */
  latest: number;
}

/**
 * The chunks (one per run and key, points in arrival order) and latest points of staged
 * batches; both sorted by run and key, so that concurrent flushes lock rows in the same order.
 */
export function chunkBatches(batches: readonly StagedBatch[]): { chunks: ChunkRow[]; latest: LatestRow[] } {
  const runs = new Map<string, Map<string, Group>>();
  // A run's batches usually carry the same keys: parse each distinct list once.
  const keyLists = new Map<string, string[]>();
  for (const b of [...batches].sort((x, y) => x.seq - y.seq)) {
    let keys = keyLists.get(b.keys);
    if (!keys) keyLists.set(b.keys, (keys = JSON.parse(b.keys) as string[]));
    const view = new DataView(b.points.buffer, b.points.byteOffset, b.points.byteLength);
    let groups = runs.get(b.run_id);
    if (!groups) runs.set(b.run_id, (groups = new Map<string, Group>()));
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      const o = i * STAGED_FIELDS * 8;
      const step = view.getFloat64(o, true);
      const timestamp = view.getFloat64(o + 8, true);
      const value = view.getFloat64(o + 16, true);
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { run_id: b.run_id, key, points: [], latest: 0 }));
      else if (!atLeastAsNew(g.points, g.latest, step, timestamp, value)) g.latest = g.points.length;
      g.points.push(step, timestamp, value, b.seq * SEQ_PER_BATCH + i);
    }
  }
  const byName = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);
  const sorted = [...runs.keys()].sort(byName).flatMap((run) => {
    const groups = runs.get(run) as Map<string, Group>;
    return [...groups.keys()].sort(byName).map((key) => groups.get(key) as Group);
  });
  return {
    chunks: sorted.map((g) => ({ run_id: g.run_id, key: g.key, seq: g.points[3] as number, points: packPoints(g.points) })),
    latest: sorted.map((g) => {
      const [step, timestamp, value] = g.points.slice(g.latest, g.latest + 3) as [number, number, number];
      const nan = Number.isNaN(value);
      return { run_id: g.run_id, key: g.key, step, timestamp, value: nan ? 0 : value, is_nan: nan ? 1 : 0 };
    }),
  };
}

/**
 * Whether the point at `at` of `points` is at least as new as (step, timestamp, value) by the
 * latest-point order (step, then timestamp, then value; NaN counts as 0, as in NEWER_THAN_LATEST).
 * On a tie the earlier point stays.
 */
function atLeastAsNew(points: readonly number[], at: number, step: number, timestamp: number, value: number): boolean {
  const s = points[at] as number;
  if (s !== step) return s > step;
  const t = points[at + 1] as number;
  if (t !== timestamp) return t > timestamp;
  const v = points[at + 2] as number;
  return (Number.isNaN(v) ? 0 : v) >= (Number.isNaN(value) ? 0 : value);
}

/** (step, timestamp, value, seq) quadruples as a chunk's `points`. */
export function packPoints(values: readonly number[]): Buffer {
  const buf = Buffer.allocUnsafe(values.length * 8);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (let i = 0; i < values.length; i++) view.setFloat64(i * 8, values[i] as number, true);
  return buf;
}

/**
 * The points of one run and key from its chunks, in (step, timestamp, seq) order, restricted to
 * start ≤ step ≤ end when given.
 */
export function historyOf(key: string, chunks: readonly Uint8Array[], start?: number, end?: number): StoredMetric[] {
  let n = 0;
  for (const c of chunks) n += c.byteLength / (8 * CHUNK_FIELDS);
  const step = new Float64Array(n);
  const timestamp = new Float64Array(n);
  const value = new Float64Array(n);
  const seq = new Float64Array(n);
  let i = 0;
  for (const c of chunks) {
    const view = new DataView(c.buffer, c.byteOffset, c.byteLength);
    for (let o = 0; o < c.byteLength; o += 8 * CHUNK_FIELDS, i++) {
      step[i] = view.getFloat64(o, true);
      timestamp[i] = view.getFloat64(o + 8, true);
      value[i] = view.getFloat64(o + 16, true);
      seq[i] = view.getFloat64(o + 24, true);
    }
  }
  const order: number[] = [];
  for (let j = 0; j < n; j++) {
    const s = step[j] as number;
    if ((start === undefined || s >= start) && (end === undefined || s <= end)) order.push(j);
  }
  const before = (a: number, b: number) => (step[a] as number) - (step[b] as number) || (timestamp[a] as number) - (timestamp[b] as number) || (seq[a] as number) - (seq[b] as number);
  // Usually logged in order already: sort only when needed.
  let sorted = true;
  for (let j = 1; j < order.length && sorted; j++) sorted = before(order[j - 1] as number, order[j] as number) <= 0;
  if (!sorted) order.sort(before);
  return order.map((j) => {
    const v = value[j] as number;
    return { key, step: step[j] as number, timestamp: timestamp[j] as number, value: Number.isNaN(v) ? 0 : v, is_nan: Number.isNaN(v) ? 1 : 0 };
  });
}
