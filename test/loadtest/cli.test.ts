/**
 * `forja loadtest` and `forja top` through the CLI's main(): thresholds and exit codes,
 * --json/--csv shapes, and against a real Forja server with a deployment (OIP URL and input
 * example from the model metadata, the CLI's token; top --once shows its figures).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.ts";
import { runLoadTest } from "../../src/loadtest/index.ts";
import { parseThresholds } from "../../src/loadtest/thresholds.ts";
import { parseDuration } from "../../src/loadtest/report.ts";
import { deploy, irisOnnx, publishModel, readyWith, waitFor } from "../serving/support.ts";
import { startTestServer, type TestServer } from "../support/server.ts";
import { sleeping, tinyServer, type TinyServer } from "./servers.ts";

const dir = mkdtempSync(join(tmpdir(), "forja-loadtest-cli-"));
const baseEnv = { FORJA_CONFIG: join(dir, "none.yaml"), PATH: process.env.PATH ?? "" };

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(["node", "forja", ...args], { out: (t) => out.push(t), err: (t) => err.push(t), isTTY: false }, { ...baseEnv, ...env });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("thresholds and durations", () => {
  it("parses --fail-on clauses and rejects bad ones", () => {
    expect(parseThresholds("p95>50ms, errors>1%,rps<100,max>=2s,errors>0")).toEqual([
      { source: "p95>50ms", metric: "p95", op: ">", value: 50, unit: "ms" },
      { source: "errors>1%", metric: "errors", op: ">", value: 0.01, unit: "%" },
      { source: "rps<100", metric: "rps", op: "<", value: 100, unit: "rps" },
      { source: "max>=2s", metric: "max", op: ">=", value: 2000, unit: "ms" },
      { source: "errors>0", metric: "errors", op: ">", value: 0, unit: "count" },
    ]);
    expect(() => parseThresholds("p95>50")).toThrow(/needs a unit/);
    expect(() => parseThresholds("p42>1ms")).toThrow(/is not a threshold/);
    expect(() => parseThresholds("rps<10ms")).toThrow(/plain number/);
    expect(() => parseThresholds("errors>150%")).toThrow(/above 100%/);
    expect(() => parseThresholds(" , ")).toThrow(/no threshold/);
  });
  it("parses durations", () => {
    expect(parseDuration("30s")).toBe(30_000);
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("1m30s")).toBe(90_000);
    expect(parseDuration("2")).toBe(2000);
    expect(parseDuration("2x")).toBeUndefined();
    expect(parseDuration("")).toBeUndefined();
  });
});

describe("forja loadtest <URL>", () => {
  let srv: TinyServer;
  beforeAll(async () => {
    srv = await sleeping(5);
  });
  afterAll(async () => {
    await srv?.close();
  });

  it("thresholds that hold → exit 0; --json has the report and the thresholds", async () => {
    const payload = join(dir, "p.json");
    writeFileSync(payload, '{"inputs":[]}');
    const r = await cli(["loadtest", `${srv.url}/infer`, "-u", "3", "-d", "1s", "--payload", payload, "--json", "--fail-on", "p50>5s,errors>1%"]);
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.target).toEqual({ method: "POST", url: `${srv.url}/infer`, name: "/infer" });
    expect(j.requests).toBeGreaterThan(10);
    expect(j.failures).toBe(0);
    expect(Object.keys(j.latencyMs).sort()).toEqual(["count", "max", "mean", "min", "p50", "p90", "p95", "p99"].sort());
    expect(j.latencyMs.p50).toBeGreaterThanOrEqual(4.5);
    expect(j.thresholds).toEqual([
      { threshold: "p50>5s", actual: expect.stringMatching(/ ms$/), violated: false },
      { threshold: "errors>1%", actual: `0.00% (0/${j.requests})`, violated: false },
    ]);
  });

  it("a violated threshold → exit 1 listing each violation", async () => {
    const r = await cli(["loadtest", `${srv.url}/`, "-u", "2", "-d", "800ms", "--fail-on", "p50>1ms,errors>5%,rps<1000000"]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/error: 2 thresholds violated: p50>1ms \(actual \d+\.\d+ ms\); rps<1000000 \(actual [\d.]+ req\/s\)/);
    expect(r.out).toMatch(/FAIL {2}p50>1ms/);
    expect(r.out).toMatch(/ok {4}errors>5%/);
    expect(r.out).toMatch(/latency ms min .* p50 .* p90 .* p95 .* p99 .* max/);

    const ok = await cli(["loadtest", `${srv.url}/`, "-u", "2", "-d", "500ms", "--fail-on", "p99>30s"]);
    expect(ok.code, ok.err).toBe(0);
  });

  it("bad input → exit 2", async () => {
    expect((await cli(["loadtest", `${srv.url}/`, "--fail-on", "p95>50"])).err).toMatch(/--fail-on: "p95>50" needs a unit/);
    expect((await cli(["loadtest", `${srv.url}/`, "--fail-on", "p95>50"])).code).toBe(2);
    expect((await cli(["loadtest", `${srv.url}/`, "-u", "0"])).code).toBe(2);
    expect((await cli(["loadtest", `${srv.url}/`, "-d", "soon"])).code).toBe(2);
    expect((await cli(["loadtest", `${srv.url}/`, "--payload", join(dir, "missing.json")])).code).toBe(2);
  });

  it("--csv writes Locust's stats and failures columns; no success at all → exit 1", async () => {
    const failing = await tinyServer((_req, res, n) => res.writeHead(n % 2 ? 503 : 500).end('{"error":"down"}'));
    try {
      const csv = join(dir, "stats.csv");
      const r = await cli(["loadtest", `${failing.url}/x`, "-u", "2", "-n", "20", "-d", "10s", "--csv", csv, "-q"]);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/no request succeeded \(HTTP 500 ×10, HTTP 503 ×10\)/);
      const lines = readFileSync(csv, "utf8").trim().split("\n");
      expect(lines[0]).toBe(
        "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%",
      );
      expect(lines).toHaveLength(3);
      expect(lines[1]).toMatch(/^GET,\/x,20,20,/);
      expect(lines[2]).toMatch(/^,Aggregated,20,20,/);
      expect(lines[1]!.split(",")).toHaveLength(22);
      const failures = readFileSync(join(dir, "stats_failures.csv"), "utf8").trim().split("\n");
      expect(failures).toEqual(["Method,Name,Error,Occurrences", "GET,/x,HTTP 500: down,10", "GET,/x,HTTP 503: down,10"]);
    } finally {
      await failing.close();
    }
  });
});

describe("against a Forja server with a deployment", () => {
  let s: TestServer;
  let env: Record<string, string>;
  beforeAll(async () => {
    s = await startTestServer();
    const version = await publishModel(s, { name: "iris", bytes: irisOnnx(), alias: "prod" });
    await deploy(s, { name: "iris", spec: { model: { name: "iris", alias: "prod" } } });
    await waitFor(s, "iris", readyWith(version));
    env = { FORJA_URL: s.url, FORJA_TOKEN: s.adminToken };
  });
  afterAll(async () => {
    await s?.stop();
  });

  it("loadtest <deployment> sends a valid example from the model metadata, with the CLI's token", async () => {
    const r = await cli(["loadtest", "iris", "-u", "2", "-n", "40", "-d", "20s", "--json"], env);
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.target.url).toBe(`${s.url}/serving/default/v2/models/iris/infer`);
    expect(j.requests).toBe(40);
    expect(j.statusCodes).toEqual({ "200": 40 });
    expect(j.stoppedBy).toBe("requests");

    const missing = await cli(["loadtest", "nope", "-n", "1"], env);
    expect(missing.code).toBe(4);
    const noAuth = await cli(["loadtest", "iris", "-n", "1"], { FORJA_URL: s.url });
    expect(noAuth.code).toBe(3);
  });

  it("top --once shows the deployment's figures (since start, and over a window with traffic)", async () => {
    const since = await cli(["top", "--once", "--interval", "0", "-o", "json"], env);
    expect(since.code, since.err).toBe(0);
    const j = JSON.parse(since.out);
    const iris = j.deployments.find((d: { deployment: string }) => d.deployment === "iris");
    expect(iris).toMatchObject({ project: "default", ready: true, inFlight: 0 });
    expect(iris.requestsTotal).toBeGreaterThanOrEqual(40);
    expect(iris.p50).toBeGreaterThan(0);
    expect(iris.p99).toBeGreaterThanOrEqual(iris.p50);
    expect(typeof j.pipelines.active).toBe("number");

    // A window with traffic: a bounded load in the background while top scrapes twice.
    const token = s.adminToken;
    const load = runLoadTest({
      url: `${s.url}/serving/default/v2/models/iris/infer`,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ inputs: [{ name: "input", shape: [1, 4], datatype: "FP32", data: [5.1, 3.5, 1.4, 0.2] }] }),
      users: 2,
      durationMs: 2500,
      maxRequests: 5000,
    });
    const top = await cli(["top", "--once", "--interval", "1s"], env);
    const report = await load;
    expect(top.code, top.err).toBe(0);
    expect(report.failures).toBe(0);
    const row = top.out.split("\n").find((l) => /^default\s+iris\s/.test(l));
    expect(row, top.out).toBeDefined();
    const cols = row!.trim().split(/\s+/);
    // PROJECT DEPLOYMENT READY RPS ERR% P50 P95 P99 IN-FLIGHT REQUESTS
    expect(cols[2]).toBe("yes");
    expect(Number(cols[3])).toBeGreaterThan(0);
    expect(cols[4]).toBe("0.00");
    expect(Number(cols[5])).toBeGreaterThan(0);
    expect(top.out).toMatch(/last \d+\.\d s/);
    expect(top.out).toMatch(/pipeline runs: active \d+/);
  });
});
