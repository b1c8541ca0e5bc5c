/**
 * Orchestration overhead of LocalProcessRuntime versus spawning the same processes directly.
 *
 *   npx tsx bench/runtime-spawn.ts [N]        (default N=200)
 *
 * - sequential: N workloads of /bin/true, one after the other (start, wait for the end, next).
 * - fan-out:    N workloads of /bin/true started at once with maxConcurrent=2 (raw floor: a pool of
 *               2 direct spawns).
 * - limits:     sequential again, with memory + cpu limits (cgroups when available, else prlimit).
 *
 * Prints wall-clock ms per workload for both, the overhead, and server (this process's) CPU per workload.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { isTerminal, type WorkloadSpec, type WorkloadStatus } from "../src/runtime/port.ts";
import { LocalProcessRuntime } from "../src/runtime/local/local-runtime.ts";

const N = Number(process.argv[2] ?? 200);
const WARMUP = 10;

interface Sample {
  readonly wallMs: number;
  readonly cpuMs: number;
}

async function measure(fn: () => Promise<void>): Promise<Sample> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000 };
}

function spawnTrue(): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const child = spawn("/bin/true", [], { stdio: "ignore" });
    child.once("error", reject);
    child.once("exit", () => resolve());
  });
}

async function directSequential(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await spawnTrue();
}

async function directPool(n: number, width: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      next++;
      await spawnTrue();
    }
  };
  await Promise.all(Array.from({ length: width }, worker));
}

/** Resolves when workload `id` is terminal, via onChange (no polling). */
function ends(rt: LocalProcessRuntime): (id: string) => Promise<WorkloadStatus> {
  const waiting = new Map<string, (s: WorkloadStatus) => void>();
  rt.onChange((s) => {
    if (!isTerminal(s.phase)) return;
    waiting.get(s.id)?.(s);
    waiting.delete(s.id);
  });
  return (id) =>
    new Promise<WorkloadStatus>((resolve) => {
      waiting.set(id, resolve);
      void rt.get(id).then((s) => {
        if (s && isTerminal(s.phase)) {
          waiting.delete(id);
          resolve(s);
        }
      });
    });
}

function check(s: WorkloadStatus): void {
  if (s.phase !== "Succeeded") throw new Error(`workload ${s.id} ended ${s.phase}/${s.reason}: ${s.message ?? ""}`);
}

let counter = 0;
function spec(extra: Partial<WorkloadSpec> = {}): WorkloadSpec {
  return { id: `bench-${process.pid}-${++counter}`, command: ["/bin/true"], ...extra };
}

async function withRuntime(maxConcurrent: number | undefined, fn: (rt: LocalProcessRuntime, end: (id: string) => Promise<WorkloadStatus>) => Promise<void>): Promise<void> {
  const rootDir = await mkdtemp(path.join(os.tmpdir(), "forja-bench-"));
  const rt = new LocalProcessRuntime({ rootDir, maxConcurrent });
  try {
    await fn(rt, ends(rt));
  } finally {
    await rt.close();
    await rm(rootDir, { recursive: true, force: true });
  }
}

async function runtimeSequential(n: number, extra?: Partial<WorkloadSpec>): Promise<Sample> {
  let sample: Sample | undefined;
  await withRuntime(undefined, async (rt, end) => {
    for (let i = 0; i < WARMUP; i++) {
      const s = spec(extra);
      await rt.start(s);
      check(await end(s.id));
    }
    sample = await measure(async () => {
      for (let i = 0; i < n; i++) {
        const s = spec(extra);
        await rt.start(s);
        check(await end(s.id));
      }
    });
  });
  return sample!;
}

async function runtimeFanOut(n: number, width: number): Promise<Sample> {
  let sample: Sample | undefined;
  await withRuntime(width, async (rt, end) => {
    for (let i = 0; i < WARMUP; i++) {
      const s = spec();
      await rt.start(s);
      check(await end(s.id));
    }
    sample = await measure(async () => {
      const specs = Array.from({ length: n }, () => spec());
      const done = specs.map((s) => end(s.id));
      for (const s of specs) await rt.start(s);
      for (const s of await Promise.all(done)) check(s);
    });
  });
  return sample!;
}

function row(label: string, raw: Sample, rt: Sample, n: number): string {
  const per = (x: number) => (x / n).toFixed(2).padStart(7);
  return [
    label.padEnd(34),
    `direct ${per(raw.wallMs)} ms`,
    `runtime ${per(rt.wallMs)} ms`,
    `overhead ${per(rt.wallMs - raw.wallMs)} ms`,
    `ratio ${(rt.wallMs / raw.wallMs).toFixed(2)}x`,
    `| server CPU direct ${per(raw.cpuMs)} ms, runtime ${per(rt.cpuMs)} ms`,
  ].join("  ");
}

async function main(): Promise<void> {
  console.log(`node ${process.version}, ${os.cpus().length} CPUs, N=${N} (per-workload figures)`);
  await directSequential(WARMUP);
  const rawSeq = await measure(() => directSequential(N));
  const rtSeq = await runtimeSequential(N);
  console.log(row("sequential /bin/true", rawSeq, rtSeq, N));

  await directPool(WARMUP, 2);
  const rawPool = await measure(() => directPool(N, 2));
  const rtPool = await runtimeFanOut(N, 2);
  console.log(row("fan-out /bin/true, maxConcurrent=2", rawPool, rtPool, N));

  const limits = { resources: { limits: { memoryBytes: 256 * 1024 * 1024, cpu: 1 } } };
  const support = await (async () => {
    let s = "";
    await withRuntime(undefined, (rt) => {
      const l = rt.limitSupport();
      s = `memory=${l.memory}, cpu=${l.cpu}`;
      return Promise.resolve();
    });
    return s;
  })();
  const rtLim = await runtimeSequential(N, limits);
  console.log(row(`sequential + limits (${support})`, rawSeq, rtLim, N));
}

await main();
