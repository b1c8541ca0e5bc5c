/**
 * Orchestration overhead of pipelines versus the raw floor, measured in the same run:
 *   (a) a chain of 200 trivial steps, versus spawning the same 200 processes one after another;
 *   (b) a fan-out of 500 trivial steps with parallelism = cores, versus spawning the same 500
 *       processes directly with the same concurrency.
 * Targets (issue): (a) ≤ 10 ms orchestration overhead per step; (b) total ≤ 1.3× the raw floor.
 *
 *   npx tsx bench/pipelines.ts [--step node|true] [--chain 200] [--fanout 500]
 *
 * The trivial step is `node -e 0` by default (Forja steps are usually Node scripts); `--step true`
 * uses /bin/true to expose the orchestration cost alone. Caching is off for the measured runs.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { SYSTEM } from "../src/auth/principal.ts";
import { ForjaClient } from "../src/client/client.ts";
import { loadServerConfig } from "../src/platform/config.ts";
import { createPlatform } from "../src/server/platform.ts";

const { values } = parseArgs({
  options: { step: { type: "string", default: "node" }, chain: { type: "string", default: "200" }, fanout: { type: "string", default: "500" } },
});
const CHAIN = Number(values.chain);
const FANOUT = Number(values.fanout);
const CORES = availableParallelism();
const STEP: string[] = values.step === "true" ? ["/bin/true"] : [process.execPath, "-e", "0"];

function spawnOnce(argv: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    // The same minimal environment workloads get (not this process's, which carries the tsx loader).
    const p = spawn(argv[0]!, argv.slice(1), { stdio: "ignore", env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } });
    p.on("error", reject);
    p.on("exit", () => resolve());
  });
}

async function rawSequential(n: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await spawnOnce(STEP);
  return performance.now() - t0;
}

async function rawParallel(n: number, concurrency: number): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        next++;
        await spawnOnce(STEP);
      }
    }),
  );
  return performance.now() - t0;
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), "forja-bench-"));
  const config = loadServerConfig({ FORJA_MAX_CONCURRENT_WORKLOADS: "64" }, { dataDir, port: 0, logLevel: "error", writeClientConfig: false });
  const platform = await createPlatform(config);
  const url = await platform.start();
  const { token } = await platform.ctx.tokens.create(SYSTEM, { name: "bench", user: "admin" });
  const client = new ForjaClient({ server: url, token });

  const chainSteps = Array.from({ length: CHAIN }, (_, i) => ({
    name: `s${i}`,
    command: STEP,
    ...(i > 0 ? { dependsOn: [`s${i - 1}`] } : {}),
  }));
  await client.apply([
    { apiVersion: "forja.dev/v1", kind: "Pipeline", metadata: { name: "chain", project: "default" }, spec: { steps: chainSteps } },
    {
      apiVersion: "forja.dev/v1",
      kind: "Pipeline",
      metadata: { name: "fanout", project: "default" },
      spec: { steps: [{ name: "work", command: STEP, forEach: { items: Array.from({ length: FANOUT }, (_, i) => i), parallelism: CORES } }] },
    },
  ]);

  async function timeRun(pipeline: string): Promise<number> {
    const t0 = performance.now();
    const run = await client.request<{ metadata: { name: string } }>("POST", `/api/v1/projects/default/pipelines/${pipeline}/runs`, { body: { cache: false } });
    for (;;) {
      const r = await client.request<{ status: { phase: string; message?: string } }>("GET", `/api/v1/projects/default/pipelineruns/${run.metadata.name}`);
      if (r.status.phase === "Succeeded") return performance.now() - t0;
      if (r.status.phase === "Failed" || r.status.phase === "Cancelled") throw new Error(`${pipeline} run ${r.status.phase}: ${r.status.message ?? ""}`);
      await new Promise((res) => setTimeout(res, 20));
    }
  }

  // Warm up both paths (page cache, JIT, SQLite).
  await rawSequential(10);
  const rawChain = await rawSequential(CHAIN);
  const orchChain = await timeRun("chain");
  const rawFan = await rawParallel(FANOUT, CORES);
  const orchFan = await timeRun("fanout");

  const perStep = (orchChain - rawChain) / CHAIN;
  const ratio = orchFan / rawFan;
  const f = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  console.log(`pipelines benchmark — step: ${STEP.join(" ")}, cores: ${CORES}`);
  console.log(`(a) chain of ${CHAIN}:   raw ${f(rawChain)} (${(rawChain / CHAIN).toFixed(1)} ms/step), forja ${f(orchChain)} (${(orchChain / CHAIN).toFixed(1)} ms/step)`);
  console.log(`    orchestration overhead: ${perStep.toFixed(1)} ms/step  (target ≤ 10 ms: ${perStep <= 10 ? "met" : "NOT met"})`);
  console.log(`(b) fan-out of ${FANOUT}, parallelism ${CORES}:   raw ${f(rawFan)}, forja ${f(orchFan)}`);
  console.log(`    ratio to raw floor: ${ratio.toFixed(2)}×  (target ≤ 1.3×: ${ratio <= 1.3 ? "met" : "NOT met"})`);

  await platform.stop();
  rmSync(dataDir, { recursive: true, force: true });
}

await main();
