/**
 * The per-workload supervisor: a few lines of POSIX `sh` (dash on Debian: about 1 MB of RSS and
 * a millisecond or so to start, versus ~45 MB and ~40 ms for the former Node supervisor), run as `/bin/sh -c <script> forja-supervisor <argv...>`. It is
 * spawned detached (session and process-group leader) by LocalProcessRuntime, with the workload's
 * env (secret values included: that is the only way they travel), the workload's cwd,
 * fd 1 = stdout.log, fd 3 = stderr.log (both opened by the runtime) and fd 0 and fd 2 = /dev/null.
 *
 * What the script does:
 * 1. `trap : HUP INT QUIT PIPE ALRM TERM USR1 USR2`: a *handler* (not "ignore"), so the supervisor
 *    outlives a SIGTERM sent to the whole group, while its children start with default
 *    dispositions (caught signals are reset on fork/exec; ignored ones would be inherited).
 *    Then it creates exit.json.tmp, empty: after a crash of the server in the middle of a launch,
 *    a workload whose supervisor is gone and left no such file never ran anything.
 * 2. A foreground subshell moves fd 3 to fd 2 (so the shell's own "Killed"-style job messages
 *    go to /dev/null, not into the workload's log), exits 143 if the `stop` marker exists (see
 *    below), joins the workload's cgroups (`echo 0 > cgroup.procs` moves the writer itself),
 *    applies `ulimit -v` when RLIMIT_AS is the memory fallback, and execs the command. Foreground, not `cmd &` + `wait`: background jobs of a
 *    non-interactive shell get SIGINT/SIGQUIT ignored for good, and a trapped signal would
 *    interrupt `wait`; a foreground wait only returns when the child has ended.
 * 3. It writes `{"status":$?}` into exit.json.tmp (`$?`: the exit code, or 128+n after signal n).
 *    exit.json only ever appears by an atomic rename of that complete file: done by the server on
 *    the supervisor's 'exit' event while the server is its parent, or, when the supervisor finds it
 *    has been orphaned (its parent pid, read with the `read` builtin from /proc/$$/stat, is no longer
 *    $PPID, or /proc is missing), by `exec mv` right away. If the server dies between that check and
 *    the rename, recover() promotes the complete exit.json.tmp. This spares a coreutils `mv` process
 *    (~2 ms of CPU) per workload on the hot path.
 *
 * The stop marker closes a race: a SIGTERM that reaches the group before the subshell exists (or
 * before the subshell has reset the inherited trap) is swallowed by the trap and never reaches the
 * workload. The runtime creates the marker *before* signalling, and the subshell checks it after
 * its traps are reset: either the check sees the marker, or the signal comes later and finds the
 * workload with default dispositions.
 *
 * No shell variable is assigned before the command runs: every variable the shell imported from
 * the env is exported again, so an assignment would leak into the workload's env. Paths are
 * embedded in the script, single-quoted; the command comes in as "$@", never through the script.
 */
import { constants } from "node:os";
import path from "node:path";

export const EXIT_FILE = "exit.json";
export const EXIT_TMP_FILE = "exit.json.tmp";
/** Created by the runtime before it first signals a stop; a workload not yet exec'd then never starts. */
export const STOP_FILE = "stop";
export const SUPERVISOR_NAME = "forja-supervisor";
/** Exit status of the supervisor's subshell when it could not join a cgroup or set an rlimit. */
export const SETUP_FAILED_STATUS = 125;

/** Quote for POSIX sh: single quotes, `'` as `'\''`. Safe for any string without NUL. */
export function shQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

export interface SupervisorPlan {
  /** The workload directory, where exit.json goes. */
  readonly dir: string;
  /** Absolute path of mv(1). */
  readonly mvPath: string;
  /** `cgroup.procs` files the workload joins before exec. */
  readonly cgroupProcsFiles: readonly string[];
  /** RLIMIT_AS in KiB (`ulimit -v`), when memory is limited without a cgroup. */
  readonly addressSpaceKiB?: number;
}

/** A string only the command line of the supervisor of the workload in `dir` contains. */
export function supervisorMarker(dir: string): string {
  return shQuote(path.join(dir, EXIT_TMP_FILE));
}

export function supervisorScript(plan: SupervisorPlan): string {
  const setup = ["exec 2>&3 3>&-", `[ -e ${shQuote(path.join(plan.dir, STOP_FILE))} ] && exit 143`];
  for (const file of plan.cgroupProcsFiles) setup.push(`echo 0 >${shQuote(file)} || exit ${SETUP_FAILED_STATUS}`);
  if (plan.addressSpaceKiB !== undefined) setup.push(`ulimit -v ${Math.max(1, Math.floor(plan.addressSpaceKiB))} || exit ${SETUP_FAILED_STATUS}`);
  const tmp = shQuote(path.join(plan.dir, EXIT_TMP_FILE));
  const final = shQuote(path.join(plan.dir, EXIT_FILE));
  return [
    "trap : HUP INT QUIT PIPE ALRM TERM USR1 USR2",
    `: >${tmp} || exit`,
    `(${setup.join("; ")}; exec "$@")`,
    `printf '{"status":%d}\\n' $? >${tmp} || exit`,
    `read -r _ _ _ p _ </proc/$$/stat; [ "$p" = "$PPID" ] || exec ${shQuote(plan.mvPath)} -f ${tmp} ${final}`,
  ].join("\n");
}

/** exit.json: `{status}` from the sh supervisor; `{exitCode, signal}` or `{error}` from the former Node supervisor. */
export interface ExitRecord {
  readonly status?: number;
  readonly exitCode?: number | null;
  readonly signal?: string | null;
  readonly error?: string;
}

export interface DecodedExit {
  readonly exitCode?: number;
  readonly signal?: string;
  readonly error?: string;
}

const signalNames = new Map<number, string>(Object.entries(constants.signals).map(([name, n]) => [n, name]));

/**
 * A shell reports death by signal n as status 128+n, like an exit code 128+n: the two cannot be
 * told apart. As in container runtimes, 128+n is read as signal n when n names a signal (1..31).
 */
export function decodeExitRecord(record: ExitRecord): DecodedExit {
  if (typeof record.error === "string") return { error: record.error };
  if (typeof record.status === "number") {
    const signal = record.status > 128 ? signalNames.get(record.status - 128) : undefined;
    return signal !== undefined ? { signal } : { exitCode: record.status };
  }
  return {
    exitCode: typeof record.exitCode === "number" ? record.exitCode : undefined,
    signal: typeof record.signal === "string" ? record.signal : undefined,
  };
}

/** Parse exit.json text; undefined when it is empty, truncated or not a record. */
export function parseExitRecord(text: string): ExitRecord | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}
