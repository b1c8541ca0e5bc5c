/**
 * Orchestration overhead of pipelines versus the raw floor, measured in the same run:
 *   (a) a chain of 200 trivial steps, versus spawning the same 200 processes one after another;
 *   (b) a fan-out of 500 trivial steps with parallelism = cores, versus spawning the same 500
 *       processes directly with the same concurrency.
 * Targets (issue): (a) ≤ 10 ms orchestration overhead per step; (b) total ≤ 1.3× the raw floor.
 *
 *   npx tsx bench/pipelines.ts [--step node|true] [--chain 200] [--fanout 500] [--rounds 3]
 *
 * The trivial step is `node -e 0` by default (Forja steps are usually Node scripts); `--step true`
 * uses /bin/true to expose the orchestration cost alone. Caching is off for the measured runs.
 *
 * Raw and Forja alternate, `--rounds` times per scenario, and the figures are the medians of the
 * per-round comparisons: load from other processes then hits both sides alike. A run's end is the
 * store's change event for its final status (the platform runs in this process), not an API poll:
 * polling every few milliseconds would add server work of its own (a 500-node status is ~200 KB)
 * that no client produces. Also printed, per step: the CPU time of this process (the server, or
 * the raw spawner) and of its reaped children (the steps, and for Forja their supervisor shells):
 * on a saturated machine, CPU is what bounds a fan-out.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { SYSTEM } from "../src/auth/principal.ts";
import { ForjaClient } from "../src/client/client.ts";
import type { PipelineRunStatus } from "../src/pipelines/kinds.ts";
import { loadServerConfig } from "../src/platform/config.ts";
import { createPlatform } from "../src/server/platform.ts";
import { measure, type Sample } from "./measure.ts";

const { values } = parseArgs({
  options: {
    step: { type: "string", default: "node" },
    chain: { type: "string", default: "200" },
    fanout: { type: "string", default: "500" },
    rounds: { type: "string", default: "3" },
  },
});
const CHAIN = Number(values.chain);
const FANOUT = Number(values.fanout);
const ROUNDS = Number(values.rounds);
const CORES = availableParallelism();
const STEP: string[] = values.step === "true" ? ["/bin/true"] : [process.execPath, "-e", "0"];
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function spawnOnce(argv: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    // The same minimal environment workloads get (not this process's, which carries the tsx loader).
    const p = spawn(argv[0]!, argv.slice(1), { stdio: "ignore", env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } });
    p.on("error", reject);
    p.on("exit", () => resolve());
  });
}

async function rawSequential(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await spawnOnce(STEP);
}

async function rawParallel(n: number, concurrency: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        next++;
        await spawnOnce(STEP);
      }
    }),
  );
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
    { apiVersion: "forja.dev/v1", kind: "Pipeline", metadata: { name: "warmup", project: "default" }, spec: { steps: chainSteps.slice(0, 10) } },
    { apiVersion: "forja.dev/v1", kind: "Pipeline", metadata: { name: "chain", project: "default" }, spec: { steps: chainSteps } },
    {
      apiVersion: "forja.dev/v1",
      kind: "Pipeline",
      metadata: { name: "fanout", project: "default" },
      spec: { steps: [{ name: "work", command: STEP, forEach: { items: Array.from({ length: FANOUT }, (_, i) => i), parallelism: CORES } }] },
    },
  ]);

  // Final statuses, by run name, as the store reports them.
  const waiting = new Map<string, (status: PipelineRunStatus) => void>();
  platform.ctx.repo.watch((e) => {
    if (e.resource.kind !== "PipelineRun") return;
    const status = e.resource.status as PipelineRunStatus;
    if (status.phase === "Succeeded" || status.phase === "Failed" || status.phase === "Cancelled") waiting.get(e.resource.metadata.name)?.(status);
  });
  let runs = 0;
  async function forjaRun(pipeline: string): Promise<void> {
    const name = `${pipeline}-${++runs}`;
    const ended = new Promise<PipelineRunStatus>((resolve) => waiting.set(name, resolve));
    await client.request("POST", `/api/v1/projects/default/pipelines/${pipeline}/runs`, { body: { name, cache: false } });
    const status = await ended;
    waiting.delete(name);
    if (status.phase !== "Succeeded") throw new Error(`${pipeline} run ${status.phase}: ${status.message ?? ""}`);
  }

  /** `rounds` pairs of (raw, forja) samples; which side goes first alternates too. */
  async function compare(raw: () => Promise<void>, forja: () => Promise<void>): Promise<{ raw: Sample; forja: Sample }[]> {
    const out: { raw: Sample; forja: Sample }[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      if (r % 2 === 0) {
        const rawSample = await measure(raw);
        out.push({ raw: rawSample, forja: await measure(forja) });
      } else {
        const forjaSample = await measure(forja);
        out.push({ raw: await measure(raw), forja: forjaSample });
      }
    }
    return out;
  }

  // Warm up both paths (page cache, JIT, SQLite).
  await rawSequential(10);
  await forjaRun("warmup");
  const chain = await compare(() => rawSequential(CHAIN), () => forjaRun("chain"));
  const fan = await compare(() => rawParallel(FANOUT, CORES), () => forjaRun("fanout"));

  const perStep = median(chain.map((c) => (c.forja.wallMs - c.raw.wallMs) / CHAIN));
  const ratio = median(fan.map((c) => c.forja.wallMs / c.raw.wallMs));
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const list = (xs: number[], digits: number) => xs.map((x) => x.toFixed(digits)).join(", ");
  const cpu = (samples: { raw: Sample; forja: Sample }[], n: number) => {
    const of = (side: "raw" | "forja", k: "cpuMs" | "childCpuMs") => median(samples.map((c) => c[side][k] / n)).toFixed(1);
    return `CPU ms/step: this process raw ${of("raw", "cpuMs")}, forja ${of("forja", "cpuMs")}; children raw ${of("raw", "childCpuMs")}, forja ${of("forja", "childCpuMs")}`;
  };
  console.log(`pipelines benchmark — step: ${STEP.join(" ")}, cores: ${CORES}, rounds: ${ROUNDS} (medians; per round in brackets)`);
  console.log(`(a) chain of ${CHAIN}:   raw ${s(median(chain.map((c) => c.raw.wallMs)))}, forja ${s(median(chain.map((c) => c.forja.wallMs)))}`);
  console.log(`    orchestration overhead: ${perStep.toFixed(1)} ms/step [${list(chain.map((c) => (c.forja.wallMs - c.raw.wallMs) / CHAIN), 1)}]  (target ≤ 10 ms: ${perStep <= 10 ? "met" : "NOT met"})`);
  console.log(`    ${cpu(chain, CHAIN)}`);
  console.log(`(b) fan-out of ${FANOUT}, parallelism ${CORES}:   raw ${s(median(fan.map((c) => c.raw.wallMs)))}, forja ${s(median(fan.map((c) => c.forja.wallMs)))}`);
  console.log(`    ratio to raw floor: ${ratio.toFixed(2)}× [${list(fan.map((c) => c.forja.wallMs / c.raw.wallMs), 2)}]  (target ≤ 1.3×: ${ratio <= 1.3 ? "met" : "NOT met"})`);
  console.log(`    ${cpu(fan, FANOUT)}`);

  await platform.stop();
  rmSync(dataDir, { recursive: true, force: true });
}

await main();
