/**
 * The load-test engine against servers with known behaviour on 127.0.0.1: injected latency,
 * injected errors of each type, spawn-rate ramp, RPS cap, duration and count bounds. Tolerances
 * allow a loaded 2-core machine: latencies can only grow, never shrink, under load.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runLoadTest, type LoadTestProgress } from "../../src/loadtest/index.ts";
import { LatencyHistogram } from "../../src/loadtest/histogram.ts";
import { closedPort, sleeping, tinyServer, type TinyServer } from "./servers.ts";

describe("latency histogram", () => {
  it("percentiles are accurate to well under 1% (µs resolution)", () => {
    const h = new LatencyHistogram();
    // 1 ms … 100 ms in steps of 10 µs: 9,901 values, uniform.
    const values: number[] = [];
    for (let us = 1000; us <= 100_000; us += 10) values.push(us / 1000);
    for (const v of values) h.record(v);
    for (const p of [50, 90, 95, 99]) {
      const exact = values[Math.ceil((p / 100) * values.length) - 1]!;
      expect(Math.abs(h.percentile(p) - exact) / exact).toBeLessThan(0.01);
    }
    expect(h.summary().max).toBe(100);
    expect(h.summary().min).toBe(1);
    expect(h.count).toBe(values.length);
    h.destroy();
  });
});

describe("runLoadTest", () => {
  let slow: TinyServer;
  beforeAll(async () => {
    slow = await sleeping(20);
  });
  afterAll(async () => {
    await slow?.close();
  });

  it("measures a 20 ms server: p50 ≈ 20 ms, RPS ≈ users / latency (Little's law)", async () => {
    const progress: LoadTestProgress[] = [];
    const users = 8;
    const r = await runLoadTest({ url: `${slow.url}/infer`, body: '{"x":1}', users, spawnRate: 1000, durationMs: 2500, progressIntervalMs: 500 }, (p) => progress.push(p));
    expect(r.failures).toBe(0);
    expect(r.requests).toBeGreaterThan(100);
    expect(r.latencyMs.min).toBeGreaterThanOrEqual(19);
    expect(r.latencyMs.p50).toBeGreaterThanOrEqual(19.5);
    expect(r.latencyMs.p50).toBeLessThan(45); // 20 ms plus whatever a loaded machine adds
    expect(r.latencyMs.p90).toBeGreaterThanOrEqual(r.latencyMs.p50);
    expect(r.latencyMs.p99).toBeGreaterThanOrEqual(r.latencyMs.p95);
    expect(r.latencyMs.max).toBeGreaterThanOrEqual(r.latencyMs.p99);
    // Never faster than the server allows; and closed-loop: rps × mean latency ≈ users.
    expect(r.rps).toBeLessThanOrEqual((users / 0.02) * 1.05);
    const littles = (r.rps * r.latencyMs.mean) / 1000;
    expect(littles).toBeGreaterThan(users * 0.75);
    expect(littles).toBeLessThan(users * 1.05);
    expect(r.statusCodes).toEqual({ "200": r.requests });
    expect(r.stoppedBy).toBe("duration");
    expect(r.elapsedMs).toBeGreaterThanOrEqual(2490);
    expect(progress.length).toBeGreaterThanOrEqual(3);
    expect(progress.at(-1)!.requests).toBeLessThanOrEqual(r.requests);
    expect(r.target).toEqual({ method: "POST", url: `${slow.url}/infer`, name: "/infer" });
  });

  it("counts errors by type exactly: HTTP statuses, connection errors, timeouts", async () => {
    const srv = await tinyServer((_req, res, n) => {
      if (n % 10 === 3) res.writeHead(500).end('{"error":"boom"}');
      else if (n % 10 === 7) res.writeHead(404).end('{"error":"no such model"}');
      else if (n % 10 === 9) res.socket?.destroy();
      else res.end("ok");
    });
    try {
      const r = await runLoadTest({ url: `${srv.url}/x`, users: 4, durationMs: 30_000, maxRequests: 200 });
      expect(srv.received()).toBe(200);
      expect(r.stoppedBy).toBe("requests");
      expect(r.requests).toBe(200);
      const byType = Object.fromEntries(r.errors.map((e) => [e.type, e.count]));
      expect(byType).toEqual({ "HTTP 500": 20, "HTTP 404": 20, "connection error": 20 });
      expect(r.errors.find((e) => e.type === "HTTP 500")!.message).toBe("boom");
      expect(r.failures).toBe(60);
      expect(r.successes).toBe(140);
      expect(r.errorRate).toBeCloseTo(0.3, 10);
      expect(r.statusCodes).toEqual({ "200": 140, "500": 20, "404": 20 });
    } finally {
      await srv.close();
    }

    const port = await closedPort();
    const refused = await runLoadTest({ url: `http://127.0.0.1:${port}/`, users: 2, durationMs: 10_000, maxRequests: 10 });
    expect(refused.errors).toEqual([{ type: "connection error", count: 10, message: "ECONNREFUSED" }]);
    expect(refused.successes).toBe(0);

    const hang = await tinyServer(() => undefined); // never answers
    try {
      const t0 = Date.now();
      const r = await runLoadTest({ url: `${hang.url}/`, users: 3, durationMs: 20_000, maxRequests: 6, timeoutMs: 200 });
      expect(r.errors).toEqual([{ type: "timeout", count: 6, message: "no complete answer within 200 ms" }]);
      expect(r.latencyMs.count).toBe(0);
      expect(Date.now() - t0).toBeLessThan(5000);
    } finally {
      await hang.close();
    }
  });

  it("ramps users up at the spawn rate", async () => {
    const progress: LoadTestProgress[] = [];
    const r = await runLoadTest({ url: `${slow.url}/`, users: 4, spawnRate: 2, durationMs: 2600, progressIntervalMs: 200 }, (p) => progress.push(p));
    expect(progress.length).toBeGreaterThan(5);
    // User i starts at i / 2 s: never more users than that, and all 4 by the end.
    for (const p of progress) expect(p.users).toBeLessThanOrEqual(Math.floor((p.elapsedMs / 1000) * 2) + 1);
    expect(progress.some((p) => p.users < 4)).toBe(true);
    expect(Math.max(...progress.map((p) => p.users))).toBe(4);
    expect(r.config.spawnRate).toBe(2);
  });

  it("respects a global RPS cap", async () => {
    const fast = await tinyServer((_req, res) => res.end("ok"));
    try {
      const r = await runLoadTest({ url: `${fast.url}/`, users: 10, rps: 40, durationMs: 2000 });
      // 40/s for 2 s: at most 80 (+1 for the slot at t=0), and not far below it.
      expect(r.requests).toBeLessThanOrEqual(81);
      expect(r.requests).toBeGreaterThanOrEqual(50);
      expect(r.rps).toBeLessThanOrEqual(40.6);
      expect(fast.received()).toBeLessThanOrEqual(81);
    } finally {
      await fast.close();
    }
  });

  it("is bounded by the duration (in-flight requests cancelled) and by the request count", async () => {
    const t0 = performance.now();
    const r = await runLoadTest({ url: `${slow.url}/`, users: 5, durationMs: 700 });
    const wall = performance.now() - t0;
    expect(r.stoppedBy).toBe("duration");
    expect(r.elapsedMs).toBeGreaterThanOrEqual(695);
    expect(wall).toBeLessThan(700 + 1500);
    expect(r.cancelled).toBeLessThanOrEqual(5);

    const before = slow.received();
    const c = await runLoadTest({ url: `${slow.url}/`, users: 5, durationMs: 60_000, maxRequests: 37 });
    expect(c.stoppedBy).toBe("requests");
    expect(c.requests).toBe(37);
    expect(c.cancelled).toBe(0);
    expect(slow.received() - before).toBe(37);
  });

  it("stops on an abort signal and rejects bad options", async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const r = await runLoadTest({ url: `${slow.url}/`, users: 2, durationMs: 60_000, signal: ac.signal });
    expect(r.stoppedBy).toBe("aborted");
    expect(r.elapsedMs).toBeLessThan(5000);
    await expect(runLoadTest({ url: `${slow.url}/`, users: 0, durationMs: 1000 })).rejects.toThrow(/users/);
    await expect(runLoadTest({ url: "ftp://x/", users: 1, durationMs: 1000 })).rejects.toThrow(/http/);
  });
});
