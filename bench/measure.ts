/** Wall time and CPU time (this process, and its reaped children) of one measured call. */
import { readFileSync } from "node:fs";

export interface Sample {
  wallMs: number;
  cpuMs: number;
  childCpuMs: number;
}

const TICK_MS = 10; // USER_HZ = 100 on Linux

/** CPU time of the reaped children of this process (ms), NaN where /proc is missing. */
export function childCpuMs(): number {
  try {
    const stat = readFileSync("/proc/self/stat", "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[13]) + Number(fields[14])) * TICK_MS; // cutime, cstime (fields 16 and 17)
  } catch {
    return Number.NaN;
  }
}

export async function measure(fn: () => Promise<unknown>): Promise<Sample> {
  const cpu0 = process.cpuUsage();
  const child0 = childCpuMs();
  const t0 = performance.now();
  await fn();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000, childCpuMs: childCpuMs() - child0 };
}
