/**
 * Tracking benchmark (figures, not pass/fail):
 *  (a) runs/log-batch calls/s with 100 metrics per call, 1 client and 8 concurrent clients;
 *  (b) runs/search over 10,000 runs with a metric filter and order_by: p50 / p99;
 *  (c) metrics/get-history of one metric with 100,000 points.
 *
 *   npx tsx bench/tracking.ts [--engine sqlite|postgres] [--runs 10000]
 *
 * Real server over HTTP on 127.0.0.1 (keep-alive fetch). (a) is measured twice: with the client
 * in the server's process (client and server share the event loop and CPU), and with the
 * client in a child process (the load generator on its own core, as a real client would be).
 * Each (a) figure comes with the CPU time this process spent per call (client + server
 * in-process, the server alone otherwise): on a shared machine it varies less than calls/s.
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

/** Load generator in a separate Node process: one sequential client per run id; calls/s and server CPU µs per call. */
const CLIENT = `
const [url, token, calls, ...runs] = process.argv.slice(1);
const headers = { authorization: "Bearer " + token, "content-type": "application/json" };
const batch = (step) => Array.from({ length: 100 }, (_, i) => ({ key: "m" + i, value: Math.random(), timestamp: Date.now(), step }));
const post = async (run_id, step) => {
  const r = await fetch(url + "/api/2.0/mlflow/runs/log-batch", { method: "POST", headers, body: JSON.stringify({ run_id, metrics: batch(step) }) });
  await r.text();
  if (r.status !== 200) throw new Error("log-batch " + r.status);
};
for (const id of runs) for (let i = 0; i < 50; i++) await post(id, i);
process.stdout.write("start\\n");
const t = performance.now();
await Promise.all(runs.map(async (id) => { for (let i = 0; i < Number(calls); i++) await post(id, 1000 + i); }));
console.log(JSON.stringify({ rate: (runs.length * Number(calls)) / ((performance.now() - t) / 1000) }));
`;
async function childLoad(url: string, token: string, runs: string[], calls: number): Promise<{ rate: number; cpu: number }> {
  const child = spawn(process.execPath, ["--input-type=module", "-e", CLIENT, url, token, String(calls), ...runs], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  let cpu0: NodeJS.CpuUsage | undefined;
  child.stdout.on("data", (c: Buffer) => {
    out += c.toString();
    if (!cpu0 && out.includes("start\n")) cpu0 = process.cpuUsage(); // after the client's warm-up
  });
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  if (code !== 0) throw new Error(`load generator exited with ${code}`);
  const rate = (JSON.parse(out.slice(out.indexOf("start\n") + 6)) as { rate: number }).rate;
  return { rate, cpu: cpuPerCall(cpu0, runs.length * calls) };
}
/** CPU µs this process spent per call since `since`. */
function cpuPerCall(since: NodeJS.CpuUsage | undefined, calls: number): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / calls;
}

try {
  const exp = (await call("experiments/create", { name: "bench" }))["experiment_id"] as string;
  const batch = (step: number) => Array.from({ length: 100 }, (_, i) => ({ key: `m${i}`, value: Math.random(), timestamp: Date.now(), step }));

  // (a) log-batch throughput
  const r1 = runId(await call("runs/create", { experiment_id: exp }));
  // Warm-up: V8 needs ~1,000 calls to optimise the request path (calls/s keeps rising until then).
  for (let i = 0; i < 1000; i++) await call("runs/log-batch", { run_id: r1, metrics: batch(i) });
  let calls = 2000;
  let cpu = process.cpuUsage();
  let t = performance.now();
  for (let i = 0; i < calls; i++) await call("runs/log-batch", { run_id: r1, metrics: batch(i) });
  const one = calls / ((performance.now() - t) / 1000);
  const oneCpu = cpuPerCall(cpu, calls);
  const runs8 = await Promise.all(Array.from({ length: 8 }, async () => runId(await call("runs/create", { experiment_id: exp }))));
  calls = 500;
  cpu = process.cpuUsage();
  t = performance.now();
  await Promise.all(runs8.map(async (id) => { for (let i = 0; i < calls; i++) await call("runs/log-batch", { run_id: id, metrics: batch(i) }); }));
  const eight = (8 * calls) / ((performance.now() - t) / 1000);
  const eightCpu = cpuPerCall(cpu, 8 * calls);
  const remote1 = await childLoad(server.url, server.adminToken, [runId(await call("runs/create", { experiment_id: exp }))], 2000);
  const remote8 = await childLoad(server.url, server.adminToken, await Promise.all(Array.from({ length: 8 }, async () => runId(await call("runs/create", { experiment_id: exp })))), 500);

  // (b) search over RUNS runs
  const sexp = (await call("experiments/create", { name: "search" }))["experiment_id"] as string;
  t = performance.now();
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
  console.log(`(a) log-batch, 100 metrics/call, client in-process: 1 client ${f(one)} calls/s (${(one / 1000).toFixed(2)}× target 1000; ${us(oneCpu)}); 8 clients ${f(eight)} calls/s (${f(eight * 100)} metrics/s; ${us(eightCpu)})`);
  console.log(`    client in a child process:      1 client ${f(remote1.rate)} calls/s (${(remote1.rate / 1000).toFixed(2)}× target 1000; server ${us(remote1.cpu)}); 8 clients ${f(remote8.rate)} calls/s (${f(remote8.rate * 100)} metrics/s; server ${us(remote8.cpu)})`);
  console.log(`(b) runs/search over ${RUNS} runs (filter metrics.acc > 0.5, order_by metrics.loss), fill ${f(fill)} s:`);
  console.log(`    max_results=100:  p50 ${f(s100.p50)} ms, p99 ${f(s100.p99)} ms (${s100.n} runs/page) — ${(50 / s100.p50).toFixed(2)}× under the 50 ms target`);
  console.log(`    max_results=1000: p50 ${f(s1000.p50)} ms, p99 ${f(s1000.p99)} ms (${s1000.n} runs/page) — ${(50 / s1000.p50).toFixed(2)}× under the 50 ms target`);
  console.log(`(c) get-history 100,000 points: one response p50 ${f(pct(hist, 50))} ms; client-style pages of 25,000 p50 ${f(pct(paged, 50))} ms`);
} finally {
  await server.stop();
  await pgServer?.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
