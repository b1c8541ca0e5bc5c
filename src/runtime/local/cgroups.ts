/**
 * cgroup support for the local runtime: detect a writable memory / cpu controller (cgroup v1
 * hierarchies first, then a cgroup v2 hierarchy), create one child cgroup per workload under the
 * server's own cgroup, write its limits, read its OOM-kill counter and remove it afterwards.
 *
 * Layout: `<server cgroup>/forja-<hash of rootDir>/<workload id>` in each used hierarchy.
 * Nothing here throws on a missing or read-only cgroup fs: detection reports what is usable and
 * callers fall back (prlimit, or no enforcement).
 */
import * as fs from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export type CgroupController = "memory" | "cpu";

export interface CgroupRef {
  readonly version: 1 | 2;
  readonly dir: string;
}

/** Parent cgroup (per controller) under which workload cgroups are created. */
export interface CgroupSupport {
  readonly memory?: CgroupRef;
  readonly cpu?: CgroupRef;
}

/** The cgroups of one workload; persisted in state.json for recovery. */
export interface WorkloadCgroups {
  readonly memory?: CgroupRef;
  readonly cpu?: CgroupRef;
}

export interface CgroupLimits {
  readonly memoryBytes?: number;
  readonly cpu?: number;
}

export const CPU_PERIOD_US = 100_000;

interface Mount {
  readonly root: string;
  readonly mountPoint: string;
  readonly fsType: string;
  readonly superOptions: readonly string[];
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

function parseMountInfo(text: string): Mount[] {
  const mounts: Mount[] = [];
  for (const line of text.split("\n")) {
    const parts = line.split(" ");
    const sep = parts.indexOf("-");
    const root = parts[3];
    const mountPoint = parts[4];
    const fsType = parts[sep + 1];
    const superOptions = parts[sep + 3];
    if (sep < 0 || root === undefined || mountPoint === undefined || fsType === undefined || superOptions === undefined) {
      continue;
    }
    mounts.push({ root: unescapeMount(root), mountPoint: unescapeMount(mountPoint), fsType, superOptions: superOptions.split(",") });
  }
  return mounts;
}

interface ProcCgroups {
  /** controller → path, for cgroup v1 hierarchies. */
  readonly v1: ReadonlyMap<string, string>;
  readonly v2?: string;
}

function parseProcCgroup(text: string): ProcCgroups {
  const v1 = new Map<string, string>();
  let v2: string | undefined;
  for (const line of text.split("\n")) {
    const first = line.indexOf(":");
    const second = line.indexOf(":", first + 1);
    if (first < 0 || second < 0) continue;
    const controllers = line.slice(first + 1, second);
    const p = line.slice(second + 1);
    if (controllers === "") v2 = p;
    else for (const c of controllers.split(",")) v1.set(c, p);
  }
  return { v1, v2 };
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

function hierarchyDir(mount: Mount, cgroupPath: string): string {
  const rel = path.posix.relative(mount.root, cgroupPath);
  return rel.startsWith("..") ? mount.mountPoint : path.join(mount.mountPoint, rel);
}

function tryWrite(file: string, value: string): boolean {
  try {
    fs.writeFileSync(file, value);
    return true;
  } catch {
    return false;
  }
}

function detectV1(controller: CgroupController, mounts: readonly Mount[], self: ProcCgroups, namespace: string): CgroupRef | undefined {
  const mount = mounts.find((m) => m.fsType === "cgroup" && m.superOptions.includes(controller));
  const own = self.v1.get(controller);
  if (!mount || own === undefined) return undefined;
  const parent = path.join(hierarchyDir(mount, own), namespace);
  const probe = controller === "memory" ? "memory.limit_in_bytes" : "cpu.cfs_quota_us";
  try {
    fs.mkdirSync(parent, { recursive: true });
    fs.accessSync(path.join(parent, probe), fs.constants.W_OK);
    return { version: 1, dir: parent };
  } catch {
    return undefined;
  }
}

function detectV2(controller: CgroupController, mounts: readonly Mount[], self: ProcCgroups, namespace: string): CgroupRef | undefined {
  const mount = mounts.find((m) => m.fsType === "cgroup2");
  if (!mount || self.v2 === undefined) return undefined;
  const base = hierarchyDir(mount, self.v2);
  const available = (readText(path.join(base, "cgroup.controllers")) ?? "").trim().split(/\s+/);
  if (!available.includes(controller)) return undefined;
  const enabled = () => (readText(path.join(base, "cgroup.subtree_control")) ?? "").trim().split(/\s+/).includes(controller);
  // Enabling a controller for children fails (EBUSY) while the server's own cgroup holds processes
  // and is not the root — the "no internal processes" rule. Then we cannot use v2 here.
  if (!enabled() && !(tryWrite(path.join(base, "cgroup.subtree_control"), `+${controller}`) && enabled())) return undefined;
  const parent = path.join(base, namespace);
  try {
    fs.mkdirSync(parent, { recursive: true });
  } catch {
    return undefined;
  }
  if (!tryWrite(path.join(parent, "cgroup.subtree_control"), `+${controller}`)) return undefined;
  return { version: 2, dir: parent };
}

/** Find writable memory / cpu controllers. `namespace` names the per-runtime parent cgroup. */
export function detectCgroups(namespace: string): CgroupSupport {
  const mountInfo = readText("/proc/self/mountinfo");
  const procCgroup = readText("/proc/self/cgroup");
  if (mountInfo === undefined || procCgroup === undefined) return {};
  const mounts = parseMountInfo(mountInfo);
  const self = parseProcCgroup(procCgroup);
  const pick = (c: CgroupController) => detectV1(c, mounts, self, namespace) ?? detectV2(c, mounts, self, namespace);
  return { memory: pick("memory"), cpu: pick("cpu") };
}

export interface CreatedCgroups {
  readonly cgroups: WorkloadCgroups;
  /** `cgroup.procs` files the workload must join before exec. */
  readonly procsFiles: readonly string[];
  readonly problems: readonly string[];
}

function writeMemoryLimit(ref: CgroupRef, bytes: number): void {
  if (ref.version === 1) {
    fs.writeFileSync(path.join(ref.dir, "memory.limit_in_bytes"), String(bytes));
    tryWrite(path.join(ref.dir, "memory.memsw.limit_in_bytes"), String(bytes)); // only with swap accounting
  } else {
    fs.writeFileSync(path.join(ref.dir, "memory.max"), String(bytes));
    tryWrite(path.join(ref.dir, "memory.swap.max"), "0");
  }
}

function writeCpuLimit(ref: CgroupRef, cpu: number): void {
  const quota = Math.max(1000, Math.round(cpu * CPU_PERIOD_US));
  if (ref.version === 1) {
    fs.writeFileSync(path.join(ref.dir, "cpu.cfs_period_us"), String(CPU_PERIOD_US));
    fs.writeFileSync(path.join(ref.dir, "cpu.cfs_quota_us"), String(quota));
  } else {
    fs.writeFileSync(path.join(ref.dir, "cpu.max"), `${quota} ${CPU_PERIOD_US}`);
  }
}

function makeChild(parent: CgroupRef, id: string): CgroupRef {
  const dir = path.join(parent.dir, id);
  fs.mkdirSync(dir, { recursive: true });
  return { version: parent.version, dir };
}

/** Create the workload's cgroups and write its limits; a controller that fails is left out and reported. */
export function createWorkloadCgroups(support: CgroupSupport, id: string, limits: CgroupLimits): CreatedCgroups {
  const problems: string[] = [];
  let memory: CgroupRef | undefined;
  let cpu: CgroupRef | undefined;
  if (limits.memoryBytes !== undefined && support.memory) {
    try {
      memory = makeChild(support.memory, id);
      writeMemoryLimit(memory, limits.memoryBytes);
    } catch (e) {
      problems.push(`memory cgroup: ${(e as Error).message}`);
      if (memory) removeDirQuietly(memory.dir);
      memory = undefined;
    }
  }
  if (limits.cpu !== undefined && support.cpu) {
    try {
      cpu = makeChild(support.cpu, id);
      writeCpuLimit(cpu, limits.cpu);
    } catch (e) {
      problems.push(`cpu cgroup: ${(e as Error).message}`);
      if (cpu && cpu.dir !== memory?.dir) removeDirQuietly(cpu.dir);
      cpu = undefined;
    }
  }
  const cgroups: WorkloadCgroups = { memory, cpu };
  return { cgroups, procsFiles: uniqueDirs(cgroups).map((d) => path.join(d, "cgroup.procs")), problems };
}

function uniqueDirs(cg: WorkloadCgroups): string[] {
  return [...new Set([cg.memory?.dir, cg.cpu?.dir].filter((d): d is string => d !== undefined))];
}

/** rmdir a cgroup if it is empty (no processes, no children); silently keeps it otherwise. */
export function removeEmptyCgroup(dir: string): void {
  removeDirQuietly(dir);
}

function removeDirQuietly(dir: string): void {
  try {
    fs.rmdirSync(dir);
  } catch {
    // best effort
  }
}

/** Number of OOM kills inside the workload's memory cgroup (0 when unknown). */
export function oomKillCount(cg: WorkloadCgroups): number {
  const mem = cg.memory;
  if (!mem) return 0;
  const text = readText(path.join(mem.dir, mem.version === 1 ? "memory.oom_control" : "memory.events")) ?? "";
  const m = /^oom_kill (\d+)$/m.exec(text);
  return m?.[1] !== undefined ? Number(m[1]) : 0;
}

/** Every pid currently in the workload's cgroups (catches processes that left the process group). */
export function cgroupPids(cg: WorkloadCgroups): number[] {
  const pids = new Set<number>();
  for (const dir of uniqueDirs(cg)) {
    for (const line of (readText(path.join(dir, "cgroup.procs")) ?? "").split("\n")) {
      const pid = Number(line);
      if (line !== "" && Number.isInteger(pid)) pids.add(pid);
    }
  }
  return [...pids];
}

/** Remove the workload's cgroups, retrying briefly while killed processes are still leaving. */
export async function removeWorkloadCgroups(cg: WorkloadCgroups, attempts = 20): Promise<boolean> {
  let ok = true;
  for (const dir of uniqueDirs(cg)) {
    let removed = false;
    for (let i = 0; i < attempts && !removed; i++) {
      try {
        fs.rmdirSync(dir);
        removed = true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") removed = true;
        else await sleep(50, undefined, { ref: false });
      }
    }
    ok &&= removed;
  }
  return ok;
}
