/**
 * Local-process adapter of the workload runtime port: each workload is a host process tree,
 * supervised by a few lines of POSIX sh (supervisor.ts) so that its exit status is recorded even
 * when the Forja server is not running. See src/runtime/README.md for the on-disk layout, the
 * environment a workload gets and which resource limits are enforced.
 *
 * Hot path (start → exit): a handful of sync syscalls (3 mkdir, 2 open/close, a few stat for the
 * PATH lookup, one /proc read, 3 state.json writes (Pending before the spawn, Running with the
 * pid, the end — once the listeners have seen it), one exit record read + rename), one spawn, no
 * helper processes and no polling: the supervisor is our child, and its 'exit' event settles the
 * workload.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { EventEmitter } from "node:events";
import * as fs from "node:fs";
import { open, readdir, rm } from "node:fs/promises";
import path from "node:path";
import { ConflictError, InvalidInputError, NotFoundError, UnavailableError, errorMessage } from "../../platform/errors.ts";
import {
  canTransition,
  isTerminal,
  type LogChunk,
  type LogOptions,
  type TerminationReason,
  type WorkloadPhase,
  type WorkloadRuntime,
  type WorkloadSpec,
  type WorkloadStatus,
} from "../port.ts";
import {
  cgroupPids,
  createWorkloadCgroups,
  detectCgroups,
  oomKillCount,
  removeEmptyCgroup,
  removeWorkloadCgroups,
  type CgroupSupport,
  type WorkloadCgroups,
} from "./cgroups.ts";
import { findSessionLeaders, identify, killGroup, killSessionStragglers, processState, signalGroup, signalPids, signalSessionStragglers, type ProcessIdentity } from "./proc.ts";
import {
  EXIT_FILE,
  EXIT_TMP_FILE,
  SETUP_FAILED_STATUS,
  STOP_FILE,
  SUPERVISOR_NAME,
  decodeExitRecord,
  parseExitRecord,
  supervisorMarker,
  supervisorScript,
  type DecodedExit,
  type ExitRecord,
} from "./supervisor.ts";
import { isValidWorkloadId, validateGracePeriod, validateWorkloadSpec } from "./validate.ts";

export interface LocalRuntimeLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/**
 * How resource limits are enforced. `auto`: cgroups when writable, else RLIMIT_AS (memory only,
 * called "prlimit" for historical reasons; set by the supervisor's `ulimit -v`). `prlimit`: never
 * use cgroups. `none`: enforce nothing.
 */
export type LimitEnforcement = "auto" | "prlimit" | "none";

export interface LocalProcessRuntimeOptions {
  /** Directory holding one sub-directory per workload, e.g. `<dataDir>/workloads`. */
  readonly rootDir: string;
  /** At most this many workloads Running at once; the rest wait Pending in FIFO order. Default: unlimited. */
  readonly maxConcurrent?: number;
  /** Grace period between SIGTERM and SIGKILL when the spec sets none. Default 10. */
  readonly defaultGracePeriodSeconds?: number;
  readonly logger?: LocalRuntimeLogger;
  /** How often recovered (not spawned-by-us) workloads are checked, and followed logs are read. Default 200. */
  readonly pollIntervalMs?: number;
  /** Default "auto". */
  readonly limitEnforcement?: LimitEnforcement;
  /** PATH for workloads whose env sets none. Default: the directory of this Node binary + the standard system dirs. */
  readonly defaultPath?: string;
  /** POSIX shell that runs the supervisor. Default /bin/sh. */
  readonly shell?: string;
}

/** What this runtime can enforce on this host (see README). */
export interface LimitSupport {
  readonly memory: "cgroup-v1" | "cgroup-v2" | "prlimit" | "none";
  readonly cpu: "cgroup-v1" | "cgroup-v2" | "none";
}

const STATE_FILE = "state.json";
const STDOUT_FILE = "stdout.log";
const STDERR_FILE = "stderr.log";
const WORK_DIR = "work";
const TMP_DIR = "tmp";
const SYSTEM_PATH = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];
const MAX_TIMER_MS = 2 ** 31 - 1;
const READ_CHUNK = 64 * 1024;

type PersistedSpec = Omit<WorkloadSpec, "secretEnv"> & { readonly secretEnvKeys?: readonly string[] };

interface StopRequest {
  readonly reason: "Cancelled" | "Timeout";
  readonly requestedAt: string;
  readonly graceSeconds: number;
}

/** state.json — everything needed to resume tracking after a restart; never secret values. */
interface StateFile {
  readonly version: 1;
  readonly seq: number;
  readonly spec: PersistedSpec;
  readonly status: WorkloadStatus;
  readonly process?: ProcessIdentity;
  readonly cgroups?: WorkloadCgroups;
  readonly stop?: StopRequest;
}

interface Entry {
  readonly id: string;
  readonly dir: string;
  readonly seq: number;
  readonly spec: PersistedSpec;
  /** Held in memory only until the process is launched. */
  secretEnv: Readonly<Record<string, string>> | undefined;
  status: WorkloadStatus;
  process?: ProcessIdentity;
  cgroups?: WorkloadCgroups;
  stop?: StopRequest;
  child?: ChildProcess;
  timeoutTimer?: NodeJS.Timeout;
  killTimer?: NodeJS.Timeout;
  killAt?: number;
  pollTimer?: NodeJS.Timeout;
  ending: boolean;
  /** Its complete exit.json.tmp is still to be renamed to exit.json (with the next state.json write). */
  exitUnpromoted?: boolean;
}

interface Outcome {
  readonly phase: WorkloadPhase;
  readonly reason: TerminationReason;
  readonly message?: string;
  readonly exitCode?: number;
  readonly signal?: string;
  /** Default: now. */
  readonly finishedAt?: string;
}

/** What is known about the end of a supervisor, besides exit.json. */
interface GoneInfo {
  /** We were its parent and saw it exit (code, or the signal that killed it). */
  readonly supervisorExit?: { readonly code: number | null; readonly signal: string | null };
  readonly spawnError?: string;
}

class StartFailure extends Error {}

const noopLogger: LocalRuntimeLogger = { info() {}, warn() {}, error() {} };

function nowIso(): string {
  return new Date().toISOString();
}

/** Run `fn` and turn its result or exception into a promise. */
function settle<T>(fn: () => T): Promise<T> {
  return new Promise<T>((resolve) => resolve(fn()));
}

function makeStatus(s: WorkloadStatus): WorkloadStatus {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s)) if (v !== undefined) out[k] = v;
  out.labels = Object.freeze({ ...s.labels });
  return Object.freeze(out) as unknown as WorkloadStatus;
}

const TMP_SUFFIX = ".tmp";
const STATE_TMP_FILE = STATE_FILE + TMP_SUFFIX;

function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = file + TMP_SUFFIX;
  fs.writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
  fs.renameSync(tmp, file);
}

function readJson<T>(file: string): T | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

const isRoot = process.getuid?.() === 0;

/** stat without the cost of an exception for a missing file. */
function statOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.statSync(p, { throwIfNoEntry: false });
  } catch {
    return undefined; // ENOTDIR, EACCES, ...
  }
}

function isExecutableFile(p: string): boolean {
  const st = statOrUndefined(p);
  if (!st?.isFile() || (st.mode & 0o111) === 0) return false;
  if (isRoot) return true; // root may execute any file with an x bit
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Absolute path of `command` as execvp would find it: one stat per PATH entry tried, no exceptions. */
function resolveExecutable(command: string, pathVar: string | undefined, cwd: string): string {
  if (command.includes("/")) {
    const p = path.resolve(cwd, command);
    if (statOrUndefined(p) === undefined) throw new StartFailure(`command not found: ${command}`);
    if (!isExecutableFile(p)) throw new StartFailure(`command is not an executable file: ${command}`);
    return p;
  }
  for (const d of (pathVar ?? "").split(":")) {
    if (d === "") continue;
    const p = path.resolve(cwd, d, command);
    if (isExecutableFile(p)) return p;
  }
  throw new StartFailure(`command not found: ${command}`);
}

/**
 * The exit record of a workload whose supervisor is gone. The supervisor leaves exit.json.tmp for
 * us to rename while we are its parent, or renames it itself once orphaned (supervisor.ts): a
 * complete exit.json.tmp is promoted to exit.json here, or, with `promote` false, left for the
 * caller to promote (`unpromoted`). Never call this while the supervisor lives.
 */
function readExitRecord(dir: string, withTime: boolean, promote = true): { record?: ExitRecord; mtime?: string; unpromoted?: boolean } {
  const final = path.join(dir, EXIT_FILE);
  for (const file of [path.join(dir, EXIT_TMP_FILE), final]) {
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch {
      continue;
    }
    const record = parseExitRecord(text);
    if (!record) continue; // empty or truncated: the supervisor was killed while writing it
    const tmp = file !== final;
    const at = tmp && promote && promoteExitRecord(dir) ? final : file;
    const mtime = withTime ? statOrUndefined(at)?.mtime.toISOString() : undefined;
    return { record, mtime, ...(tmp && !promote ? { unpromoted: true } : {}) };
  }
  return {};
}

/** Renames a complete exit.json.tmp to exit.json; false if it could not (read-only or gone: the record read is still valid). */
function promoteExitRecord(dir: string): boolean {
  try {
    fs.renameSync(path.join(dir, EXIT_TMP_FILE), path.join(dir, EXIT_FILE));
    return true;
  } catch {
    return false;
  }
}

/** Whether the supervisor of the workload in `dir` ever ran: it creates exit.json.tmp first thing. */
function hasExitFile(dir: string): boolean {
  return statOrUndefined(path.join(dir, EXIT_TMP_FILE)) !== undefined || statOrUndefined(path.join(dir, EXIT_FILE)) !== undefined;
}

/**
 * Remove `dir` if it holds nothing but empty work/ and tmp/ directories and, at most, the
 * temporary file of its first state.json (the server died while writing it: nothing was
 * launched, which only happens once state.json exists); true when removed.
 */
function removeIfUntouched(dir: string): boolean {
  try {
    for (const name of fs.readdirSync(dir)) {
      if (name === STATE_TMP_FILE) continue;
      if ((name !== WORK_DIR && name !== TMP_DIR) || fs.readdirSync(path.join(dir, name)).length > 0) return false;
    }
    fs.rmSync(dir, { recursive: true });
    return true;
  } catch {
    return false;
  }
}

function sanitizeSpec(spec: WorkloadSpec): PersistedSpec {
  const { secretEnv, ...rest } = spec;
  const copy = JSON.parse(JSON.stringify(rest)) as PersistedSpec;
  const keys = Object.keys(secretEnv ?? {});
  return keys.length > 0 ? { ...copy, secretEnvKeys: keys } : copy;
}

export class LocalProcessRuntime implements WorkloadRuntime {
  readonly name = "local";
  readonly rootDir: string;
  private readonly maxConcurrent: number;
  private readonly defaultGraceSeconds: number;
  private readonly log: LocalRuntimeLogger;
  private readonly pollMs: number;
  private readonly enforcement: LimitEnforcement;
  private readonly defaultPath: string;
  private readonly shell: string;
  private readonly mvPath: string;
  private readonly entries = new Map<string, Entry>();
  private readonly events = new EventEmitter();
  private queue: Entry[] = [];
  /** Entries whose state.json is behind, to be written once the current event is handled (persistLater). */
  private readonly unpersisted = new Set<Entry>();
  private persistTimer: NodeJS.Immediate | undefined;
  private seq = 0;
  /** Workloads in phase Running (kept up to date by setStatus and recover). */
  private running = 0;
  private rootReady = false;
  private closed = false;
  private cgroupSupport: CgroupSupport | undefined;

  constructor(options: LocalProcessRuntimeOptions) {
    if (typeof options.rootDir !== "string" || options.rootDir === "") throw InvalidInputError.field("rootDir", "is required");
    const max = options.maxConcurrent ?? Number.POSITIVE_INFINITY;
    if (!(max >= 1)) throw InvalidInputError.field("maxConcurrent", "must be >= 1");
    validateGracePeriod(options.defaultGracePeriodSeconds, "defaultGracePeriodSeconds");
    this.rootDir = path.resolve(options.rootDir);
    this.maxConcurrent = max;
    this.defaultGraceSeconds = options.defaultGracePeriodSeconds ?? 10;
    this.log = options.logger ?? noopLogger;
    this.pollMs = Math.max(10, options.pollIntervalMs ?? 200);
    this.enforcement = options.limitEnforcement ?? "auto";
    this.defaultPath = options.defaultPath ?? [...new Set([path.dirname(process.execPath), ...SYSTEM_PATH])].join(":");
    this.shell = options.shell ?? "/bin/sh";
    this.mvPath = ["/bin/mv", "/usr/bin/mv"].find((p) => fs.existsSync(p)) ?? "mv";
    this.events.setMaxListeners(0);
  }

  // ---------------------------------------------------------------- port

  start(spec: WorkloadSpec): Promise<WorkloadStatus> {
    return settle(() => {
      this.assertOpen();
      validateWorkloadSpec(spec);
      const existing = this.entries.get(spec.id);
      if (existing) return existing.status;
      const dir = path.join(this.rootDir, spec.id);
      this.makeWorkloadDir(spec.id, dir);
      const entry: Entry = {
        id: spec.id,
        dir,
        seq: ++this.seq,
        spec: sanitizeSpec(spec),
        secretEnv: spec.secretEnv ? { ...spec.secretEnv } : undefined,
        status: makeStatus({ id: spec.id, phase: "Pending", createdAt: nowIso(), labels: spec.labels ?? {}, logRef: dir }),
        ending: false,
      };
      this.entries.set(spec.id, entry);
      // Before any spawn: a restarted server must know the workload (queue it again, or find its supervisor).
      this.persist(entry);
      this.log.info({ workload: spec.id, executable: spec.command[0] }, "workload accepted");
      this.emit(entry);
      this.queue.push(entry);
      this.schedule();
      return entry.status;
    });
  }

  get(id: string): Promise<WorkloadStatus | undefined> {
    return Promise.resolve(this.entries.get(id)?.status);
  }

  list(labels?: Readonly<Record<string, string>>): Promise<WorkloadStatus[]> {
    const wanted = Object.entries(labels ?? {});
    const out = [...this.entries.values()]
      .filter((e) => wanted.every(([k, v]) => e.status.labels[k] === v))
      .sort((a, b) => a.seq - b.seq)
      .map((e) => e.status);
    return Promise.resolve(out);
  }

  async *watch(id: string, signal?: AbortSignal): AsyncIterable<WorkloadStatus> {
    const entry = this.entries.get(id);
    if (!entry) throw new NotFoundError(`workload ${id} not found`);
    const pending: WorkloadStatus[] = [];
    let wake: (() => void) | undefined;
    const onChange = (s: WorkloadStatus) => {
      if (s.id !== id) return;
      pending.push(s);
      wake?.();
    };
    const onWake = () => wake?.();
    this.events.on("change", onChange);
    this.events.on("closed", onWake);
    signal?.addEventListener("abort", onWake);
    try {
      let current = entry.status;
      yield current;
      while (!isTerminal(current.phase) && !signal?.aborted && !this.closed) {
        const next = pending.shift();
        if (next === undefined) {
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
          continue;
        }
        current = next;
        yield current;
      }
    } finally {
      this.events.off("change", onChange);
      this.events.off("closed", onWake);
      signal?.removeEventListener("abort", onWake);
    }
  }

  async *logs(id: string, options?: LogOptions, signal?: AbortSignal): AsyncIterable<LogChunk> {
    const entry = this.entries.get(id);
    if (!entry) throw new NotFoundError(`workload ${id} not found`);
    const which = options?.stream ?? "both";
    const streams: ("stdout" | "stderr")[] = which === "both" ? ["stdout", "stderr"] : [which];
    const offsets = { stdout: 0, stderr: 0 };
    for (;;) {
      // Decide *before* reading whether this is the last pass: bytes written up to the end are then included.
      const last = !options?.follow || isTerminal(entry.status.phase) || this.closed || signal?.aborted === true;
      for (const stream of streams) {
        const file = path.join(entry.dir, stream === "stdout" ? STDOUT_FILE : STDERR_FILE);
        for await (const data of readFrom(file, offsets[stream])) {
          offsets[stream] += data.length;
          yield { stream, data };
        }
      }
      if (last || !this.entries.has(id)) return;
      await this.waitForChange(id, this.pollMs, signal);
    }
  }

  cancel(id: string, options?: { gracePeriodSeconds?: number }): Promise<void> {
    return settle(() => {
      this.assertOpen();
      const entry = this.mustGet(id);
      validateGracePeriod(options?.gracePeriodSeconds);
      if (isTerminal(entry.status.phase) || entry.ending) return;
      if (entry.status.phase === "Pending") {
        this.queue = this.queue.filter((e) => e !== entry);
        entry.secretEnv = undefined;
        this.finish(entry, { phase: "Cancelled", reason: "Cancelled", message: "cancelled before it started" });
        return;
      }
      const grace = options?.gracePeriodSeconds ?? entry.spec.gracePeriodSeconds ?? this.defaultGraceSeconds;
      this.requestStop(entry, "Cancelled", grace);
    });
  }

  async remove(id: string): Promise<void> {
    this.assertOpen();
    const entry = this.mustGet(id);
    if (!isTerminal(entry.status.phase)) {
      throw new ConflictError(`workload ${id} is ${entry.status.phase}; cancel it and wait for it to end before removing it`);
    }
    this.entries.delete(id);
    if (entry.cgroups) await removeWorkloadCgroups(entry.cgroups, 1);
    await rm(entry.dir, { recursive: true, force: true });
  }

  async recover(): Promise<WorkloadStatus[]> {
    this.assertOpen();
    let names: string[];
    try {
      names = await readdir(this.rootDir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw e;
    }
    const recovered: Entry[] = [];
    for (const name of names.sort()) {
      if (!isValidWorkloadId(name) || this.entries.has(name)) continue;
      const dir = path.join(this.rootDir, name);
      const state = readJson<StateFile>(path.join(dir, STATE_FILE));
      if (!state || state.version !== 1 || state.status.id !== name) {
        if (!fs.existsSync(path.join(dir, STATE_FILE)) && removeIfUntouched(dir)) {
          // The server stopped between creating the directory and recording the workload: nothing ran.
          this.log.warn({ workload: name, dir }, "removed an incomplete workload directory");
        } else this.log.warn({ workload: name, dir }, "unreadable state.json; workload skipped");
        continue;
      }
      const entry: Entry = {
        id: name,
        dir,
        seq: state.seq,
        spec: state.spec,
        secretEnv: undefined,
        status: makeStatus(state.status),
        process: state.process,
        cgroups: state.cgroups,
        stop: state.stop,
        ending: false,
      };
      this.entries.set(name, entry);
      if (entry.status.phase === "Running") this.running++;
      this.seq = Math.max(this.seq, state.seq);
      recovered.push(entry);
    }
    const pending: Entry[] = [];
    // Pending on disk but with log files: the server died between opening them for the spawn and
    // recording the supervisor's pid. Find out whether the supervisor runs (one /proc pass for all).
    const launched = recovered.filter((e) => e.status.phase === "Pending" && fs.existsSync(path.join(e.dir, STDOUT_FILE)));
    const supervisors = findSessionLeaders(launched.map((e) => supervisorMarker(e.dir)));
    for (const entry of recovered) {
      switch (entry.status.phase) {
        case "Pending": {
          const pid = supervisors.get(supervisorMarker(entry.dir));
          // A supervisor that ever ran left an exit record file (supervisor.ts): without a live one
          // and without that file, the launch was interrupted before it: nothing ran.
          if (launched.includes(entry) && (pid !== undefined || hasExitFile(entry.dir))) {
            this.recoverLaunch(entry, pid);
          } else if (entry.spec.secretEnvKeys?.length) {
            this.finish(entry, {
              phase: "Lost",
              reason: "Lost",
              message: "the server restarted before it started, and secretEnv values are never persisted",
            });
          } else pending.push(entry);
          break;
        }
        case "Running":
          if (entry.process && processState(entry.process) === "alive") this.resumeTracking(entry);
          else this.processGone(entry, {});
          break;
        case "Succeeded":
        case "Failed":
        case "Cancelled":
        case "Lost":
          break;
      }
    }
    this.log.info({ recovered: recovered.length, pending: pending.length }, "local runtime recovered workloads");
    this.queue = [...pending, ...this.queue].sort((a, b) => a.seq - b.seq);
    this.schedule();
    return recovered.map((e) => e.status);
  }

  onChange(listener: (status: WorkloadStatus) => void): () => void {
    const wrapped = (s: WorkloadStatus) => {
      try {
        listener(s);
      } catch (e) {
        this.log.error({ err: errorMessage(e) }, "workload change listener failed");
      }
    };
    this.events.on("change", wrapped);
    return () => {
      this.events.off("change", wrapped);
    };
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.persistPending();
    this.closed = true;
    for (const entry of this.entries.values()) {
      this.clearTimers(entry);
      const child = entry.child;
      if (child) {
        // Detach without killing: the supervisor keeps running and records the exit for the next recover().
        // This process stays its parent, so the supervisor leaves the rename of its exit record to us.
        child.removeAllListeners("exit");
        child.removeAllListeners("error");
        child.on("error", () => {});
        const dir = entry.dir;
        child.once("exit", () => readExitRecord(dir, false));
        child.unref();
        entry.child = undefined;
      }
    }
    this.queue = [];
    // The per-runtime parent cgroups go away when no workload cgroup is left in them (rmdir fails otherwise).
    for (const ref of [this.cgroupSupport?.memory, this.cgroupSupport?.cpu]) if (ref) removeEmptyCgroup(ref.dir);
    this.events.emit("closed");
    return Promise.resolve();
  }

  // ---------------------------------------------------------------- local extras

  /** Which limits this host lets the runtime enforce (detects cgroups on first call). */
  limitSupport(): LimitSupport {
    const cg = this.cgroups();
    const kind = (ref: CgroupSupport["memory"]): "cgroup-v1" | "cgroup-v2" | undefined =>
      ref ? (ref.version === 1 ? "cgroup-v1" : "cgroup-v2") : undefined;
    return {
      memory: kind(cg.memory) ?? (this.enforcement !== "none" ? "prlimit" : "none"),
      cpu: kind(cg.cpu) ?? "none",
    };
  }

  /** The directory of a workload: work/, stdout.log, stderr.log, state.json, exit.json. */
  workloadDir(id: string): string {
    if (!isValidWorkloadId(id)) throw InvalidInputError.field("id", "must match [a-z0-9][a-z0-9-]{0,127}");
    return path.join(this.rootDir, id);
  }

  // ---------------------------------------------------------------- internals

  private assertOpen(): void {
    if (this.closed) throw new UnavailableError("the local workload runtime is closed");
  }

  /** `<rootDir>/<id>` with work/ and tmp/; Conflict when it already exists (an untracked workload). */
  private makeWorkloadDir(id: string, dir: string): void {
    if (!this.rootReady) {
      fs.mkdirSync(this.rootDir, { recursive: true });
      this.rootReady = true;
    }
    try {
      fs.mkdirSync(dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT" && this.rootReady) {
        this.rootReady = false; // the root dir was removed behind our back
        return this.makeWorkloadDir(id, dir);
      }
      if (code !== "EEXIST") throw e;
      throw new ConflictError(`workload ${id} exists on disk but is not tracked by this runtime; call recover() first`);
    }
    fs.mkdirSync(path.join(dir, WORK_DIR));
    fs.mkdirSync(path.join(dir, TMP_DIR));
  }

  private mustGet(id: string): Entry {
    const entry = this.entries.get(id);
    if (!entry) throw new NotFoundError(`workload ${id} not found`);
    return entry;
  }

  private cgroups(): CgroupSupport {
    if (this.enforcement !== "auto") return {};
    if (!this.cgroupSupport) {
      const ns = `forja-${createHash("sha256").update(this.rootDir).digest("hex").slice(0, 12)}`;
      this.cgroupSupport = detectCgroups(ns);
      this.log.info(
        { memory: this.cgroupSupport.memory?.dir ?? null, cpu: this.cgroupSupport.cpu?.dir ?? null },
        "local runtime cgroup support detected",
      );
    }
    return this.cgroupSupport;
  }

  private persist(entry: Entry): void {
    this.unpersisted.delete(entry);
    if (this.closed) return;
    if (entry.exitUnpromoted) {
      promoteExitRecord(entry.dir);
      entry.exitUnpromoted = false;
    }
    const state: StateFile = {
      version: 1,
      seq: entry.seq,
      spec: entry.spec,
      status: entry.status,
      process: entry.process,
      cgroups: entry.cgroups,
      stop: entry.stop,
    };
    try {
      writeJsonAtomic(path.join(entry.dir, STATE_FILE), state);
    } catch (e) {
      this.log.error({ workload: entry.id, err: errorMessage(e) }, "cannot write workload state");
    }
  }

  /**
   * Writes state.json after the listeners have reacted to the change (setImmediate), for a change
   * a restarted server re-derives anyway: this write is then off the path from one workload's
   * end to the start of the next.
   */
  private persistLater(entry: Entry): void {
    this.unpersisted.add(entry);
    this.persistTimer ??= setImmediate(() => this.persistPending());
  }

  private persistPending(): void {
    if (this.persistTimer) clearImmediate(this.persistTimer);
    this.persistTimer = undefined;
    for (const entry of this.unpersisted) if (this.entries.get(entry.id) === entry) this.persist(entry);
    this.unpersisted.clear();
  }

  private emit(entry: Entry): void {
    this.events.emit("change", entry.status);
  }

  private setStatus(entry: Entry, patch: Partial<WorkloadStatus>, write: "now" | "later" = "now"): void {
    const from = entry.status.phase;
    const next = makeStatus({ ...entry.status, ...patch });
    if (next.phase !== from && !canTransition(from, next.phase)) {
      this.log.error({ workload: entry.id, from, to: next.phase }, "illegal workload phase transition ignored");
      return;
    }
    if (from === "Running" && next.phase !== "Running") this.running--;
    if (from !== "Running" && next.phase === "Running") this.running++;
    entry.status = next;
    if (write === "now") this.persist(entry);
    else this.persistLater(entry);
    this.emit(entry);
  }

  private schedule(): void {
    while (!this.closed && this.running < this.maxConcurrent) {
      const entry = this.queue.shift();
      if (!entry) return;
      if (entry.status.phase === "Pending") this.launch(entry);
    }
  }

  private launch(entry: Entry): void {
    let child: ChildProcess;
    let cgroups: WorkloadCgroups | undefined;
    try {
      const plan = this.plan(entry);
      cgroups = plan.cgroups;
      const out = fs.openSync(path.join(entry.dir, STDOUT_FILE), "a");
      let err: number | undefined;
      try {
        err = fs.openSync(path.join(entry.dir, STDERR_FILE), "a");
        child = spawn(this.shell, ["-c", plan.script, SUPERVISOR_NAME, ...plan.argv], {
          cwd: plan.cwd,
          detached: true, // setsid(): the supervisor leads a new session and process group
          env: plan.env, // the workload's env, secrets included; nothing of the server's
          stdio: ["ignore", out, "ignore", err], // see supervisor.ts: fd 3 becomes the workload's fd 2
        });
      } finally {
        fs.closeSync(out);
        if (err !== undefined) fs.closeSync(err);
      }
      child.on("error", () => {}); // spawn failures are handled below / by processGone; never crash the server
      const pid = child.pid;
      if (pid === undefined) throw new StartFailure(`could not spawn the workload supervisor (${this.shell})`);
      entry.process = identify(pid);
    } catch (e) {
      entry.secretEnv = undefined;
      if (cgroups) void this.dropCgroups(cgroups);
      const message = e instanceof StartFailure ? e.message : `cannot start: ${errorMessage(e)}`;
      this.log.warn({ workload: entry.id, reason: message }, "workload could not start");
      this.finish(entry, { phase: "Failed", reason: "StartError", message });
      return;
    }
    entry.secretEnv = undefined;
    entry.child = child;
    entry.cgroups = cgroups;
    child.once("error", (e) => this.processGone(entry, { spawnError: errorMessage(e) }));
    child.once("exit", (code, signal) => this.processGone(entry, { supervisorExit: { code, signal } }));
    this.log.info({ workload: entry.id, pid: entry.process.pid }, "workload started");
    this.setStatus(entry, { phase: "Running", startedAt: nowIso() });
    this.armTimeout(entry);
  }

  /** Everything the supervisor needs; throws StartFailure for problems that are the spec's fault. */
  private plan(entry: Entry): { script: string; argv: string[]; cwd: string; env: Record<string, string>; cgroups?: WorkloadCgroups } {
    const spec = entry.spec;
    const workDir = path.join(entry.dir, WORK_DIR);
    const cwd = spec.workingDir === undefined ? workDir : path.resolve(workDir, spec.workingDir);
    if (!statOrUndefined(cwd)?.isDirectory()) throw new StartFailure(`working directory does not exist: ${cwd}`);
    const env: Record<string, string> = {
      PATH: this.defaultPath,
      HOME: workDir,
      LANG: "C.UTF-8",
      TMPDIR: path.join(entry.dir, TMP_DIR),
      ...spec.env,
      ...entry.secretEnv,
    };
    const [command, ...leading] = spec.command;
    if (command === undefined) throw new StartFailure("command is empty");
    const executable = resolveExecutable(command, env.PATH, cwd);
    for (const volume of spec.volumes ?? []) {
      if (!path.isAbsolute(volume.source) || statOrUndefined(volume.source) === undefined) {
        throw new StartFailure(`volume source does not exist on this host: ${volume.source}`);
      }
      const link = path.join(workDir, volume.mountPath.replace(/^\/+/, ""));
      fs.mkdirSync(path.dirname(link), { recursive: true });
      if (!fs.existsSync(link)) fs.symlinkSync(volume.source, link);
    }
    let procsFiles: readonly string[] = [];
    let addressSpaceKiB: number | undefined;
    const limits = spec.resources?.limits ?? {};
    let cgroups: WorkloadCgroups | undefined;
    if (limits.memoryBytes !== undefined || limits.cpu !== undefined) {
      const created = createWorkloadCgroups(this.cgroups(), entry.id, limits);
      for (const problem of created.problems) this.log.warn({ workload: entry.id, problem }, "cgroup limit not applied");
      if (created.procsFiles.length > 0) {
        cgroups = created.cgroups;
        procsFiles = created.procsFiles;
      }
      if (limits.memoryBytes !== undefined && !created.cgroups.memory) {
        if (this.enforcement !== "none") addressSpaceKiB = Math.max(1, Math.floor(limits.memoryBytes / 1024));
        else this.log.warn({ workload: entry.id, memoryBytes: limits.memoryBytes }, "memory limit not enforced on this host");
      }
      if (limits.cpu !== undefined && !created.cgroups.cpu) {
        this.log.warn({ workload: entry.id, cpu: limits.cpu }, "cpu limit not enforced on this host");
      }
    }
    const script = supervisorScript({ dir: entry.dir, mvPath: this.mvPath, cgroupProcsFiles: procsFiles, addressSpaceKiB });
    return { script, argv: [executable, ...leading, ...(spec.args ?? [])], cwd, env, cgroups };
  }

  private armTimeout(entry: Entry): void {
    const seconds = entry.spec.timeoutSeconds;
    const startedAt = entry.status.startedAt;
    if (seconds === undefined || startedAt === undefined || entry.stop) return;
    const deadline = Date.parse(startedAt) + seconds * 1000;
    const fire = () => {
      entry.timeoutTimer = undefined;
      if (this.closed || entry.ending || entry.status.phase !== "Running") return;
      const left = deadline - Date.now();
      if (left > 0) {
        entry.timeoutTimer = setTimeout(fire, Math.min(left, MAX_TIMER_MS));
        return;
      }
      this.log.info({ workload: entry.id, timeoutSeconds: seconds }, "workload timed out");
      this.requestStop(entry, "Timeout", entry.spec.gracePeriodSeconds ?? this.defaultGraceSeconds);
    };
    entry.timeoutTimer = setTimeout(fire, Math.min(Math.max(0, deadline - Date.now()), MAX_TIMER_MS));
  }

  /** SIGTERM to the process group now, SIGKILL when the grace period is over. */
  private requestStop(entry: Entry, reason: StopRequest["reason"], graceSeconds: number): void {
    if (!entry.stop) {
      entry.stop = { reason, requestedAt: nowIso(), graceSeconds };
      this.persist(entry); // before signalling: a restarted server must know this end was requested
      if (entry.timeoutTimer) clearTimeout(entry.timeoutTimer);
      entry.timeoutTimer = undefined;
      this.log.info({ workload: entry.id, reason, graceSeconds }, "stopping workload");
    }
    this.armKill(entry, Date.now() + graceSeconds * 1000, true);
  }

  private armKill(entry: Entry, killAt: number, term: boolean): void {
    if (entry.killAt !== undefined && entry.killAt <= killAt) return; // an earlier (or equal) kill is already armed
    if (entry.killTimer) clearTimeout(entry.killTimer);
    entry.killAt = killAt;
    if (term && killAt > Date.now()) {
      this.markStop(entry);
      this.signal(entry, "SIGTERM");
    }
    const fire = () => {
      entry.killTimer = undefined;
      if (this.closed || entry.ending) return;
      const left = killAt - Date.now();
      if (left > 0) {
        entry.killTimer = setTimeout(fire, Math.min(left, MAX_TIMER_MS));
        return;
      }
      this.signal(entry, "SIGKILL");
    };
    entry.killTimer = setTimeout(fire, Math.min(Math.max(0, killAt - Date.now()), MAX_TIMER_MS));
  }

  /** Before the first SIGTERM: a supervisor that has not exec'd the command yet must not start it (supervisor.ts). */
  private markStop(entry: Entry): void {
    try {
      fs.writeFileSync(path.join(entry.dir, STOP_FILE), "");
    } catch (e) {
      this.log.warn({ workload: entry.id, err: errorMessage(e) }, "cannot write the stop marker");
    }
  }

  private signal(entry: Entry, signal: NodeJS.Signals): void {
    if (entry.child && entry.process) {
      // Our child, not yet reaped: its pid cannot have been reused, no need to check /proc.
      killGroup(entry.process.pid, signal);
      killSessionStragglers(entry.process.pid, signal);
    } else if (entry.process) {
      signalGroup(entry.process, signal);
      signalSessionStragglers(entry.process, signal);
    }
    if (entry.cgroups) signalPids(cgroupPids(entry.cgroups), signal);
  }

  /**
   * A Pending workload whose launch was interrupted by a crash after its log files were opened: it
   * is Running if its supervisor is alive, ended if it left an exit record, and otherwise Lost
   * (it may have run and been killed: never risk running it twice).
   */
  private recoverLaunch(entry: Entry, pid: number | undefined): void {
    const logStat = statOrUndefined(path.join(entry.dir, STDOUT_FILE));
    const startedAt = logStat && logStat.birthtimeMs > 0 ? logStat.birthtime.toISOString() : entry.status.createdAt;
    this.log.warn({ workload: entry.id, pid: pid ?? null }, "recovering a workload whose launch was interrupted");
    if (pid !== undefined) entry.process = identify(pid);
    this.setStatus(entry, { phase: "Running", startedAt });
    if (entry.process && processState(entry.process) === "alive") this.resumeTracking(entry);
    else this.processGone(entry, {});
  }

  /** Recovered Running workload whose supervisor is still alive: poll it, re-arm its timers. */
  private resumeTracking(entry: Entry): void {
    this.log.info({ workload: entry.id, pid: entry.process?.pid }, "resuming tracking of a running workload");
    const stop = entry.stop;
    if (stop) this.armKill(entry, Date.parse(stop.requestedAt) + stop.graceSeconds * 1000, true);
    else this.armTimeout(entry);
    this.poll(entry);
  }

  private poll(entry: Entry): void {
    entry.pollTimer = setTimeout(() => {
      entry.pollTimer = undefined;
      if (this.closed || entry.ending) return;
      if (entry.process && processState(entry.process) === "alive") this.poll(entry);
      else this.processGone(entry, {});
    }, this.pollMs);
  }

  private clearTimers(entry: Entry): void {
    for (const t of [entry.timeoutTimer, entry.killTimer, entry.pollTimer]) if (t) clearTimeout(t);
    entry.timeoutTimer = entry.killTimer = entry.pollTimer = undefined;
    entry.killAt = undefined;
  }

  /** The supervisor ended (or was found gone after a restart): classify and finish. */
  private processGone(entry: Entry, info: GoneInfo): void {
    if (this.closed || entry.ending || isTerminal(entry.status.phase)) return;
    entry.ending = true;
    this.clearTimers(entry);
    const wasParent = entry.child !== undefined;
    entry.child = undefined;
    // Container semantics: when the main process has ended, nothing of the workload may linger.
    // (We just reaped the supervisor, the group leader: while members remain, its pid stays in
    // use as their process group id and cannot be reused.)
    if (entry.process) {
      if (wasParent) {
        killGroup(entry.process.pid, "SIGKILL");
        killSessionStragglers(entry.process.pid, "SIGKILL");
      } else {
        signalGroup(entry.process, "SIGKILL");
        signalSessionStragglers(entry.process, "SIGKILL");
      }
    }
    if (entry.cgroups) signalPids(cgroupPids(entry.cgroups), "SIGKILL");
    // Seen live, the end is settled at once, and its records are written once the listeners have
    // reacted to it: a restarted server would settle it again from the exit record (or its absence).
    const { record, mtime, unpromoted } = readExitRecord(entry.dir, !wasParent, !wasParent);
    entry.exitUnpromoted = unpromoted;
    const oom = entry.cgroups ? oomKillCount(entry.cgroups) > 0 : false;
    const outcome = this.classify(entry, record ? decodeExitRecord(record) : undefined, oom, info);
    if (entry.cgroups) void this.dropCgroups(entry.cgroups);
    // After a restart, the exit record's time is when it really ended (never before startedAt).
    const startedAt = entry.status.startedAt;
    const finishedAt = mtime !== undefined && startedAt !== undefined && mtime < startedAt ? startedAt : mtime;
    this.finish(entry, finishedAt !== undefined && record ? { ...outcome, finishedAt } : outcome, wasParent ? "later" : "now");
  }

  private classify(entry: Entry, exit: DecodedExit | undefined, oom: boolean, info: GoneInfo): Outcome {
    const supervisorSignal = info.supervisorExit?.signal ?? undefined;
    const exitCode = exit?.exitCode;
    const signal = exit ? exit.signal : supervisorSignal;
    const startError = exit?.error ?? info.spawnError;
    const stop = entry.stop;
    if (stop?.reason === "Cancelled") return { phase: "Cancelled", reason: "Cancelled", message: "cancelled on request", exitCode, signal };
    if (stop?.reason === "Timeout") {
      return { phase: "Failed", reason: "Timeout", message: `exceeded its timeout of ${entry.spec.timeoutSeconds}s`, exitCode, signal };
    }
    if (startError !== undefined) return { phase: "Failed", reason: "StartError", message: startError };
    if (oom && exitCode !== 0) {
      return { phase: "Failed", reason: "OOMKilled", message: "killed by the kernel OOM killer (memory limit exceeded)", exitCode, signal };
    }
    if (!exit) {
      if (supervisorSignal !== undefined) {
        return { phase: "Failed", reason: "Signal", message: `the workload's process group was killed by ${supervisorSignal}`, signal };
      }
      const code = info.supervisorExit?.code;
      const why = code !== undefined && code !== null ? `its supervisor exited with code ${code} without an exit record` : "the process is gone and left no exit record";
      return { phase: "Lost", reason: "Lost", message: why };
    }
    if (signal !== undefined) return { phase: "Failed", reason: "Signal", message: `killed by ${signal}`, signal };
    if (exitCode === 0) return { phase: "Succeeded", reason: "Completed", exitCode };
    if (exitCode === SETUP_FAILED_STATUS && entry.cgroups) {
      return { phase: "Failed", reason: "Error", message: `exited with code ${exitCode} (or could not join its cgroup: see stderr)`, exitCode };
    }
    return { phase: "Failed", reason: "Error", message: `exited with code ${exitCode ?? "unknown"}`, exitCode };
  }

  private finish(entry: Entry, outcome: Outcome, write: "now" | "later" = "now"): void {
    this.clearTimers(entry);
    this.log.info({ workload: entry.id, phase: outcome.phase, reason: outcome.reason, exitCode: outcome.exitCode }, "workload ended");
    this.setStatus(entry, { ...outcome, finishedAt: outcome.finishedAt ?? nowIso() }, write);
    this.schedule();
  }

  private async dropCgroups(cgroups: WorkloadCgroups): Promise<void> {
    try {
      if (!(await removeWorkloadCgroups(cgroups))) this.log.warn({ cgroups }, "could not remove workload cgroup");
    } catch (e) {
      this.log.warn({ err: errorMessage(e) }, "could not remove workload cgroup");
    }
  }

  /** Resolves after `ms`, or earlier when workload `id` changes, the runtime closes or `signal` aborts. */
  private waitForChange(id: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.events.off("change", onChange);
        this.events.off("closed", done);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const onChange = (s: WorkloadStatus) => {
        if (s.id === id) done();
      };
      const timer = setTimeout(done, ms);
      this.events.on("change", onChange);
      this.events.on("closed", done);
      signal?.addEventListener("abort", done);
      if (signal?.aborted) done();
    });
  }
}

/** Yields the bytes of `file` from `offset` to its current end; nothing when it does not exist. */
async function* readFrom(file: string, offset: number): AsyncGenerator<Buffer> {
  let handle;
  try {
    handle = await open(file, "r");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
    throw e;
  }
  try {
    let position = offset;
    for (;;) {
      const buffer = Buffer.alloc(READ_CHUNK);
      const { bytesRead } = await handle.read(buffer, 0, READ_CHUNK, position);
      if (bytesRead === 0) return;
      position += bytesRead;
      yield buffer.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}
