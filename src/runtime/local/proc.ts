/**
 * Process identity and signalling helpers for the local runtime (Linux /proc; degrades to
 * `kill(pid, 0)` where /proc is missing).
 *
 * A pid alone is not an identity: after a server crash the pid of a finished workload may have
 * been reused. We therefore record the kernel start time of the process (field 22 of
 * /proc/<pid>/stat, in clock ticks since boot) and the boot id, and only treat a pid as "our"
 * process when both still match.
 */
import * as fs from "node:fs";

export interface ProcessIdentity {
  readonly pid: number;
  /** /proc/<pid>/stat starttime (clock ticks since boot), when /proc is available. */
  readonly startTime?: string;
  /** /proc/sys/kernel/random/boot_id, when available. */
  readonly bootId?: string;
}

/** alive: the same process is still running; gone: no such process (or a zombie); reused: the pid now belongs to another process. */
export type ProcessState = "alive" | "gone" | "reused";

const hasProc = fs.existsSync("/proc/self/stat");

function readBootId(): string | undefined {
  try {
    return fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return undefined;
  }
}
const currentBootId = readBootId();

interface ProcStat {
  readonly state: string;
  readonly session: string;
  readonly startTime: string;
}

function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid ..." — comm may contain spaces and parentheses: split after the last ')'.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const state = fields[0];
  const session = fields[3]; // field 6
  const startTime = fields[19]; // field 22 overall; fields[0] is field 3
  if (state === undefined || session === undefined || startTime === undefined) return undefined;
  return { state, session, startTime };
}

/** Identity of a process that was just spawned. */
export function identify(pid: number): ProcessIdentity {
  const stat = readProcStat(pid);
  return { pid, startTime: stat?.startTime, bootId: currentBootId };
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function processState(id: ProcessIdentity): ProcessState {
  if (id.bootId !== undefined && currentBootId !== undefined && id.bootId !== currentBootId) return "reused";
  if (!hasProc) return pidExists(id.pid) ? "alive" : "gone";
  const stat = readProcStat(id.pid);
  if (stat === undefined) return "gone";
  if (id.startTime !== undefined && stat.startTime !== id.startTime) return "reused";
  if (stat.state === "Z" || stat.state === "X") return "gone";
  return "alive";
}

function kill(target: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(target, signal);
    return true;
  } catch {
    return false; // ESRCH: nothing (left) to signal
  }
}

/**
 * Signal the process group led by `id.pid` (the workload's supervisor is a session and group
 * leader). Safe against pid reuse: when the pid now belongs to another process we do nothing.
 * When the leader is gone the group id cannot have been reused while members remain (Linux keeps
 * a pid allocated while it is in use as a process group id), so stragglers are still reached.
 */
export function signalGroup(id: ProcessIdentity, signal: NodeJS.Signals): boolean {
  if (processState(id) === "reused") return false;
  return kill(-id.pid, signal);
}

/** Signal process group `pgid` without an identity check: only for a group leader we spawned and have not reaped yet. */
export function killGroup(pgid: number, signal: NodeJS.Signals): boolean {
  return pgid > 1 && kill(-pgid, signal);
}

/**
 * Signal every process of session `sid` but its leader's group (signalled by the caller): what
 * moved to a process group of its own stays in the session — GNU `timeout`, a shell's job
 * control, `setpgid` — and must go with the workload. Only `setsid` leaves the session; cgroups
 * (when the workload has limits) catch that too. One pass over /proc; nothing where it is missing.
 * The caller guarantees `sid` is still the workload's (its leader not yet reaped, or just reaped
 * with members left, which keeps the id allocated), as for killGroup.
 */
export function killSessionStragglers(sid: number, signal: NodeJS.Signals): void {
  if (!hasProc || sid <= 1) return;
  let names: string[];
  try {
    names = fs.readdirSync("/proc");
  } catch {
    return;
  }
  const session = String(sid);
  // Members were started after their leader, so their pids are larger, unless the pid counter
  // wrapped around since: then (the last pid given out is below the leader's) read them all.
  // Spares a stat read for every older process on the machine.
  const last = lastPid();
  const any = last === undefined || last < sid;
  for (const name of names) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid || pid === sid || (!any && pid < sid)) continue;
    if (readProcStat(pid)?.session === session) kill(pid, signal);
  }
}

/** The pid most recently given out (the last field of /proc/loadavg). */
function lastPid(): number | undefined {
  try {
    const last = Number(fs.readFileSync("/proc/loadavg", "utf8").trim().split(" ").pop());
    return Number.isInteger(last) && last > 0 ? last : undefined;
  } catch {
    return undefined;
  }
}

/** killSessionStragglers for a supervisor known by identity (after a restart): nothing when its pid was reused. */
export function signalSessionStragglers(id: ProcessIdentity, signal: NodeJS.Signals): void {
  if (processState(id) === "reused") return;
  killSessionStragglers(id.pid, signal);
}

export function signalPids(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const pid of pids) if (pid > 1 && pid !== process.pid) kill(pid, signal);
}

/**
 * Live session leaders whose command line contains one of `needles`, as needle → pid: one pass
 * over /proc (for recovery only, never on the hot path). Empty where /proc is missing.
 */
export function findSessionLeaders(needles: readonly string[]): Map<string, number> {
  const found = new Map<string, number>();
  if (!hasProc || needles.length === 0) return found;
  let names: string[];
  try {
    names = fs.readdirSync("/proc");
  } catch {
    return found;
  }
  for (const name of names) {
    if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue; // not a pid
    let cmdline: string;
    try {
      cmdline = fs.readFileSync(`/proc/${name}/cmdline`, "utf8");
    } catch {
      continue;
    }
    const needle = needles.find((n) => !found.has(n) && cmdline.includes(n));
    if (needle === undefined) continue;
    const stat = readProcStat(Number(name));
    if (stat && stat.session === name && stat.state !== "Z" && stat.state !== "X") found.set(needle, Number(name));
  }
  return found;
}

/** True while `pid` names a live (non-zombie) process. For tests and diagnostics. */
export function isPidAlive(pid: number): boolean {
  if (!pidExists(pid)) return false;
  const stat = hasProc ? readProcStat(pid) : undefined;
  return !(stat && (stat.state === "Z" || stat.state === "X"));
}
