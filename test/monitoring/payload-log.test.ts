/** The payload log's buffer: bounded, drops and counts when full, flushes in batches, rotates to maxRows. */
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterEach, expect, it, vi } from "vitest";
import { monitoringMigrations } from "../../src/monitoring/migrations.ts";
import { PayloadLog } from "../../src/monitoring/payload-log.ts";
import type { InferenceEvent } from "../../src/server/feature.ts";
import { openDatabase, type Database } from "../../src/store/database.ts";
import { coreMigrations, migrate } from "../../src/store/migrations.ts";

let db: Database | undefined;
afterEach(async () => {
  await db?.close();
  db = undefined;
});

async function setup(opts: ConstructorParameters<typeof PayloadLog>[3]) {
  db = openDatabase({ url: "sqlite::memory:" });
  await migrate(db, { ...coreMigrations(), ...monitoringMigrations });
  const metrics = new Registry();
  return { log: new PayloadLog(db, metrics, pino({ level: "silent" }), opts), metrics, db };
}

const event = (rows: number, deployment = "d"): InferenceEvent => ({
  project: "p",
  deployment,
  version: 1,
  inputs: { input: { dims: [rows, 2], type: "float32", data: Float32Array.from({ length: rows * 2 }, (_, i) => i) } },
  outputs: { label: { dims: [rows], type: "int64", data: BigInt64Array.from({ length: rows }, (_, i) => BigInt(i % 3)) } },
});

const count = async (d: Database) => Number((await d.db.selectFrom("monitoring_payloads").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow()).n);

it("a full buffer drops rows and counts them; nothing blocks; flush writes what was kept", async () => {
  const { log, metrics, db: d } = await setup({ bufferRows: 50, flushMs: 60_000 });
  for (let i = 0; i < 30; i++) log.record(event(3));
  expect(log.statsOf("p", "d")).toEqual({ dropped: 40, written: 0, buffered: 50 });
  expect(await metrics.getSingleMetricAsString("forja_payload_log_dropped_rows_total")).toContain('forja_payload_log_dropped_rows_total{project="p",deployment="d"} 40');
  await log.flush();
  expect(log.statsOf("p", "d")).toEqual({ dropped: 40, written: 50, buffered: 0 });
  expect(await count(d)).toBe(50);
  const row = await d.db.selectFrom("monitoring_payloads").selectAll().orderBy("id").executeTakeFirstOrThrow();
  expect(JSON.parse(row.inputs)).toEqual({ input: [0, 1] });
  expect(JSON.parse(row.prediction ?? "null")).toBe(0);
});

it("stays bounded under sustained load: at most maxRows stored, oldest deleted, buffer never above its size", async () => {
  const { log, db: d } = await setup({ bufferRows: 500, flushMs: 5, maxRowsPerRequest: 4 });
  log.setConfig("p", "d", { enabled: true, sampleRate: 1, maxRows: 200, maxRowsPerSecond: 1_000_000 });
  log.start();
  let maxBuffered = 0;
  const until = Date.now() + 400;
  let requests = 0;
  while (Date.now() < until) {
    for (let i = 0; i < 50; i++, requests++) log.record(event(10)); // 10 rows → 4 logged per request
    maxBuffered = Math.max(maxBuffered, log.statsOf("p", "d").buffered);
    await new Promise((r) => setImmediate(r));
  }
  await log.stop();
  const stats = log.statsOf("p", "d");
  expect(maxBuffered).toBeLessThanOrEqual(500);
  expect(stats.written + stats.dropped).toBe(requests * 4);
  expect(await count(d)).toBe(200);
  const ids = (await d.db.selectFrom("monitoring_payloads").select("id").orderBy("id").execute()).map((r) => Number(r.id));
  expect(ids[ids.length - 1]! - ids[0]!).toBe(199);
});

it("sampleRate and enabled are honoured; a deployment's purge removes its rows", async () => {
  const { log, db: d } = await setup({ flushMs: 60_000 });
  log.setConfig("p", "off", { enabled: false, sampleRate: 1, maxRows: 100, maxRowsPerSecond: 1000 });
  log.setConfig("p", "half", { enabled: true, sampleRate: 0.5, maxRows: 10_000, maxRowsPerSecond: 1_000_000 });
  for (let i = 0; i < 2000; i++) {
    log.record(event(1, "off"));
    log.record(event(1, "half"));
  }
  await log.flush();
  expect(log.statsOf("p", "off").written).toBe(0);
  const half = log.statsOf("p", "half").written;
  expect(half).toBeGreaterThan(800);
  expect(half).toBeLessThan(1200);
  await log.purge("p", "half");
  expect(await count(d)).toBe(0);
});

it("logs at most maxRowsPerSecond rows per deployment and second; the rest are sampled out, not dropped", async () => {
  vi.useFakeTimers({ toFake: ["Date"] });
  try {
    const { log } = await setup({ flushMs: 60_000, maxRowsPerRequest: 10 });
    log.setConfig("p", "capped", { enabled: true, sampleRate: 1, maxRows: 10_000, maxRowsPerSecond: 25 });
    vi.setSystemTime(1_000_000);
    for (let i = 0; i < 100; i++) log.record(event(1, "capped"));
    log.record(event(1, "d")); // the default (1,000 rows/s) of another deployment is its own
    expect(log.statsOf("p", "capped")).toEqual({ dropped: 0, written: 0, buffered: 25 });
    expect(log.statsOf("p", "d").buffered).toBe(1);
    vi.setSystemTime(1_000_999);
    log.record(event(1, "capped"));
    expect(log.statsOf("p", "capped").buffered).toBe(25);
    // The next second: a batch of 4 rows, then one that only fits partly (10 rows, cut at 25).
    vi.setSystemTime(1_001_000);
    log.record(event(4, "capped"));
    for (let i = 0; i < 3; i++) log.record(event(10, "capped"));
    expect(log.statsOf("p", "capped").buffered).toBe(50);
    await log.flush();
    expect(log.statsOf("p", "capped")).toEqual({ dropped: 0, written: 50, buffered: 0 });
  } finally {
    vi.useRealTimers();
  }
});
