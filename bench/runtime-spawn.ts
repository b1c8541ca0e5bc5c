/**
 * Orchestration overhead of LocalProcessRuntime versus spawning the same processes directly.
 *
 *   npx tsx bench/runtime-spawn.ts [N=200] [ROUNDS=3]
 *
 * - sequential: N workloads of /bin/true, one after the other (start, wait for the end, next).
 *   Direct and runtime runs are interleaved one by one, so that load from other processes on
 *   the machine hits both alike.
 * - fan-out:    N workloads of /bin/true submitted at once to a runtime with maxConcurrent=2;
 *   the raw floor is a pool of 2 direct spawns. Direct and runtime rounds alternate.
 * - limits:     sequential again, with memory + cpu limits (cgroups when available, else RLIMIT_AS).
 *
 * Prints, per workload, the median over ROUNDS of: wall-clock ms (direct, runtime, overhead,
 * ratio), the CPU time of this (server) process, and the CPU time of the reaped child processes
 * (Linux: cutime + cstime of /proc/self/stat, 10 ms ticks; for the runtime that is the supervisor
 * shell, its subshell, the command and mv). On a saturated machine, server + children CPU is what
 * bounds a fan-out.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { isTerminal, type WorkloadSpec, type WorkloadStatus } from "../src/runtime/port.ts";
import { LocalProcessRuntime } from "../src/runtime/local/local-runtime.ts";
import { measure, type Sample } from "./measure.ts";

const N = Number(process.argv[2] ?? 200);
const ROUNDS = Number(process.argv[3] ?? 3);
const WARMUP = 10;

function add(into: Sample, s: Sample): void {
  into.wallMs += s.wallMs;
  into.cpuMs += s.cpuMs;
  into.childCpuMs += s.childCpuMs;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function spawnTrue(): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const child = spawn("/bin/true", [], { stdio: "ignore" });
    child.once("error", reject);
    child.once("exit", () => resolve());
  });
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

async function withRuntime<T>(
  maxConcurrent: number | undefined,
  fn: (rt: LocalProcessRuntime, end: (id: string) => Promise<WorkloadStatus>) => Promise<T>,
): Promise<T> {
  const rootDir = await mkdtemp(path.join(os.tmpdir(), "forja-bench-"));
  const rt = new LocalProcessRuntime({ rootDir, maxConcurrent });
  try {
    const end = ends(rt);
    for (let i = 0; i < WARMUP; i++) {
      const s = spec();
      await rt.start(s);
      check(await end(s.id));
    }
    return await fn(rt, end);
  } finally {
    await rt.close();
    await rm(rootDir, { recursive: true, force: true });
  }
}

/** One round of N sequential steps, direct and runtime interleaved one by one. */
async function sequentialRound(n: number, extra?: Partial<WorkloadSpec>): Promise<{ raw: Sample; rt: Sample }> {
  return withRuntime(undefined, async (rt, end) => {
    const raw: Sample = { wallMs: 0, cpuMs: 0, childCpuMs: 0 };
    const viaRuntime: Sample = { wallMs: 0, cpuMs: 0, childCpuMs: 0 };
    const step = async () => {
      const s = spec(extra);
      await rt.start(s);
      check(await end(s.id));
    };
    for (let i = 0; i < n; i++) {
      if (i % 2 === 0) {
        add(raw, await measure(spawnTrue));
        add(viaRuntime, await measure(step));
      } else {
        add(viaRuntime, await measure(step));
        add(raw, await measure(spawnTrue));
      }
    }
    return { raw, rt: viaRuntime };
  });
}

/** One round of a fan-out of N with width 2: direct pool, then the runtime. */
async function fanOutRound(n: number, width: number): Promise<{ raw: Sample; rt: Sample }> {
  await directPool(WARMUP, width);
  const raw = await measure(() => directPool(n, width));
  const viaRuntime = await withRuntime(width, (rt, end) =>
    measure(async () => {
      const specs = Array.from({ length: n }, () => spec());
      const done = specs.map((s) => end(s.id));
      for (const s of specs) await rt.start(s);
      for (const s of await Promise.all(done)) check(s);
    }),
  );
  return { raw, rt: viaRuntime };
}

function report(label: string, rounds: { raw: Sample; rt: Sample }[], n: number): void {
  const per = (f: (r: { raw: Sample; rt: Sample }) => number) => median(rounds.map(f)) / n;
  const rawWall = per((r) => r.raw.wallMs);
  const rtWall = per((r) => r.rt.wallMs);
  const over = per((r) => r.rt.wallMs - r.raw.wallMs);
  const ratio = median(rounds.map((r) => r.rt.wallMs / r.raw.wallMs));
  const f = (x: number) => x.toFixed(2).padStart(7);
  console.log(
    `${label.padEnd(40)} direct ${f(rawWall)} ms  runtime ${f(rtWall)} ms  overhead ${f(over)} ms  ratio ${ratio.toFixed(2)}x` +
      `  | server CPU: direct ${f(per((r) => r.raw.cpuMs))} ms, runtime ${f(per((r) => r.rt.cpuMs))} ms` +
      `  | child CPU: direct ${f(per((r) => r.raw.childCpuMs))} ms, runtime ${f(per((r) => r.rt.childCpuMs))} ms`,
  );
}

async function main(): Promise<void> {
  const load = os.loadavg()[0]!.toFixed(1);
  console.log(`node ${process.version}, ${os.cpus().length} CPUs, load ${load}, N=${N}, median of ${ROUNDS} rounds, per-workload figures`);

  const seq = [];
  for (let r = 0; r < ROUNDS; r++) seq.push(await sequentialRound(N));
  report("sequential /bin/true", seq, N);

  const fan = [];
  for (let r = 0; r < ROUNDS; r++) fan.push(await fanOutRound(N, 2));
  report("fan-out /bin/true, maxConcurrent=2", fan, N);

  const support = await withRuntime(undefined, (rt) => {
    const l = rt.limitSupport();
    return Promise.resolve(`memory=${l.memory}, cpu=${l.cpu}`);
  });
  const limits = { resources: { limits: { memoryBytes: 256 * 1024 * 1024, cpu: 1 } } };
  const lim = [];
  for (let r = 0; r < ROUNDS; r++) lim.push(await sequentialRound(N, limits));
  report(`sequential + limits (${support})`, lim, N);
}

await main();
