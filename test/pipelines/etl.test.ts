/**
 * The etl example (examples/pipelines/etl.yaml) on a real server: params, artifacts,
 * fan-out with a parallelism limit, fan-in, a condition, a retry, a finally step and the cache.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/server.ts";
import { applyOk, example, logs, node, phases, startRun, waitRun, type Run } from "./support.ts";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
  await applyOk(s, [example("etl.yaml")]);
});
afterAll(async () => {
  await s?.stop();
});

const ROWS = 500;
const TRANSFORMS = ["transform[0]", "transform[1]", "transform[2]", "transform[3]"];
const CACHEABLE = ["extract", "validate", ...TRANSFORMS, "load", "report"];

/** The largest number of attempts running at the same moment among these nodes. */
function maxOverlap(run: Run, ids: string[]): number {
  const intervals = ids.flatMap((id) => (node(run, id).attempts ?? []).map((a) => [Date.parse(a.startedAt!), Date.parse(a.finishedAt!)] as const));
  expect(intervals.every(([a, b]) => Number.isFinite(a) && Number.isFinite(b) && a <= b), JSON.stringify(intervals)).toBe(true);
  return Math.max(...intervals.map(([start]) => intervals.filter(([a, b]) => a <= start && start < b).length));
}

let first: Run;

describe("examples/pipelines/etl.yaml", () => {
  it("runs to Succeeded: rows flow through the shards into load's total, report runs, flaky succeeds on its retry, notify sees the outcome", async () => {
    const started = await startRun(s, "etl", { params: { rows: ROWS } });
    first = await waitRun(s, started.metadata.name, { timeoutMs: 30_000 });
    expect(first.status.phase, JSON.stringify(phases(first))).toBe("Succeeded");
    expect(first.status.params).toEqual({ rows: ROWS, shards: 4, minRows: 1 });

    expect(node(first, "extract").outputs?.params).toEqual({ count: ROWS });
    expect(node(first, "extract").outputs?.artifacts?.data).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(node(first, "validate").outputs?.params).toEqual({
      ok: true,
      shards: [
        { index: 0, start: 0, end: 125 },
        { index: 1, start: 125, end: 250 },
        { index: 2, start: 250, end: 375 },
        { index: 3, start: 375, end: 500 },
      ],
    });
    // fan-out: 4 iterations, each with its own part
    expect(node(first, "transform").iterations).toBe(4);
    const parts = TRANSFORMS.map((id) => node(first, id).outputs?.artifacts?.part);
    expect(new Set(parts).size).toBe(4);
    expect(TRANSFORMS.map((id) => node(first, id).outputs?.params?.rows)).toEqual([125, 125, 125, 125]);
    // parallelism 2: never more than two transform processes at once
    expect(maxOverlap(first, TRANSFORMS)).toBeLessThanOrEqual(2);
    // fan-in: load read the 4 parts
    expect(node(first, "load").outputs?.params).toEqual({ total: ROWS });

    expect(node(first, "report").phase).toBe("Succeeded");
    expect((await logs(s, first.metadata.name, "?step=report")).body).toContain(`report: ${ROWS} rows loaded`);

    const flaky = node(first, "flaky");
    expect(flaky.phase).toBe("Succeeded");
    expect(flaky.attempts?.map((a) => a.exitCode)).toEqual([1, 0]);
    const flakyLogs = (await logs(s, first.metadata.name, "?step=flaky")).body;
    expect(flakyLogs).toMatch(/simulated transient failure, exiting 1\n(.|\n)*succeeded on a later attempt\n$/);
    // the retry waited for the backoff (0.2 s)
    const [a1, a2] = flaky.attempts!;
    expect(Date.parse(a2!.startedAt!) - Date.parse(a1!.finishedAt!)).toBeGreaterThanOrEqual(150);

    expect(node(first, "notify").phase).toBe("Succeeded");
    expect((await logs(s, first.metadata.name, "?step=notify")).body).toBe(`run ${first.metadata.name} ended Succeeded; failed steps: []\n`);
  });

  it("a second identical run reuses every cacheable step (no process started) with the same outputs", async () => {
    const second = await waitRun(s, (await startRun(s, "etl", { params: { rows: ROWS } })).metadata.name);
    expect(second.status.phase).toBe("Succeeded");
    for (const id of CACHEABLE) {
      const n = node(second, id);
      expect(n.cachedFrom, id).toEqual({ run: first.metadata.name, node: id });
      expect(n.attempts, id).toBeUndefined();
      expect(n.outputs, id).toEqual(node(first, id).outputs);
    }
    // flaky renders {{run.id}} into its script: a new key each run, so it ran (and retried) again
    expect(node(second, "flaky").cachedFrom).toBeUndefined();
    expect(node(second, "flaky").attempts).toHaveLength(2);
    // finally steps are not cached
    expect(node(second, "notify").attempts).toHaveLength(1);
  });

  it("a changed param misses only for the steps it reaches; a false condition skips report and the run still succeeds", async () => {
    // minRows only feeds validate: extract is a hit; validate runs and now says ok=false; its
    // shards did not change, so the transform iterations and load are hits again.
    const run = await waitRun(s, (await startRun(s, "etl", { params: { rows: ROWS, minRows: ROWS + 1 } })).metadata.name);
    expect(run.status.phase, JSON.stringify(phases(run))).toBe("Succeeded");
    expect(node(run, "extract").cachedFrom).toBeDefined();
    expect(node(run, "validate").cachedFrom).toBeUndefined();
    expect(node(run, "validate").attempts).toHaveLength(1);
    expect(node(run, "validate").outputs?.params?.ok).toBe(false);
    for (const id of [...TRANSFORMS, "load"]) expect(node(run, id).cachedFrom, id).toBeDefined();

    const report = node(run, "report");
    expect(report.phase).toBe("Skipped");
    expect(report.reason).toBe("ConditionFalse");
    expect(report.attempts).toBeUndefined();
    expect((await logs(s, run.metadata.name, "?step=notify")).body).toContain("ended Succeeded");

    // and a different row count misses from the first step on
    const more = await waitRun(s, (await startRun(s, "etl", { params: { rows: 40, shards: 2 } })).metadata.name);
    expect(more.status.phase).toBe("Succeeded");
    for (const id of ["extract", "validate", "transform[0]", "transform[1]", "load"]) expect(node(more, id).cachedFrom, id).toBeUndefined();
    expect(node(more, "load").outputs?.params).toEqual({ total: 40 });
  });

  it("rows=0: validate plans no shard, the fan-out has no iteration and succeeds, load gets an empty directory, report is skipped", async () => {
    const run = await waitRun(s, (await startRun(s, "etl", { params: { rows: 0 } })).metadata.name);
    expect(run.status.phase, JSON.stringify(phases(run))).toBe("Succeeded");
    expect(node(run, "validate").outputs?.params).toEqual({ ok: false, shards: [] });
    expect(node(run, "transform")).toMatchObject({ phase: "Succeeded", iterations: 0 });
    expect(node(run, "load").outputs?.params).toEqual({ total: 0 });
    expect((await logs(s, run.metadata.name, "?step=load")).body).toBe("loaded 0 rows from 0 parts\n");
    expect(node(run, "report").phase).toBe("Skipped");
  });

  it("cache: false (forja run --no-cache) executes every step again, with identical results for deterministic steps", async () => {
    const run = await waitRun(s, (await startRun(s, "etl", { params: { rows: ROWS }, cache: false })).metadata.name, { timeoutMs: 30_000 });
    expect(run.status.phase).toBe("Succeeded");
    for (const id of CACHEABLE) {
      expect(node(run, id).cachedFrom, id).toBeUndefined();
      expect(node(run, id).attempts, id).toHaveLength(1);
      expect(node(run, id).outputs, id).toEqual(node(first, id).outputs);
    }
  });
});
