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
 * Two more references in processes of their own (bench/bare-onnx-server.ts): a bare node:http +
 * onnxruntime-node server that parses, runs and encodes and does nothing else, naive (public
 * API, one awaited run per request) and tuned (the native session, runs at the end of the
 * event-loop turn, as Forja's data plane does). They show what parsing, running and encoding
 * cost on this machine before any of Forja's work (auth, validation, routing, metrics, payload
 * log), and whether a latency target is within reach of any server built on these libraries.
 *
 *   npx tsx bench/serving.ts [--duration 5] [--connections 1,16,64] [--rounds 3] [--loadgen wrk|autocannon] [--variants]
 *
 * The load generator runs in a child process and shares the two cores with the server: wrk
 * (Debian's package; the default when installed) costs the least per request and measures
 * latency in microseconds; autocannon (npm) is the fallback, with whole-millisecond percentiles.
 * Its CPU time is printed so its cost is visible, and so is the servers' CPU time per request
 * (steadier than req/s when the machine is shared). Floor and Forja alternate for --rounds
 * rounds and the medians are printed, each ratio against the floor measured just before it;
 * the references' own p99 are printed beside the p99 target, since on a shared virtual machine
 * the host's scheduling alone can put it above 2 ms; so is how often the host stalled a busy core
 * in each round (two spinning processes, gaps over 0.2 ms). `--variants` also measures, at the highest
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

/** A reference server in a process of its own, which prints its port and exits when its stdin ends. */
interface Reference {
  readonly url: string;
  readonly cpu: CpuMeter;
  stop(): void;
}
async function startReference(args: string[], env: Record<string, string> = {}): Promise<Reference> {
  const child = spawn(process.execPath, args, { cwd: join(import.meta.dirname, ".."), env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`reference server ${args.join(" ")} exited (${code})`)));
    child.stdout.once("data", (b: Buffer) => resolve(Number(b.toString().trim())));
  });
  child.removeAllListeners("exit");
  return { url: `http://127.0.0.1:${port}/`, cpu: cpuOfPid(child.pid as number), stop: () => child.stdin.end() };
}

// The references run in processes of their own: in this one they would pay for the platform's
// garbage collections and timers, and look slower (and their tails longer) than they are.
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
const floor = await startReference(["-e", FLOOR], { FLOOR_BODY: CONSTANT });
// A bare node:http + onnxruntime-node server, naive and tuned (bench/bare-onnx-server.ts), with
// the V8 flags the platform has.
const modelPath = join(dataDir, "model.onnx");
writeFileSync(modelPath, MODEL);
const bare = (mode: string) => startReference([...SERVER_FLAGS, "--import", "tsx", join(import.meta.dirname, "bare-onnx-server.ts"), mode, modelPath]);
const bareNaive = await bare("naive");
const bareTuned = await bare("tuned");
for (const b of [bareNaive, bareTuned]) {
  const res = await fetch(b.url, { method: "POST", headers: { "content-type": "application/json" }, body: BODY });
  const text = await res.text();
  if (res.status !== 200 || (JSON.parse(text) as { outputs: unknown[] }).outputs.length !== (JSON.parse(CONSTANT) as { outputs: unknown[] }).outputs.length) {
    throw new Error(`the bare server at ${b.url} answered ${res.status} ${text}`);
  }
}

/**
 * How often this machine takes a busy core away, and for how long: two processes spin for
 * `ms` each and count the gaps over 0.2 ms in their clocks. On a shared virtual machine these
 * stalls set a latency tail no server can go under: at 16 connections every stall of the
 * server's core holds all 16 requests in flight.
 */
function hostStalls(ms = 1000): Promise<{ perSecond: number; p50: number; max: number; share: number }> {
  const SPIN = `
    const end = performance.now() + ${ms}; let last = performance.now(); const gaps = [];
    for (;;) { const t = performance.now(); if (t - last > 0.2) gaps.push(t - last); last = t; if (t > end) break; }
    process.stdout.write(JSON.stringify(gaps));`;
  const one = () =>
    new Promise<number[]>((resolve, reject) => {
      const child = spawn(process.execPath, ["-e", SPIN], { stdio: ["ignore", "pipe", "inherit"] });
      let out = "";
      child.stdout.on("data", (b: Buffer) => (out += b.toString()));
      child.on("error", reject);
      child.on("exit", () => resolve(JSON.parse(out || "[]") as number[]));
    });
  return Promise.all(Array.from({ length: availableParallelism() }, one)).then((all) => {
    const gaps = all.flat().sort((a, b) => a - b);
    const perCore = ms / 1000;
    return {
      perSecond: gaps.length / all.length / perCore,
      p50: gaps[gaps.length >> 1] ?? 0,
      max: gaps.at(-1) ?? 0,
      share: gaps.reduce((a, b) => a + b, 0) / all.length / ms,
    };
  });
}

console.log(`serving bench: ${availableParallelism()} cores, node ${process.version}, load generator ${LOADGEN}, ${DURATION} s per point, ${ROUNDS} round(s), response ${CONSTANT.length} bytes`);
// Warm-up (JIT, connections).
for (const r of [floor, bareNaive, bareTuned]) await loadgen(r.url, 16, headers, 1, r.cpu);
await loadgen(`${url}/serving/default/v2/models/iris/infer`, 16, headers, 1);

const fmt = (r: LoadResult) =>
  `${Math.round(r.rps).toString().padStart(7)} req/s  p50 ${r.p50.toFixed(2).padStart(6)} ms  p99 ${r.p99.toFixed(2).padStart(6)} ms  non-2xx/errors ${r.bad}  server ${r.serverCpu.toFixed(0).padStart(3)} µs CPU/req  loadgen CPU ${((r.cpu / r.seconds) * 100).toFixed(0)}% of a core`;
/** What is measured at each point, in this order; the first is the floor the others are compared with. */
const SERIES = [
  { label: "floor", url: floor.url, cpu: floor.cpu },
  { label: "bare onnx naive", url: bareNaive.url, cpu: bareNaive.cpu },
  { label: "bare onnx tuned", url: bareTuned.url, cpu: bareTuned.cpu },
  { label: "forja default", url: `${url}/serving/default/v2/models/iris/infer`, cpu: ownCpu },
  { label: "forja batching 0", url: `${url}/serving/default/v2/models/${BATCHED}/infer`, cpu: ownCpu },
] as const;
type Label = (typeof SERIES)[number]["label"];
type Point = { c: number; results: Record<Label, LoadResult> };
const stallText = (h: Awaited<ReturnType<typeof hostStalls>>) =>
  `host stalls of a busy core (> 0.2 ms): ${h.perSecond.toFixed(0)}/s, p50 ${h.p50.toFixed(2)} ms, max ${h.max.toFixed(2)} ms, ${(h.share * 100).toFixed(1)}% of the time`;
const rounds: Point[][] = [];
const stalls: Awaited<ReturnType<typeof hostStalls>>[] = [];
for (let round = 1; round <= ROUNDS; round++) {
  const points: Point[] = [];
  const h = await hostStalls();
  stalls.push(h);
  console.log(`round ${round}  ${stallText(h)}`);
  for (const c of CONNECTIONS) {
    const results = {} as Record<Label, LoadResult>;
    for (const s of SERIES) {
      const r = await loadgen(s.url, c, headers, DURATION, s.cpu);
      results[s.label] = r;
      const ratio = s.label === "floor" ? "" : `   (${(r.rps / results.floor.rps).toFixed(2)}× floor)`;
      console.log(`${s.label === "floor" ? `round ${round}  c=${String(c).padStart(2)}` : " ".repeat(14)}  ${s.label.padEnd(16)} ${fmt(r)}${ratio}`);
    }
    points.push({ c, results });
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
const summary = new Map<string, { ratio: number; p99: number }>();
for (const c of CONNECTIONS) {
  const at = rounds.map((r) => r.find((p) => p.c === c) as Point);
  for (const { label } of SERIES) {
    const x = at.map((p) => p.results[label]);
    const ratio = median(at.map((p) => p.results[label].rps / p.results.floor.rps));
    const p99 = median(x.map((r) => r.p99));
    summary.set(`${label}@${c}`, { ratio, p99 });
    console.log(
      `${label === "floor" ? `c=${String(c).padStart(2)}` : "    "}  ${label.padEnd(16)} ${Math.round(median(x.map((r) => r.rps))).toString().padStart(7)} req/s  p50 ${median(x.map((r) => r.p50)).toFixed(2).padStart(6)} ms  p99 ${p99.toFixed(2).padStart(6)} ms  server ${median(x.map((r) => r.serverCpu)).toFixed(0).padStart(3)} µs CPU/req${label === "floor" ? "" : `   ${ratio.toFixed(2)}× floor`}`,
    );
  }
}
const hs = (f: (h: (typeof stalls)[number]) => number) => median(stalls.map(f));
console.log(stallText({ perSecond: hs((h) => h.perSecond), p50: hs((h) => h.p50), max: hs((h) => h.max), share: hs((h) => h.share) }));
const p99At16 = (label: Label) => summary.get(`${label}@16`)?.p99.toFixed(2) ?? "?";
for (const label of ["forja default", "forja batching 0"] as const) {
  const a = summary.get(`${label}@64`);
  const b = summary.get(`${label}@16`);
  if (a) console.log(`${label.padEnd(16)} target ≥ 0.5× floor at c=64: ${a.ratio.toFixed(2)}× → ${a.ratio >= 0.5 ? "met" : "NOT met"}`);
  if (b) {
    console.log(
      `${label.padEnd(16)} target p99 ≤ 2 ms at c=16: ${b.p99.toFixed(2)} ms → ${b.p99 <= 2 ? "met" : "NOT met"} (p99 of the floor: ${p99At16("floor")} ms, of the bare onnx servers: naive ${p99At16("bare onnx naive")} ms, tuned ${p99At16("bare onnx tuned")} ms)`,
    );
  }
}

if (values.variants) {
  const c = Math.max(...CONNECTIONS);
  for (const name of ["iris-workers", "iris-batched"]) {
    console.log(`c=${c}  ${name.padEnd(12)} ${fmt(await loadgen(`${url}/serving/default/v2/models/${name}/infer`, c, headers))}`);
  }
  console.log("raw session runs/s (64 concurrent callers, no HTTP):", JSON.stringify(await sessionRates()));
}

for (const r of [floor, bareNaive, bareTuned]) r.stop();
await platform.stop();
rmSync(dataDir, { recursive: true, force: true });
