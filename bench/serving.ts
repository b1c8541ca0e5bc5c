/**
 * Serving throughput and latency versus the floor, in the same run:
 *   Forja: a logistic-regression classifier (4 float features, 3 classes) deployed from the
 *   registry and called through OIP v2 (`POST /serving/default/v2/models/iris/infer`, JSON,
 *   platform-token auth, metrics on) — versus a bare `node:http` server answering the same
 *   response bytes as a constant (the floor).
 * Concurrency 1, 16, 64 (keep-alive connections). Targets (issue): ≥ 0.5× the floor's req/s at
 * concurrency 64; p99 ≤ 2 ms at concurrency 16. Two Forja configurations: the default (every
 * request its own session run) and `batching: {maxBatchSize: 64, maxDelayMs: 0}` (requests that
 * arrive together share one run; it never waits for more).
 *
 *   npx tsx bench/serving.ts [--duration 5] [--connections 1,16,64] [--rounds 3] [--loadgen wrk|autocannon] [--variants]
 *
 * The load generator runs in a child process and shares the two cores with the server: wrk
 * (Debian's package; the default when installed) costs the least per request and measures
 * latency in microseconds; autocannon (npm) is the fallback, with whole-millisecond percentiles.
 * Its CPU time is printed so its cost is visible, and so is the servers' CPU time per request
 * (steadier than req/s when the machine is shared). Floor and Forja alternate for --rounds
 * rounds and the medians are printed, each ratio against the floor measured just before it;
 * the floor's own p99 is printed beside the p99 target, since on a shared virtual machine the
 * host's scheduling alone can put it above 2 ms. `--variants` also measures, at the highest
 * concurrency, the worker-thread runtime and adaptive batching, and the raw session rates
 * (inline session with 1 or 2 intra-op threads vs a pool of worker threads) behind the default.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import * as ort from "onnxruntime-node";
import { SYSTEM } from "../src/auth/principal.ts";
import { ForjaClient } from "../src/client/client.ts";
import { loadServerConfig } from "../src/platform/config.ts";
import { createPlatform } from "../src/server/platform.ts";
import { exportLogisticRegressionOnnx } from "../src/serving/onnx/logistic-regression.ts";
import { createRunner, defaultPoolSize } from "../src/serving/runner.ts";

const { values } = parseArgs({
  options: {
    duration: { type: "string", default: "5" },
    connections: { type: "string", default: "1,16,64" },
    variants: { type: "boolean", default: false },
    loadgen: { type: "string" },
    rounds: { type: "string", default: "3" },
  },
});
// The platform runs in this process: give it the V8 flags bin/forja.mjs gives the server (ADR 0013).
const SERVER_FLAGS = ["--max-semi-space-size=4"];
if (!SERVER_FLAGS.every((f) => process.execArgv.includes(f))) {
  const again = spawnSync(process.execPath, [...SERVER_FLAGS, ...process.execArgv, ...process.argv.slice(1)], { stdio: "inherit" });
  process.exit(again.status ?? 1);
}
const ROUNDS = Number(values.rounds);
const hasWrk = spawnSync("wrk", ["--version"]).error === undefined;
const LOADGEN = values.loadgen ?? (hasWrk ? "wrk" : "autocannon");
if (LOADGEN !== "autocannon" && LOADGEN !== "wrk") throw new Error(`--loadgen must be wrk or autocannon, got ${LOADGEN}`);
if (LOADGEN === "wrk" && !hasWrk) throw new Error("--loadgen wrk: wrk is not installed (apt-get install wrk)");
const DURATION = Number(values.duration);
const CONNECTIONS = values.connections.split(",").map(Number);

const MODEL = exportLogisticRegressionOnnx({
  weights: [
    [-0.42, 0.97, -2.4, -1.02],
    [0.53, -0.32, -0.2, -0.94],
    [-0.11, -0.65, 2.6, 1.96],
  ],
  bias: [9.8, 2.2, -12.0],
  featureNames: ["sepal_length", "sepal_width", "petal_length", "petal_width"],
});
const BODY = JSON.stringify({ inputs: [{ name: "input", shape: [1, 4], datatype: "FP32", data: [5.1, 3.5, 1.4, 0.2] }] });

interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  total: number;
  bad: number;
  cpu: number;
  seconds: number;
  /** CPU µs this process (the servers) spent per request during the run. */
  serverCpu: number;
}

/** The chosen load generator in a child process (so it does not share the server's event loop). */
function loadgen(url: string, connections: number, headers: Record<string, string>, seconds = DURATION, cpu: CpuMeter = ownCpu): Promise<LoadResult> {
  return LOADGEN === "wrk" ? wrk(url, connections, headers, seconds, cpu) : autocannon(url, connections, headers, seconds, cpu);
}

/** CPU µs a server has used so far. */
type CpuMeter = () => number;
const ownCpu: CpuMeter = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
/** Another process's CPU time (Linux: utime + stime of /proc/PID/stat, in clock ticks of 10 ms). */
const cpuOfPid =
  (pid: number): CpuMeter =>
  () => {
    const st = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) * 10_000;
  };

/**
 * wrk (Debian's package: C, one thread, epoll): far cheaper per request than autocannon, so more
 * of the machine is left to the server, and latency percentiles in microseconds (autocannon's
 * are whole milliseconds). Its CPU time comes from bash's `time`.
 */
function wrk(url: string, connections: number, headers: Record<string, string>, seconds: number, serverCpu: CpuMeter): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), "forja-wrk-"));
  const script = join(dir, "post.lua");
  writeFileSync(
    script,
    `wrk.method = "POST"\nwrk.body = ${JSON.stringify(BODY)}\n` + Object.entries(headers).map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}\n`).join(""),
  );
  const cpu0 = serverCpu();
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["-c", `TIMEFORMAT='%U %S'; time wrk -t1 -c${connections} -d${seconds}s --latency -s ${script} ${url}`], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr.on("data", (b: Buffer) => (err += b.toString()));
    child.on("error", reject);
    child.on("exit", (code) => {
      rmSync(dir, { recursive: true, force: true });
      if (code !== 0) return reject(new Error(`wrk exited ${code}: ${err}`));
      const ms = (label: string) => {
        const m = new RegExp(`^\\s*${label}%\\s+([\\d.]+)(us|ms|s)\\b`, "m").exec(out);
        if (!m) throw new Error(`wrk printed no ${label}th percentile:\n${out}`);
        return Number(m[1]) * (m[2] === "us" ? 1e-3 : m[2] === "s" ? 1e3 : 1);
      };
      const total = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
      const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
      const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      const errors = socket ? socket.slice(1).reduce((s, x) => s + Number(x), 0) : 0;
      const [user = 0, sys = 0] = (err.trim().split("\n").pop() ?? "").split(" ").map(Number);
      const used = serverCpu() - cpu0;
      resolve({
        rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN),
        p50: ms("50"),
        p99: ms("99"),
        total,
        bad: non2xx + errors,
        cpu: user + sys,
        seconds,
        serverCpu: used / Math.max(1, total),
      });
    });
  });
}

/** autocannon (npm) in a child process. */
function autocannon(url: string, connections: number, headers: Record<string, string>, seconds: number, serverCpu: CpuMeter): Promise<LoadResult> {
  const script = `
    import autocannon from "autocannon";
    const o = JSON.parse(process.env.LOADGEN);
    const r = await autocannon({ url: o.url, connections: o.connections, duration: o.seconds, method: "POST", headers: o.headers, body: o.body });
    const cpu = process.cpuUsage();
    process.stdout.write(JSON.stringify({ rps: r.requests.total / r.duration, p50: r.latency.p50, p99: r.latency.p99, total: r.requests.total,
      bad: r.non2xx + r.errors + r.timeouts, cpu: (cpu.user + cpu.system) / 1e6, seconds: r.duration }));`;
  const cpu0 = serverCpu();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      cwd: join(import.meta.dirname, ".."),
      env: { ...process.env, LOADGEN: JSON.stringify({ url, connections, headers, body: BODY, seconds }) },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.on("error", reject);
    child.on("exit", (code) => {
      if (code !== 0) return reject(new Error(`loadgen exited ${code}`));
      const r = JSON.parse(out) as Omit<LoadResult, "serverCpu">;
      const used = serverCpu() - cpu0;
      resolve({ ...r, serverCpu: used / Math.max(1, r.total) });
    });
  });
}

async function publish(url: string, token: string): Promise<void> {
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(url + path, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": body instanceof Uint8Array ? "application/octet-stream" : "application/json" },
      ...(body !== undefined ? { body: body instanceof Uint8Array ? Buffer.from(body) : JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${text}`);
    return (text ? JSON.parse(text) : {}) as Record<string, unknown>;
  };
  const exp = await call("POST", "/api/2.0/mlflow/experiments/create", { name: "bench-serving" });
  const run = await call("POST", "/api/2.0/mlflow/runs/create", { experiment_id: exp["experiment_id"], start_time: Date.now() });
  const runId = (run["run"] as { info: { run_id: string } }).info.run_id;
  const expId = String(exp["experiment_id"]);
  await call("PUT", `/api/2.0/mlflow-artifacts/artifacts/${expId}/${runId}/artifacts/model/model.onnx`, MODEL);
  await call("POST", "/api/2.0/mlflow/registered-models/create", { name: "iris" });
  await call("POST", "/api/2.0/mlflow/model-versions/create", { name: "iris", source: `runs:/${runId}/model`, run_id: runId });
  await call("POST", "/api/2.0/mlflow/registered-models/alias", { name: "iris", alias: "prod", version: "1" });
}

async function sessionRates(): Promise<Record<string, number>> {
  const N = 20_000;
  const C = 64;
  const rate = async (run: () => Promise<unknown>) => {
    let done = 0;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: C }, async () => {
      while (done < N) {
        done++;
        await run();
      }
    }));
    return Math.round(N / ((performance.now() - t0) / 1000));
  };
  const feeds = () => ({ input: new ort.Tensor("float32", new Float32Array([5.1, 3.5, 1.4, 0.2]), [1, 4]) });
  const out: Record<string, number> = {};
  for (const [name, opts] of [
    ["inline, 1 intra-op thread", { mode: "inline", intraOpThreads: 1 }],
    ["inline, 2 intra-op threads", { mode: "inline", intraOpThreads: 2 }],
    [`workers ×${defaultPoolSize()}`, { mode: "workers" }],
  ] as const) {
    const r = await createRunner(MODEL, opts);
    await rate(() => r.run(feeds()));
    out[name] = await rate(() => r.run(feeds()));
    await r.close();
  }
  return out;
}

const dataDir = mkdtempSync(join(tmpdir(), "forja-bench-serving-"));
const config = loadServerConfig({}, { dataDir, host: "127.0.0.1", port: 0, logLevel: "silent", writeClientConfig: false });
const platform = await createPlatform(config);
const url = await platform.start();
const { token } = await platform.ctx.tokens.create(SYSTEM, { name: "bench", user: "admin" });
const admin = new ForjaClient({ server: url, token });
await publish(url, token);
const BATCHED = "iris-batch0";
const deployments: Record<string, unknown> = {
  iris: { model: { name: "iris", alias: "prod" } },
  [BATCHED]: { model: { name: "iris", alias: "prod" }, batching: { maxBatchSize: 64, maxDelayMs: 0 } },
};
if (values.variants) {
  deployments["iris-workers"] = { model: { name: "iris", alias: "prod" }, runtime: { mode: "workers" } };
  deployments["iris-batched"] = { model: { name: "iris", alias: "prod" }, batching: { maxBatchSize: 32, maxDelayMs: 1 } };
}
await admin.apply(Object.entries(deployments).map(([name, spec]) => ({ apiVersion: "forja.dev/v1", kind: "Deployment", metadata: { name, project: "default" }, spec })));
for (const name of Object.keys(deployments)) {
  for (let i = 0; ; i++) {
    const d = await admin.get<{ status: { phase: string; message?: string } }>("Deployment", name, "default");
    if (d.status.phase === "Ready") break;
    if (i > 600) throw new Error(`deployment ${name} not ready: ${JSON.stringify(d.status)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
const headers = { "content-type": "application/json", authorization: `Bearer ${token}` };
const sample = await fetch(`${url}/serving/default/v2/models/iris/infer`, { method: "POST", headers, body: BODY });
const CONSTANT = await sample.text();
if (sample.status !== 200) throw new Error(`inference failed: ${CONSTANT}`);

// The floor runs in a process of its own: in this one it would pay for the platform's garbage
// collections and timers, and look slower (and its tail longer) than a bare server is.
const FLOOR = `
  const { createServer } = require("node:http");
  const body = process.env.FLOOR_BODY;
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
    });
  });
  server.listen(0, "127.0.0.1", () => process.stdout.write(String(server.address().port) + "\\n"));
  process.stdin.on("end", () => process.exit(0)).resume();`;
const floor = spawn(process.execPath, ["-e", FLOOR], { env: { ...process.env, FLOOR_BODY: CONSTANT }, stdio: ["pipe", "pipe", "inherit"] });
const floorPort = await new Promise<number>((resolve, reject) => {
  floor.once("error", reject);
  floor.once("exit", (code) => reject(new Error(`the floor server exited (${code})`)));
  floor.stdout.once("data", (b: Buffer) => resolve(Number(b.toString().trim())));
});
floor.removeAllListeners("exit");
const floorUrl = `http://127.0.0.1:${floorPort}/`;
const floorCpu = cpuOfPid(floor.pid as number);

console.log(`serving bench: ${availableParallelism()} cores, node ${process.version}, load generator ${LOADGEN}, ${DURATION} s per point, ${ROUNDS} round(s), response ${CONSTANT.length} bytes`);
// Warm-up (JIT, connections).
await loadgen(floorUrl, 16, headers, 1, floorCpu);
await loadgen(`${url}/serving/default/v2/models/iris/infer`, 16, headers, 1);

const fmt = (r: LoadResult) =>
  `${Math.round(r.rps).toString().padStart(7)} req/s  p50 ${r.p50.toFixed(2).padStart(6)} ms  p99 ${r.p99.toFixed(2).padStart(6)} ms  non-2xx/errors ${r.bad}  server ${r.serverCpu.toFixed(0).padStart(3)} µs CPU/req  loadgen CPU ${((r.cpu / r.seconds) * 100).toFixed(0)}% of a core`;
type Point = { c: number; floor: LoadResult; forja: LoadResult; batched: LoadResult };
const rounds: Point[][] = [];
for (let round = 1; round <= ROUNDS; round++) {
  const points: Point[] = [];
  for (const c of CONNECTIONS) {
    const f = await loadgen(floorUrl, c, headers, DURATION, floorCpu);
    const s = await loadgen(`${url}/serving/default/v2/models/iris/infer`, c, headers);
    const b = await loadgen(`${url}/serving/default/v2/models/${BATCHED}/infer`, c, headers);
    points.push({ c, floor: f, forja: s, batched: b });
    console.log(`round ${round}  c=${String(c).padStart(2)}  floor            ${fmt(f)}`);
    console.log(`                forja default    ${fmt(s)}   (${(s.rps / f.rps).toFixed(2)}× floor)`);
    console.log(`                forja batching 0 ${fmt(b)}   (${(b.rps / f.rps).toFixed(2)}× floor)`);
  }
  rounds.push(points);
}

// Medians over the rounds: the floor itself moves a lot on a shared machine, so each round's
// ratio is taken against the floor measured right before it, and the ratios' median is printed.
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
console.log(`\nmedians of ${ROUNDS} round(s)${ROUNDS > 1 ? " (ratios: the median of each round's ratio)" : ""}:`);
const summary = new Map<string, { ratio: number; p99: number; floorP99: number }>();
for (const c of CONNECTIONS) {
  const at = rounds.map((r) => r.find((p) => p.c === c) as Point);
  const f = at.map((p) => p.floor);
  console.log(`c=${String(c).padStart(2)}  floor            ${Math.round(median(f.map((r) => r.rps))).toString().padStart(7)} req/s  p50 ${median(f.map((r) => r.p50)).toFixed(2).padStart(6)} ms  p99 ${median(f.map((r) => r.p99)).toFixed(2).padStart(6)} ms`);
  for (const [label, pick] of [["default", (p: Point) => p.forja], ["batching 0", (p: Point) => p.batched]] as const) {
    const x = at.map(pick);
    const ratio = median(at.map((p) => pick(p).rps / p.floor.rps));
    const p99 = median(x.map((r) => r.p99));
    summary.set(`${label}@${c}`, { ratio, p99, floorP99: median(f.map((r) => r.p99)) });
    console.log(
      `      forja ${label.padEnd(10)} ${Math.round(median(x.map((r) => r.rps))).toString().padStart(7)} req/s  p50 ${median(x.map((r) => r.p50)).toFixed(2).padStart(6)} ms  p99 ${p99.toFixed(2).padStart(6)} ms  server ${median(x.map((r) => r.serverCpu)).toFixed(0).padStart(3)} µs CPU/req   ${ratio.toFixed(2)}× floor`,
    );
  }
}
for (const label of ["default", "batching 0"]) {
  const a = summary.get(`${label}@64`);
  const b = summary.get(`${label}@16`);
  if (a) console.log(`${label.padEnd(10)} target ≥ 0.5× floor at c=64: ${a.ratio.toFixed(2)}× → ${a.ratio >= 0.5 ? "met" : "NOT met"}`);
  if (b) console.log(`${label.padEnd(10)} target p99 ≤ 2 ms at c=16: ${b.p99.toFixed(2)} ms → ${b.p99 <= 2 ? "met" : "NOT met"} (the floor's own p99: ${b.floorP99.toFixed(2)} ms)`);
}

if (values.variants) {
  const c = Math.max(...CONNECTIONS);
  for (const name of ["iris-workers", "iris-batched"]) {
    console.log(`c=${c}  ${name.padEnd(12)} ${fmt(await loadgen(`${url}/serving/default/v2/models/${name}/infer`, c, headers))}`);
  }
  console.log("raw session runs/s (64 concurrent callers, no HTTP):", JSON.stringify(await sessionRates()));
}

floor.stdin.end();
await platform.stop();
rmSync(dataDir, { recursive: true, force: true });
