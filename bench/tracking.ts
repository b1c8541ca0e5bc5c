/**
 * Tracking benchmark (figures, not pass/fail):
 *  (a) runs/log-batch calls/s with 100 metrics per call, 1 client and 8 concurrent clients;
 *  (b) runs/search over 10,000 runs with a metric filter and order_by: p50 / p99;
 *  (c) metrics/get-history of one metric with 100,000 points.
 *
 *   npx tsx bench/tracking.ts [--engine sqlite|postgres] [--runs 10000]
 *
 * Real server over HTTP on 127.0.0.1. (a) runs its clients in a child process (the load
 * generator on its own core, as a real client would be) and prints, next to calls/s, the CPU
 * time the server and the client spent per call: on a shared machine they vary less than
 * calls/s. (b) and (c) use keep-alive fetch from this process.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { startTempPostgres, type TempPostgres } from "../test/support/postgres.ts";
import { startTestServer } from "../test/support/server.ts";

const { values } = parseArgs({ options: { engine: { type: "string", default: "sqlite" }, runs: { type: "string", default: "10000" } } });
const engine = values.engine === "postgres" ? "postgres" : "sqlite";
const RUNS = Number(values.runs);

let pgServer: TempPostgres | undefined;
let databaseUrl: string | undefined;
const dataDir = mkdtempSync(join(tmpdir(), "forja-bench-tracking-"));
if (engine === "postgres") {
  pgServer = await startTempPostgres();
  const c = new pg.Client({ connectionString: pgServer.url });
  await c.connect();
  await c.query("CREATE DATABASE bench TEMPLATE template0 ENCODING 'UTF8'");
  await c.end();
  const u = new URL(pgServer.url);
  u.pathname = "/bench";
  databaseUrl = u.toString();
} else {
  databaseUrl = `sqlite:${join(dataDir, "forja.db")}`;
}
const server = await startTestServer({ databaseUrl, dataDir: join(dataDir, "data") });
const auth = { authorization: `Bearer ${server.adminToken}`, "content-type": "application/json" };

async function call(path: string, body?: unknown, method = "POST"): Promise<Record<string, unknown>> {
  const r = await fetch(`${server.url}/api/2.0/mlflow/${path}`, method === "GET" ? { headers: auth } : { method, headers: auth, body: JSON.stringify(body ?? {}) });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`${path}: ${r.status} ${text.slice(0, 200)}`);
  return JSON.parse(text) as Record<string, unknown>;
}
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] as number;
const runId = (b: Record<string, unknown>) => (b["run"] as { info: { run_id: string } }).info.run_id;
async function pool<T>(n: number, items: T[], fn: (x: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: n }, async () => { while (i < items.length) await fn(items[i++] as T); }));
}

/**
 * Load generator in a separate Node process (its own core, as a real client would be): one
 * sequential client per run id, each call a fresh 100-metric batch. Two HTTP clients: node:http
 * with a keep-alive agent (lean, like Python's urllib3 under the mlflow client), and fetch
 * (undici), which alone spends ~0.9 ms of CPU per call here and so bounds a single client at
 * ~1,000 calls/s whatever the server does. Prints calls/s and the client's CPU µs per call.
 */
const CLIENT = `
import http from "node:http";
const [url, token, calls, client, ...runs] = process.argv.slice(1);
const u = new URL(url);
const agent = new http.Agent({ keepAlive: true });
const headers = { authorization: "Bearer " + token, "content-type": "application/json" };
const batch = (step) => Array.from({ length: 100 }, (_, i) => ({ key: "m" + i, value: Math.random(), timestamp: Date.now(), step }));
const viaHttp = (body) => new Promise((resolve, reject) => {
  const req = http.request({ host: u.hostname, port: u.port, path: "/api/2.0/mlflow/runs/log-batch", method: "POST", agent,
    headers: { ...headers, "content-length": Buffer.byteLength(body) } }, (res) => {
    let text = "";
    res.setEncoding("utf8");
    res.on("data", (c) => (text += c));
    res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error("log-batch " + res.statusCode + " " + text))));
  });
  req.on("error", reject);
  req.end(body);
});
const viaFetch = async (body) => {
  const r = await fetch(url + "/api/2.0/mlflow/runs/log-batch", { method: "POST", headers, body });
  await r.text();
  if (r.status !== 200) throw new Error("log-batch " + r.status);
};
const send = client === "fetch" ? viaFetch : viaHttp;
const post = (run_id, step) => send(JSON.stringify({ run_id, metrics: batch(step) }));
// Warm-up: V8 needs ~1,000 calls to optimise the request path on both sides.
for (let i = 0; i < Math.ceil(1500 / runs.length); i++) await Promise.all(runs.map((id) => post(id, i)));
process.stdout.write("start\\n");
const cpu = process.cpuUsage();
const t = performance.now();
await Promise.all(runs.map(async (id) => { for (let i = 0; i < Number(calls); i++) await post(id, 10000 + i); }));
const used = process.cpuUsage(cpu);
const n = runs.length * Number(calls);
console.log(JSON.stringify({ rate: n / ((performance.now() - t) / 1000), clientCpu: (used.user + used.system) / n }));
`;
async function childLoad(url: string, token: string, runs: string[], calls: number, client: "http" | "fetch" = "http"): Promise<{ rate: number; cpu: number; clientCpu: number }> {
  const child = spawn(process.execPath, ["--input-type=module", "-e", CLIENT, url, token, String(calls), client, ...runs], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  let cpu0: NodeJS.CpuUsage | undefined;
  child.stdout.on("data", (c: Buffer) => {
    out += c.toString();
    if (!cpu0 && out.includes("start\n")) cpu0 = process.cpuUsage(); // after the client's warm-up
  });
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  if (code !== 0) throw new Error(`load generator exited with ${code}`);
  const r = JSON.parse(out.slice(out.indexOf("start\n") + 6)) as { rate: number; clientCpu: number };
  return { rate: r.rate, clientCpu: r.clientCpu, cpu: cpuPerCall(cpu0, runs.length * calls) };
}
/** CPU µs this process spent per call since `since`. */
function cpuPerCall(since: NodeJS.CpuUsage | undefined, calls: number): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / calls;
}

try {
  const exp = (await call("experiments/create", { name: "bench" }))["experiment_id"] as string;

  // (a) log-batch throughput, clients in a child process
  const newRuns = (n: number) => Promise.all(Array.from({ length: n }, async () => runId(await call("runs/create", { experiment_id: exp }))));
  const one = await childLoad(server.url, server.adminToken, await newRuns(1), 3000);
  const eight = await childLoad(server.url, server.adminToken, await newRuns(8), 500);
  const oneFetch = await childLoad(server.url, server.adminToken, await newRuns(1), 2000, "fetch");

  // (b) search over RUNS runs
  const sexp = (await call("experiments/create", { name: "search" }))["experiment_id"] as string;
  const t = performance.now();
  await pool(8, Array.from({ length: RUNS }, (_, i) => i), async (i) => {
    const id = runId(await call("runs/create", { experiment_id: sexp, start_time: 1700000000000 + i }));
    await call("runs/log-batch", {
      run_id: id,
      metrics: [{ key: "acc", value: Math.random(), timestamp: 1, step: 0 }, { key: "loss", value: Math.random() * 3, timestamp: 1, step: 0 }],
      params: [{ key: "model", value: ["lr", "rf", "xgb"][i % 3] }, { key: "lr", value: String((i % 10) / 100) }],
      tags: [{ key: "team", value: i % 2 ? "vision" : "nlp" }],
    });
  });
  const fill = (performance.now() - t) / 1000;
  const search = async (max: number) => {
    const times: number[] = [];
    let n = 0;
    for (let i = 0; i < 60; i++) {
      const t0 = performance.now();
      const res = await call("runs/search", { experiment_ids: [sexp], filter: "metrics.acc > 0.5", order_by: ["metrics.loss ASC"], max_results: max });
      times.push(performance.now() - t0);
      n = (res["runs"] as unknown[]).length;
    }
    return { p50: pct(times.slice(10), 50), p99: pct(times.slice(10), 99), n };
  };
  const s100 = await search(100);
  const s1000 = await search(1000);

  // (c) get-history of 100,000 points
  const hr = runId(await call("runs/create", { experiment_id: exp }));
  for (let b = 0; b < 100; b++) {
    await call("runs/log-batch", { run_id: hr, metrics: Array.from({ length: 1000 }, (_, i) => ({ key: "h", value: Math.random(), timestamp: 1700000000000 + b * 1000 + i, step: b * 1000 + i })) });
  }
  const hist: number[] = [];
  const paged: number[] = [];
  for (let i = 0; i < 5; i++) {
    let t0 = performance.now();
    const all = await call(`metrics/get-history?run_id=${hr}&metric_key=h`, undefined, "GET");
    hist.push(performance.now() - t0);
    if ((all["metrics"] as unknown[]).length !== 100_000) throw new Error("history incomplete");
    t0 = performance.now();
    let token: string | undefined;
    let got = 0;
    do {
      const page = await call(`metrics/get-history?run_id=${hr}&metric_key=h&max_results=25000${token ? `&page_token=${encodeURIComponent(token)}` : ""}`, undefined, "GET");
      got += ((page["metrics"] as unknown[] | undefined) ?? []).length;
      token = page["next_page_token"] as string | undefined;
    } while (token);
    paged.push(performance.now() - t0);
    if (got !== 100_000) throw new Error("paged history incomplete");
  }

  const f = (x: number) => x.toFixed(1);
  console.log(`forja tracking bench — engine ${engine}`);
  const us = (x: number) => `${x.toFixed(0)} µs CPU/call`;
  const load = (r: { rate: number; cpu: number; clientCpu: number }) => `${f(r.rate)} calls/s (server ${us(r.cpu)}, client ${us(r.clientCpu)})`;
  console.log(`(a) log-batch, 100 metrics/call, node:http client: 1 client ${load(one)} — ${(one.rate / 1000).toFixed(2)}× the 1,000 calls/s target`);
  console.log(`    8 clients ${load(eight)}, ${f(eight.rate * 100)} metrics/s`);
  console.log(`    fetch (undici) client: 1 client ${load(oneFetch)}`);
  console.log(`(b) runs/search over ${RUNS} runs (filter metrics.acc > 0.5, order_by metrics.loss), fill ${f(fill)} s:`);
  console.log(`    max_results=100:  p50 ${f(s100.p50)} ms, p99 ${f(s100.p99)} ms (${s100.n} runs/page) — ${(50 / s100.p50).toFixed(2)}× under the 50 ms target`);
  console.log(`    max_results=1000: p50 ${f(s1000.p50)} ms, p99 ${f(s1000.p99)} ms (${s1000.n} runs/page) — ${(50 / s1000.p50).toFixed(2)}× under the 50 ms target`);
  console.log(`(c) get-history 100,000 points: one response p50 ${f(pct(hist, 50))} ms; client-style pages of 25,000 p50 ${f(pct(paged, 50))} ms`);
} finally {
  await server.stop();
  await pgServer?.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
