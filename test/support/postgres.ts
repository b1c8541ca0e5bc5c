/**
 * A throwaway PostgreSQL server for the test run (used by global-setup.ts).
 *
 * `startTempPostgres()` initdb's a fresh cluster in a new temp dir, starts it on 127.0.0.1
 * at a free port (unix socket inside the temp dir, durability off for speed) and returns a
 * superuser URL plus `stop()`. initdb/postgres refuse to run as root, so when we are root
 * they run as the `postgres` OS user (override: FORJA_TEST_PG_OS_USER).
 *
 * Clusters orphaned by a killed test run (owner pid dead) are reaped on the next start.
 */
import { execFile, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { appendFile, chown, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";

export interface TempPostgres {
  /** Superuser connection URL, database `postgres`. */
  readonly url: string;
  /** Temp dir holding `data/`, `sock/` and `postgres.log`. */
  readonly dir: string;
  readonly binDir: string;
  /** Stop the server (immediate) and remove its directory. Idempotent. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Directory with initdb, pg_ctl, postgres. Default: findPgBinDir(). */
  readonly binDir?: string;
  /** Where the temp dir is created. Default: FORJA_TEST_PG_TMPDIR or os.tmpdir(). */
  readonly baseDir?: string;
}

const DIR_PREFIX = "forja-pg-";
const SUPERUSER = "postgres";

const REQUIRED_BINS = ["initdb", "pg_ctl", "postgres"] as const;

function hasBins(dir: string): boolean {
  return REQUIRED_BINS.every((b) => existsSync(join(dir, b)));
}

/**
 * Locate PostgreSQL server binaries: FORJA_TEST_PG_BIN, else the newest
 * /usr/lib/postgresql/<version>/bin (Debian/Ubuntu layout), else the first PATH entry
 * holding initdb + pg_ctl + postgres. undefined when none is found.
 */
export function findPgBinDir(): string | undefined {
  const explicit = process.env.FORJA_TEST_PG_BIN;
  if (explicit) {
    if (!hasBins(explicit)) throw new Error(`FORJA_TEST_PG_BIN=${explicit} does not contain ${REQUIRED_BINS.join(", ")}`);
    return explicit;
  }
  const debianRoot = "/usr/lib/postgresql";
  let versions: string[] = [];
  try {
    versions = readdirSync(debianRoot).filter((v) => /^\d+(\.\d+)?$/.test(v));
  } catch {
    // not a Debian-style install
  }
  versions.sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const dir = join(debianRoot, v, "bin");
    if (hasBins(dir)) return dir;
  }
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir && hasBins(dir)) return dir;
  }
  return undefined;
}

interface RunAs {
  readonly uid: number;
  readonly gid: number;
  /** Wrap a command so it runs as this user. */
  wrap(cmd: string, args: readonly string[]): [string, string[]];
}

function execFileText(cmd: string, args: readonly string[], cwd?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, env: cleanEnv(), maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`${cmd} ${args.join(" ")} failed: ${err.message}\n${stdout}\n${stderr}`.trim(), { cause: err }));
      } else {
        resolve(stdout);
      }
    });
  });
}

/** PG* variables of the developer's shell must not redirect our commands elsewhere. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("PG")) env[k] = v;
  env.LC_ALL = "C";
  return env;
}

function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

function findExecutable(name: string, extra: readonly string[]): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), ...extra];
  return dirs.filter(Boolean).map((d) => join(d, name)).find((p) => existsSync(p));
}

/** undefined when we are not root: commands run as ourselves. */
async function resolveRunAs(): Promise<RunAs | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const user = process.env.FORJA_TEST_PG_OS_USER ?? "postgres";
  let uid: number, gid: number;
  try {
    uid = Number((await execFileText("id", ["-u", user])).trim());
    gid = Number((await execFileText("id", ["-g", user])).trim());
  } catch (e) {
    throw new Error(
      `running as root, and initdb/postgres refuse root: need an OS user "${user}" to run them ` +
        `(install postgresql, which creates it, or set FORJA_TEST_PG_OS_USER)`,
      { cause: e },
    );
  }
  const runuser = findExecutable("runuser", ["/usr/sbin", "/sbin"]);
  return {
    uid,
    gid,
    wrap: (cmd, args) =>
      runuser
        ? [runuser, ["-u", user, "--", cmd, ...args]]
        : ["su", [user, "-s", "/bin/sh", "-c", [cmd, ...args].map(shellQuote).join(" ")]],
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === "object" ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Synchronous stop + remove; also used from the process 'exit' hook. */
function stopSync(binDir: string, dir: string, runAs: RunAs | undefined): void {
  const dataDir = join(dir, "data");
  if (existsSync(join(dataDir, "postmaster.pid"))) {
    const [cmd, args] = wrap(runAs, join(binDir, "pg_ctl"), ["-D", dataDir, "-m", "immediate", "-w", "stop"]);
    spawnSync(cmd, args, { cwd: dir, env: cleanEnv(), stdio: "ignore", timeout: 30_000 });
  }
  rmSync(dir, { recursive: true, force: true });
}

function wrap(runAs: RunAs | undefined, cmd: string, args: readonly string[]): [string, string[]] {
  return runAs ? runAs.wrap(cmd, args) : [cmd, [...args]];
}

/** Stop and remove clusters left behind by test runs that were killed (their owner is gone). */
function reapOrphans(baseDir: string, binDir: string, runAs: RunAs | undefined): void {
  let names: string[];
  try {
    names = readdirSync(baseDir).filter((n) => n.startsWith(DIR_PREFIX));
  } catch {
    return;
  }
  for (const name of names) {
    const dir = join(baseDir, name);
    try {
      const owner = Number(readFileSync(join(dir, "owner.pid"), "utf8").trim());
      if (Number.isInteger(owner) && owner > 0 && !isAlive(owner)) stopSync(binDir, dir, runAs);
    } catch {
      // not ours, or being set up right now: leave it
    }
  }
}

async function canConnect(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Wait until `url` accepts queries; throws after `timeoutMs`. */
export async function waitForPostgres(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await canConnect(url))) {
    if (Date.now() > deadline) throw new Error(`PostgreSQL at ${redact(url)} not ready after ${timeoutMs} ms`);
    await sleep(100);
  }
}

export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "<unparseable url>";
  }
}

const SERVER_SETTINGS = (socketDir: string): string => `
# --- forja test harness: local only, fast, not durable ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '${socketDir.replaceAll("'", "''")}'
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = minimal
max_wal_senders = 0
max_connections = 200
logging_collector = off
log_min_messages = warning
log_min_error_statement = panic
`;

export async function startTempPostgres(options: StartOptions = {}): Promise<TempPostgres> {
  const binDir = options.binDir ?? findPgBinDir();
  if (!binDir) throw new Error("PostgreSQL server binaries not found (see findPgBinDir)");
  const baseDir = options.baseDir ?? process.env.FORJA_TEST_PG_TMPDIR ?? tmpdir();
  const runAs = await resolveRunAs();
  reapOrphans(baseDir, binDir, runAs);

  const dir = await mkdtemp(join(baseDir, DIR_PREFIX));
  await writeFile(join(dir, "owner.pid"), `${process.pid}\n`);
  const dataDir = join(dir, "data");
  const socketDir = join(dir, "sock");
  const logFile = join(dir, "postgres.log");
  const pwFile = join(dir, "pwfile");
  const password = randomBytes(18).toString("base64url");
  const run = (bin: string, args: readonly string[]): Promise<string> =>
    execFileText(...wrap(runAs, join(binDir, bin), args), dir);

  const exitHook = (): void => stopSync(binDir, dir, runAs);
  process.once("exit", exitHook);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.removeListener("exit", exitHook);
    if (existsSync(join(dataDir, "postmaster.pid"))) {
      await run("pg_ctl", ["-D", dataDir, "-m", "immediate", "-w", "stop"]).catch(() => undefined);
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await mkdir(socketDir);
    await writeFile(pwFile, `${password}\n`, { mode: 0o600 });
    if (runAs) {
      for (const p of [dir, socketDir, pwFile, join(dir, "owner.pid")]) await chown(p, runAs.uid, runAs.gid);
    }
    await run("initdb", [
      "-D",
      dataDir,
      "-U",
      SUPERUSER,
      `--pwfile=${pwFile}`,
      "--auth-local=trust",
      "--auth-host=scram-sha-256",
      "-E",
      "UTF8",
      "--locale=C",
      "--no-sync",
    ]);
    await rm(pwFile);
    await appendFile(join(dataDir, "postgresql.conf"), SERVER_SETTINGS(socketDir));

    // A free port can be taken by someone else before postgres binds it: retry.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      try {
        await run("pg_ctl", ["-D", dataDir, "-l", logFile, "-o", `-p ${port}`, "-w", "-t", "60", "start"]);
      } catch (e) {
        const log = await readFile(logFile, "utf8").catch(() => "");
        if (attempt < 5 && /could not bind|address already in use/i.test(log)) continue;
        throw new Error(`${e instanceof Error ? e.message : String(e)}\n--- postgres.log ---\n${log}`, { cause: e });
      }
      const url = `postgres://${SUPERUSER}:${password}@127.0.0.1:${port}/postgres`;
      await waitForPostgres(url);
      return { url, dir, binDir, stop };
    }
  } catch (e) {
    await stop();
    throw e;
  }
}
