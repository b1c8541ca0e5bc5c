/**
 * Metrics: the exposition has the serving series, and a real Prometheus (Debian package
 * `prometheus`, .ci/install-deps.sh) scrapes Forja on 127.0.0.1 with an admin token and answers
 * queries for them. Also: the worker-thread runtime answers like the inline one.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { predictLogisticRegression } from "../../src/serving/onnx/logistic-regression.ts";
import { startTestServer, type TestServer } from "../support/server.ts";
import { IRIS, call, deploy, inferBody, irisOnnx, publishModel, readyWith, waitFor } from "./support.ts";

const PROMETHEUS = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"].find((p) => {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
});
const inCI = process.env.CI === "true";

let s: TestServer;
let version: number;
const rows = [[5.1, 3.5, 1.4, 0.2]];

beforeAll(async () => {
  s = await startTestServer();
  version = await publishModel(s, { name: "iris", bytes: irisOnnx(), alias: "prod" });
  await deploy(s, { name: "iris", spec: { model: { name: "iris", alias: "prod" } } });
  await waitFor(s, "iris", readyWith(version));
  for (let i = 0; i < 5; i++) await call(s, "POST", "/serving/default/v2/models/iris/infer", inferBody(rows));
  await call(s, "POST", "/serving/default/v2/models/iris/infer", { inputs: [] });
});
afterAll(async () => {
  await s?.stop();
});

describe("exposition", () => {
  it("has requests by status, sub-millisecond latency buckets, in-flight, load time, readiness", async () => {
    const text = await (await s.fetch("/metrics")).text();
    expect(text).toMatch(new RegExp(`forja_inference_requests_total\\{project="default",deployment="iris",version="${version}",status="200"\\} 5`));
    expect(text).toMatch(new RegExp(`forja_inference_requests_total\\{project="default",deployment="iris",version="${version}",status="400"\\} 1`));
    expect(text).toMatch(/forja_inference_request_duration_seconds_bucket\{le="0.0005",project="default",deployment="iris",version="\d+"\} \d+/);
    expect(text).toContain('forja_inference_in_flight_requests{project="default",deployment="iris"} 0');
    expect(text).toMatch(/forja_model_load_duration_seconds_count\{project="default",deployment="iris",result="success"\} [1-9]/);
    expect(text).toContain('forja_deployment_ready{project="default",deployment="iris"} 1');
    expect((await s.fetch("/metrics", { token: null })).status).toBe(401);
  });
});

describe("worker-thread runtime", () => {
  it("runtime.mode workers answers as inline does", async () => {
    await deploy(s, { name: "pooled", spec: { model: { name: "iris", version }, runtime: { mode: "workers", workers: 2 } } });
    await waitFor(s, "pooled", readyWith(version));
    const x = [
      [6.7, 3.0, 5.2, 2.3],
      [5.9, 3.0, 4.2, 1.5],
    ];
    const answers = await Promise.all(Array.from({ length: 8 }, () => call(s, "POST", "/serving/default/v2/models/pooled/infer", inferBody(x))));
    const ref = predictLogisticRegression(IRIS, x);
    for (const a of answers) {
      expect(a.status).toBe(200);
      expect(a.body.outputs[0].data).toEqual(ref.labels);
    }
  });
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

describe("a real Prometheus scrapes Forja", () => {
  let prom: ChildProcess | undefined;
  let dir: string | undefined;
  afterAll(() => {
    if (prom?.pid && prom.exitCode === null) prom.kill("SIGTERM");
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const run = PROMETHEUS || inCI ? it : it.skip;
  if (!PROMETHEUS && !inCI) console.warn("[serving] skipping the Prometheus scrape test: no prometheus binary (apt-get install prometheus, see .ci/install-deps.sh)");

  run("queries return the inference series", { timeout: 90_000 }, async () => {
    expect(PROMETHEUS, "prometheus binary missing in CI: .ci/install-deps.sh installs it").toBeDefined();
    dir = mkdtempSync(join(tmpdir(), "forja-prom-"));
    const target = new URL(s.url).host;
    writeFileSync(
      join(dir, "prometheus.yml"),
      [
        "global:",
        "  scrape_interval: 1s",
        "  scrape_timeout: 1s",
        "scrape_configs:",
        "  - job_name: forja",
        "    metrics_path: /metrics",
        "    authorization:",
        `      credentials: ${s.adminToken}`,
        "    static_configs:",
        `      - targets: ["${target}"]`,
        "",
      ].join("\n"),
    );
    const port = await freePort();
    const logs: string[] = [];
    prom = spawn(
      PROMETHEUS as string,
      [`--config.file=${join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    prom.stdout?.on("data", (b: Buffer) => logs.push(b.toString()));
    prom.stderr?.on("data", (b: Buffer) => logs.push(b.toString()));

    const query = async (q: string) => {
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`);
      return (await res.json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
    };
    const until = Date.now() + 60_000;
    let result: Awaited<ReturnType<typeof query>>["data"]["result"] = [];
    while (Date.now() < until) {
      if (prom.exitCode !== null) throw new Error(`prometheus exited (${prom.exitCode}): ${logs.join("")}`);
      try {
        result = (await query('forja_inference_requests_total{deployment="iris",status="200"}')).data.result;
        if (result.length) break;
      } catch {
        /* not up yet */
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(result, logs.join("")).toHaveLength(1);
    expect(result[0]?.metric).toMatchObject({ job: "forja", project: "default", deployment: "iris", version: String(version), status: "200" });
    expect(Number(result[0]?.value[1])).toBeGreaterThanOrEqual(5);
    const up = (await query('up{job="forja"}')).data.result;
    expect(up[0]?.value[1]).toBe("1");
    const buckets = (await query('forja_inference_request_duration_seconds_bucket{deployment="iris",le="0.001"}')).data.result;
    expect(buckets).toHaveLength(1);
  });
});
