import { spawn } from "node:child_process";
import * as fs from "node:fs";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { runtimeContract } from "../contract.ts";
import { isTerminal, lostBeforeStart, type WorkloadSpec, type WorkloadStatus } from "../port.ts";
import { LocalProcessRuntime, type LocalProcessRuntimeOptions } from "./local-runtime.ts";
import { isPidAlive } from "./proc.ts";

async function tempRoot(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), "forja-local-runtime-"));
}

function runtime(rootDir: string, extra: Partial<LocalProcessRuntimeOptions> = {}): LocalProcessRuntime {
  return new LocalProcessRuntime({ rootDir, pollIntervalMs: 50, defaultGracePeriodSeconds: 2, ...extra });
}

runtimeContract("local", async (opts) => {
  const rootDir = await tempRoot();
  return {
    runtime: runtime(rootDir, { maxConcurrent: opts.maxConcurrent }),
    isProcessAlive: isPidAlive,
    cleanup: () => rm(rootDir, { recursive: true, force: true }),
  };
});

function sh(id: string, script: string, extra: Partial<Omit<WorkloadSpec, "id" | "command">> = {}): WorkloadSpec {
  return { id, command: ["sh", "-c", script], ...extra };
}

async function waitForEnd(rt: LocalProcessRuntime, id: string, timeoutMs = 15_000): Promise<WorkloadStatus> {
  let last: WorkloadStatus | undefined;
  for await (const s of rt.watch(id, AbortSignal.timeout(timeoutMs))) last = s;
  if (!last || !isTerminal(last.phase)) throw new Error(`workload ${id} did not end (last: ${last?.phase})`);
  return last;
}

async function waitForPhase(rt: LocalProcessRuntime, id: string, phase: string): Promise<void> {
  for await (const s of rt.watch(id, AbortSignal.timeout(15_000))) if (s.phase === phase) return;
  throw new Error(`workload ${id} never reached ${phase}`);
}

async function stdout(rt: LocalProcessRuntime, id: string): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of rt.logs(id, { stream: "stdout" })) parts.push(c.data);
  return Buffer.concat(parts).toString("utf8");
}

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

interface StateJson {
  process?: { pid: number; startTime?: string };
  status: WorkloadStatus;
  cgroups?: { memory?: { dir: string }; cpu?: { dir: string } };
}

async function readState(rootDir: string, id: string): Promise<StateJson> {
  return JSON.parse(await readFile(path.join(rootDir, id, "state.json"), "utf8")) as StateJson;
}

/** Run `fn` with a temp root dir; kill every workload process group found in state files afterwards. */
async function withRoot(fn: (rootDir: string) => Promise<void>): Promise<void> {
  const rootDir = await tempRoot();
  try {
    await fn(rootDir);
  } finally {
    for (const name of await readdir(rootDir).catch(() => [] as string[])) {
      const pid = (await readState(rootDir, name).catch(() => undefined))?.process?.pid;
      if (pid && isPidAlive(pid)) {
        try {
          process.kill(-pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
    await rm(rootDir, { recursive: true, force: true });
  }
}

describe("LocalProcessRuntime", () => {
  it("gives each workload its own directory, a minimal env, and keeps secret values off disk", () =>
    withRoot(async (rootDir) => {
      const rt = runtime(rootDir);
      const secret = `s3cr3t-${Date.now()}`;
      const id = "layout-1";
      await rt.start(
        sh(id, 'pwd; echo "home=$HOME"; echo "tmp=$TMPDIR"; echo "lang=$LANG"; env | cut -d= -f1 | sort | tr "\\n" " "', {
          env: { A: "1" },
          secretEnv: { TOKEN: secret },
          labels: { team: "ml" },
        }),
      );
      expect((await waitForEnd(rt, id)).phase).toBe("Succeeded");
      const dir = path.join(rootDir, id);
      const work = path.join(dir, "work");
      const lines = (await stdout(rt, id)).split("\n");
      expect(lines[0]).toBe(work);
      expect(lines[1]).toBe(`home=${work}`);
      expect(lines[2]).toBe(`tmp=${path.join(dir, "tmp")}`);
      expect(lines[3]).toBe("lang=C.UTF-8");
      const names = lines[4]!.trim().split(" ");
      // Only the base env, the spec's env and its secretEnv (sh itself adds PWD, maybe SHLVL/_).
      expect(names.filter((n) => !["PWD", "SHLVL", "_", "OLDPWD"].includes(n)).sort()).toEqual(
        ["A", "HOME", "LANG", "PATH", "TMPDIR", "TOKEN"].sort(),
      );
      expect((await readdir(dir)).sort()).toEqual(["exit.json", "state.json", "stderr.log", "stdout.log", "tmp", "work"]);
      for (const file of ["state.json", "exit.json", "stdout.log", "stderr.log"]) {
        expect(await readFile(path.join(dir, file), "utf8")).not.toContain(secret);
      }
      const state = JSON.parse(await readFile(path.join(dir, "state.json"), "utf8")) as {
        spec: { secretEnvKeys?: string[]; secretEnv?: unknown };
        process: { pid: number; startTime: string };
      };
      expect(state.spec.secretEnvKeys).toEqual(["TOKEN"]);
      expect(state.spec.secretEnv).toBeUndefined();
      expect(state.process.pid).toBeGreaterThan(0);
      expect(state.process.startTime).toMatch(/^\d+$/);
      expect((await rt.get(id))?.logRef).toBe(dir);
      await rt.remove(id);
      expect(fs.existsSync(dir)).toBe(false);
      await rt.close();
    }));

  it("reports a missing working directory as StartError and rejects field-level spec errors", () =>
    withRoot(async (rootDir) => {
      const rt = runtime(rootDir);
      await rt.start(sh("bad-cwd", "true", { workingDir: "/nonexistent/forja-dir" }));
      const end = await waitForEnd(rt, "bad-cwd");
      expect(end).toMatchObject({ phase: "Failed", reason: "StartError" });
      expect(end.message).toContain("working directory");
      await expect(rt.start(sh("bad-env", "true", { env: { "1BAD": "x" } }))).rejects.toMatchObject({
        code: "InvalidInput",
        details: [{ path: "env.1BAD" }],
      });
      await expect(rt.start(sh("dup-env", "true", { env: { X: "1" }, secretEnv: { X: "2" } }))).rejects.toMatchObject({
        details: [{ path: "secretEnv.X" }],
      });
      await rt.close();
      await expect(rt.start(sh("after-close", "true"))).rejects.toMatchObject({ code: "Unavailable" });
    }));

  it("refuses to start over an untracked workload directory", () =>
    withRoot(async (rootDir) => {
      const a = runtime(rootDir);
      await a.start(sh("dup", "true"));
      await waitForEnd(a, "dup");
      await a.close();
      const b = runtime(rootDir);
      await expect(b.start(sh("dup", "true"))).rejects.toMatchObject({ code: "Conflict" });
      await b.recover();
      expect((await b.start(sh("dup", "true"))).phase).toBe("Succeeded");
      await b.close();
    }));

  it("recovers orphans after a crash: resumes live ones and sees them end with their exit code", () =>
    withRoot(async (rootDir) => {
      const a = runtime(rootDir);
      await a.start(sh("orphan-ok", "echo started; sleep 0.8; echo done"));
      await a.start(sh("orphan-four", "sleep 0.8; exit 4"));
      await waitForPhase(a, "orphan-ok", "Running");
      await waitForPhase(a, "orphan-four", "Running");
      await a.close(); // the "crash": stop tracking, processes keep running
      const pid = (await readState(rootDir, "orphan-ok")).process!.pid;
      expect(isPidAlive(pid)).toBe(true);

      const b = runtime(rootDir);
      const recovered = await b.recover();
      expect(recovered.map((s) => [s.id, s.phase]).sort()).toEqual([
        ["orphan-four", "Running"],
        ["orphan-ok", "Running"],
      ]);
      expect(await waitForEnd(b, "orphan-ok")).toMatchObject({ phase: "Succeeded", exitCode: 0 });
      expect(await waitForEnd(b, "orphan-four")).toMatchObject({ phase: "Failed", reason: "Error", exitCode: 4 });
      expect(await stdout(b, "orphan-ok")).toBe("started\ndone\n");
      expect((await readState(rootDir, "orphan-four")).status.phase).toBe("Failed");
      expect(await b.recover()).toEqual([]); // idempotent
      await b.close();
    }));

  it("recovers a workload that ended while no server was running, from its exit record", () =>
    withRoot(async (rootDir) => {
      const a = runtime(rootDir);
      await a.start(sh("ended-3", "sleep 0.2; exit 3"));
      await a.start(sh("ended-0", "sleep 0.2; echo fine"));
      await waitForPhase(a, "ended-3", "Running");
      await waitForPhase(a, "ended-0", "Running");
      await a.close();
      await until("exit records", () => ["ended-3", "ended-0"].every((id) => fs.existsSync(path.join(rootDir, id, "exit.json"))));
      expect((await readState(rootDir, "ended-3")).status.phase).toBe("Running"); // nobody was there to notice

      const b = runtime(rootDir);
      const recovered = new Map((await b.recover()).map((s) => [s.id, s]));
      expect(recovered.get("ended-3")).toMatchObject({ phase: "Failed", reason: "Error", exitCode: 3 });
      expect(recovered.get("ended-0")).toMatchObject({ phase: "Succeeded", exitCode: 0 });
      expect((await readState(rootDir, "ended-3")).status).toMatchObject({ phase: "Failed", exitCode: 3 });
      await b.close();
    }));

  it("has an orphaned supervisor rename its exit record itself after a kill -9 of the server", () =>
    withRoot(async (rootDir) => {
      const moduleUrl = new URL("./local-runtime.ts", import.meta.url).href;
      const script = [
        `import { LocalProcessRuntime } from ${JSON.stringify(moduleUrl)};`,
        `const rt = new LocalProcessRuntime({ rootDir: ${JSON.stringify(rootDir)} });`,
        `await rt.start({ id: "kill9", command: ["sh", "-c", "sleep 0.5; exit 5"] });`,
        // start() may resolve before the supervisor is spawned (a busy machine): kill the server
        // only once the workload runs, or there is no orphan to test.
        `while ((await rt.get("kill9"))?.phase === "Pending") await new Promise((r) => setTimeout(r, 10));`,
        `process.stdout.write("started\\n");`,
        "setInterval(() => {}, 1000);",
      ].join("\n");
      const server = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
      try {
        await new Promise<void>((resolve, reject) => {
          server.stdout.on("data", (d: Buffer) => {
            if (d.toString().includes("started")) resolve();
          });
          server.once("exit", () => reject(new Error("the server process ended early")));
        });
      } finally {
        server.kill("SIGKILL");
      }
      const exitFile = path.join(rootDir, "kill9", "exit.json");
      await until("the orphaned supervisor's exit.json", () => fs.existsSync(exitFile));
      expect(JSON.parse(await readFile(exitFile, "utf8"))).toEqual({ status: 5 });
      expect(fs.existsSync(`${exitFile}.tmp`)).toBe(false);
      const b = runtime(rootDir);
      expect(await b.recover()).toMatchObject([{ id: "kill9", phase: "Failed", reason: "Error", exitCode: 5 }]);
      await b.close();
    }));

  it("promotes a complete exit.json.tmp left by a server that died before renaming it", () =>
    withRoot(async (rootDir) => {
      const a = runtime(rootDir);
      await a.start(sh("tmp-only", "exit 6"));
      await waitForEnd(a, "tmp-only");
      await a.close();
      const dir = path.join(rootDir, "tmp-only");
      const state = await readState(rootDir, "tmp-only");
      const { finishedAt: _f, reason: _r, message: _m, exitCode: _e, ...running } = state.status;
      await writeFile(path.join(dir, "state.json"), JSON.stringify({ ...state, status: { ...running, phase: "Running" } }));
      fs.renameSync(path.join(dir, "exit.json"), path.join(dir, "exit.json.tmp"));
      const b = runtime(rootDir);
      expect(await b.recover()).toMatchObject([{ phase: "Failed", reason: "Error", exitCode: 6 }]);
      expect(JSON.parse(await readFile(path.join(dir, "exit.json"), "utf8"))).toEqual({ status: 6 });
      expect(fs.existsSync(path.join(dir, "exit.json.tmp"))).toBe(false);
      await b.close();
    }));

  it("recovers from a crash in the middle of a launch: no id is blocked and nothing runs twice", () =>
    withRoot(async (rootDir) => {
      const a = runtime(rootDir);
      await a.start(sh("mid-launch-live", "sleep 0.6; exit 3"));
      await a.start(sh("mid-launch-ended", "exit 4"));
      await a.start(sh("mid-launch-gone", "sleep 30"));
      await a.start(sh("mid-launch-unspawned", "echo ran"));
      await a.start(sh("mid-launch-unspawned-secret", "echo ran", { secretEnv: { K: "v" } }));
      await waitForPhase(a, "mid-launch-live", "Running");
      await waitForEnd(a, "mid-launch-ended");
      await waitForPhase(a, "mid-launch-gone", "Running");
      await waitForEnd(a, "mid-launch-unspawned");
      await waitForEnd(a, "mid-launch-unspawned-secret");
      await a.close();
      // Make state.json look as if the server died right after the spawn, before recording the pid...
      let gonePid = 0;
      const unspawned = ["mid-launch-unspawned", "mid-launch-unspawned-secret"];
      for (const id of ["mid-launch-live", "mid-launch-ended", "mid-launch-gone", ...unspawned]) {
        const state = await readState(rootDir, id);
        if (id === "mid-launch-gone") {
          gonePid = state.process!.pid;
          process.kill(-gonePid, "SIGKILL"); // supervisor and workload die together: no exit record
        }
        const { startedAt: _s, finishedAt: _f, reason: _r, message: _m, exitCode: _e, ...pending } = state.status;
        const { process: _p, ...rest } = state;
        await writeFile(path.join(rootDir, id, "state.json"), JSON.stringify({ ...rest, status: { ...pending, phase: "Pending" } }));
        // ...or before the spawn, with the log files already open: the supervisor never ran.
        if (unspawned.includes(id)) for (const f of ["exit.json", "exit.json.tmp"]) fs.rmSync(path.join(rootDir, id, f), { force: true });
      }
      // ...or even before its first state.json write.
      fs.mkdirSync(path.join(rootDir, "mid-mkdir", "work"), { recursive: true });
      fs.mkdirSync(path.join(rootDir, "mid-mkdir", "tmp"));
      // ...or while writing it: only its temporary file exists.
      fs.mkdirSync(path.join(rootDir, "mid-state-write", "work"), { recursive: true });
      fs.mkdirSync(path.join(rootDir, "mid-state-write", "tmp"));
      fs.writeFileSync(path.join(rootDir, "mid-state-write", "state.json.tmp"), '{"version":1,"se');
      await until("the killed group to die", () => !isPidAlive(gonePid));

      const b = runtime(rootDir);
      const recovered = new Map((await b.recover()).map((s) => [s.id, s]));
      expect(recovered.get("mid-launch-live")?.phase).toBe("Running"); // its supervisor was found in /proc
      expect(recovered.get("mid-launch-ended")).toMatchObject({ phase: "Failed", reason: "Error", exitCode: 4 });
      expect(recovered.get("mid-launch-gone")).toMatchObject({ phase: "Lost" }); // may have run: never start it again
      expect(lostBeforeStart(recovered.get("mid-launch-gone")!)).toBe(false);
      expect(["Pending", "Running"]).toContain(recovered.get("mid-launch-unspawned")?.phase); // queued (and launched) again
      expect(lostBeforeStart(recovered.get("mid-launch-unspawned-secret")!)).toBe(true); // its secret values are gone
      expect(recovered.has("mid-mkdir")).toBe(false);
      expect(fs.existsSync(path.join(rootDir, "mid-mkdir"))).toBe(false);
      expect(recovered.has("mid-state-write")).toBe(false);
      expect(fs.existsSync(path.join(rootDir, "mid-state-write"))).toBe(false);
      expect(await waitForEnd(b, "mid-launch-live")).toMatchObject({ phase: "Failed", reason: "Error", exitCode: 3 });
      expect((await b.start(sh("mid-mkdir", "echo fresh"))).id).toBe("mid-mkdir");
      expect((await waitForEnd(b, "mid-mkdir")).phase).toBe("Succeeded");
      expect((await waitForEnd(b, (await b.start(sh("mid-state-write", "echo fresh"))).id)).phase).toBe("Succeeded");
      expect((await waitForEnd(b, "mid-launch-unspawned")).phase).toBe("Succeeded");
      await b.close();
    }));

  it("marks a workload Lost when its process vanished without an exit record", () =>
    withRoot(async (rootDir) => {
      const a = runtime(rootDir);
      await a.start(sh("vanished", "sleep 30"));
      await waitForPhase(a, "vanished", "Running");
      await a.close();
      const pid = (await readState(rootDir, "vanished")).process!.pid;
      process.kill(-pid, "SIGKILL"); // supervisor and workload die together: no exit.json
      await until("the process group to die", () => !isPidAlive(pid));

      const b = runtime(rootDir);
      const [status] = await b.recover();
      expect(status).toMatchObject({ id: "vanished", phase: "Lost", reason: "Lost" });
      expect(fs.existsSync(path.join(rootDir, "vanished", "exit.json"))).toBe(false);
      await b.close();
    }));

  it("does not adopt (or signal) a process that merely reuses a recorded pid", () =>
    withRoot(async (rootDir) => {
      const a = runtime(rootDir);
      await a.start(sh("reused", "sleep 30", { timeoutSeconds: 1, gracePeriodSeconds: 0 }));
      await waitForPhase(a, "reused", "Running");
      await a.close();
      const statePath = path.join(rootDir, "reused", "state.json");
      const original = await readState(rootDir, "reused");
      process.kill(-original.process!.pid, "SIGKILL");
      // An unrelated process (its own group) now "owns" the pid recorded in state.json.
      const stranger = spawn("sleep", ["30"], { detached: true, stdio: "ignore" });
      try {
        const forged = { ...original, process: { ...original.process, pid: stranger.pid, startTime: "1" } };
        await writeFile(statePath, JSON.stringify(forged));
        const b = runtime(rootDir);
        const [status] = await b.recover();
        expect(status).toMatchObject({ phase: "Lost" });
        await sleep(1200); // past the timeout: nothing may be signalled
        expect(isPidAlive(stranger.pid!)).toBe(true);
        await b.close();
      } finally {
        stranger.kill("SIGKILL");
      }
    }));

  it("re-arms timeouts after recovery, based on startedAt", () =>
    withRoot(async (rootDir) => {
      const a = runtime(rootDir);
      await a.start(sh("timeout-after-crash", "sleep 30", { timeoutSeconds: 1, gracePeriodSeconds: 0 }));
      await waitForPhase(a, "timeout-after-crash", "Running");
      await a.close();
      const b = runtime(rootDir);
      await b.recover();
      const end = await waitForEnd(b, "timeout-after-crash");
      expect(end).toMatchObject({ phase: "Failed", reason: "Timeout" });
      const ran = Date.parse(end.finishedAt!) - Date.parse(end.startedAt!);
      expect(ran).toBeGreaterThanOrEqual(900);
      expect(ran).toBeLessThan(5_000);
      await b.close();
    }));

  it("re-queues Pending workloads after a restart, except those whose secrets are gone", () =>
    withRoot(async (rootDir) => {
      const a = runtime(rootDir, { maxConcurrent: 1 });
      await a.start(sh("q-blocker", "sleep 0.4"));
      await a.start(sh("q-plain", "echo ran-later"));
      await a.start(sh("q-secret", "echo never", { secretEnv: { K: "v" } }));
      await a.close();
      const b = runtime(rootDir, { maxConcurrent: 1 });
      const recovered = new Map((await b.recover()).map((s) => [s.id, s]));
      expect(recovered.get("q-blocker")?.phase).toBe("Running");
      expect(recovered.get("q-plain")?.phase).toBe("Pending");
      expect(recovered.get("q-secret")?.phase).toBe("Lost");
      expect(lostBeforeStart(recovered.get("q-secret")!)).toBe(true); // it never ran: may be started again
      expect((await waitForEnd(b, "q-plain")).phase).toBe("Succeeded");
      expect(await stdout(b, "q-plain")).toBe("ran-later\n");
      await b.close();
    }));

  it("starts workloads with default signal dispositions and keeps shell job messages out of their logs", () =>
    withRoot(async (rootDir) => {
      const rt = runtime(rootDir);
      // The sh supervisor traps TERM/INT/...: the workload must not inherit that (nor an "ignore").
      await rt.start(sh("sigs", "grep '^SigIgn:' /proc/self/status; ls /proc/self/fd | tr '\\n' ' '; echo; kill -SEGV $$"));
      const end = await waitForEnd(rt, "sigs");
      expect(end).toMatchObject({ phase: "Failed", reason: "Signal", signal: "SIGSEGV" });
      const out = await stdout(rt, "sigs");
      expect(out).toContain("SigIgn:\t0000000000000000\n"); // nothing ignored, INT and QUIT included
      // fd 0-2 and the one ls opens for /proc/self/fd: the supervisor's fd 3 (stderr.log) is not leaked.
      expect(out.split("\n")[1]!.trim().split(" ").filter((fd) => Number(fd) <= 10)).toEqual(["0", "1", "2", "3"]);
      // The supervisor shell reports "Segmentation fault" on its own stderr, which is /dev/null.
      expect(await readFile(path.join(rootDir, "sigs", "stderr.log"), "utf8")).toBe("");
      await rt.close();
    }));

  it("records the exit code of a workload that handles SIGTERM: the supervisor outlives the group signal", () =>
    withRoot(async (rootDir) => {
      const rt = runtime(rootDir);
      await rt.start(sh("term-7", "trap 'echo bye; exit 7' TERM; echo ready; while :; do sleep 0.05; done", { gracePeriodSeconds: 5 }));
      await until("ready", () => fs.readFileSync(path.join(rootDir, "term-7", "stdout.log"), "utf8").includes("ready"));
      await rt.cancel("term-7");
      const end = await waitForEnd(rt, "term-7");
      expect(end).toMatchObject({ phase: "Cancelled", reason: "Cancelled", exitCode: 7 });
      expect(await stdout(rt, "term-7")).toBe("ready\nbye\n");
      expect(JSON.parse(await readFile(path.join(rootDir, "term-7", "exit.json"), "utf8"))).toEqual({ status: 7 });
      expect((await readState(rootDir, "term-7")) as unknown).toMatchObject({ stop: { reason: "Cancelled", graceSeconds: 5 } });
      await rt.close();
    }));

  it("settles a workload cancelled while no server is running from the persisted stop request", () =>
    withRoot(async (rootDir) => {
      const a = runtime(rootDir);
      await a.start(sh("stop-crash", "trap 'exit 0' TERM; echo ready; while :; do sleep 0.05; done", { gracePeriodSeconds: 30 }));
      await until("ready", () => fs.readFileSync(path.join(rootDir, "stop-crash", "stdout.log"), "utf8").includes("ready"));
      await a.cancel("stop-crash");
      await a.close(); // "crash" right after signalling: the stop request is already in state.json
      const pid = (await readState(rootDir, "stop-crash")).process!.pid;
      await until("the workload to end", () => !isPidAlive(pid));
      const b = runtime(rootDir);
      const [status] = await b.recover();
      expect(status).toMatchObject({ phase: "Cancelled", reason: "Cancelled", exitCode: 0 });
      expect(Date.parse(status!.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(status!.startedAt!));
      await b.close();
    }));

  it("a cancel right after start never gets lost, even before the supervisor has started the command", () =>
    withRoot(async (rootDir) => {
      const rt = runtime(rootDir);
      for (let i = 0; i < 10; i++) {
        const id = `early-${i}`;
        // Once running, it handles TERM by exiting; a lost TERM would leave it running for the 30 s grace period.
        await rt.start(sh(id, "trap 'exit 0' TERM; while :; do sleep 0.05; done", { gracePeriodSeconds: 30 }));
        await rt.cancel(id);
        const t0 = Date.now();
        expect(await waitForEnd(rt, id, 10_000)).toMatchObject({ phase: "Cancelled" });
        expect(Date.now() - t0).toBeLessThan(5_000);
      }
      await rt.close();
    }));

  it("kills stragglers left in the process group when the main process exits", () =>
    withRoot(async (rootDir) => {
      const rt = runtime(rootDir);
      await rt.start(sh("straggler", 'sleep 30 & echo "bg=$!"'));
      expect((await waitForEnd(rt, "straggler")).phase).toBe("Succeeded");
      const bg = Number(/bg=(\d+)/.exec(await stdout(rt, "straggler"))![1]);
      await until("the straggler to die", () => !isPidAlive(bg), 3_000);
      await rt.close();
    }));

  describe("resource limits", () => {
    it("prlimit mode applies the memory limit as RLIMIT_AS", async (ctx) => {
      await withRoot(async (rootDir) => {
        const rt = runtime(rootDir, { limitEnforcement: "prlimit" });
        if (rt.limitSupport().memory !== "prlimit") ctx.skip();
        await rt.start(sh("rlimit", "ulimit -v", { resources: { limits: { memoryBytes: 256 * 1024 * 1024 } } }));
        expect((await waitForEnd(rt, "rlimit")).phase).toBe("Succeeded");
        expect((await stdout(rt, "rlimit")).trim()).toBe(String(256 * 1024));
        await rt.close();
      });
    });

    it("none mode enforces nothing", () =>
      withRoot(async (rootDir) => {
        const rt = runtime(rootDir, { limitEnforcement: "none" });
        expect(rt.limitSupport()).toEqual({ memory: "none", cpu: "none" });
        await rt.start(sh("nolimit", "ulimit -v", { resources: { limits: { memoryBytes: 1024 * 1024 } } }));
        expect((await waitForEnd(rt, "nolimit")).phase).toBe("Succeeded");
        expect((await stdout(rt, "nolimit")).trim()).toBe("unlimited");
        await rt.close();
      }));

    it("cgroup v1 mode writes memory and cpu limits into a per-workload cgroup and removes it afterwards", async (ctx) => {
      await withRoot(async (rootDir) => {
        const rt = runtime(rootDir);
        const support = rt.limitSupport();
        if (support.memory !== "cgroup-v1" || support.cpu !== "cgroup-v1") ctx.skip();
        await rt.start(
          sh(
            "cg-limits",
            [
              "m=$(grep ':memory:' /proc/self/cgroup | cut -d: -f3)",
              "c=$(grep -E ':cpu(,|:)' /proc/self/cgroup | cut -d: -f3)",
              'echo "mem=$(cat /sys/fs/cgroup/memory$m/memory.limit_in_bytes)"',
              'echo "quota=$(cat /sys/fs/cgroup/cpu$c/cpu.cfs_quota_us)"',
              'echo "period=$(cat /sys/fs/cgroup/cpu$c/cpu.cfs_period_us)"',
              'echo "path=$m"',
            ].join("; "),
            { resources: { limits: { memoryBytes: 64 * 1024 * 1024, cpu: 0.5 } } },
          ),
        );
        await waitForPhase(rt, "cg-limits", "Running");
        const state = await readState(rootDir, "cg-limits");
        expect(state.cgroups?.memory?.dir).toMatch(/\/forja-[0-9a-f]{12}\/cg-limits$/);
        expect((await waitForEnd(rt, "cg-limits")).phase).toBe("Succeeded");
        const out = await stdout(rt, "cg-limits");
        expect(out).toContain(`mem=${64 * 1024 * 1024}\n`);
        expect(out).toContain("quota=50000\n");
        expect(out).toContain("period=100000\n");
        expect(out).toMatch(/path=.*\/forja-[0-9a-f]{12}\/cg-limits\n/);
        await until("cgroup removal", () => !fs.existsSync(state.cgroups!.memory!.dir) && !fs.existsSync(state.cgroups!.cpu!.dir));
        await rt.close();
      });
    });

    it("reports a workload killed for exceeding its cgroup memory limit as OOMKilled", async (ctx) => {
      await withRoot(async (rootDir) => {
        const rt = runtime(rootDir);
        if (!rt.limitSupport().memory.startsWith("cgroup")) ctx.skip();
        // tail must buffer its whole (newline-free) input: it grows until the OOM killer stops it.
        await rt.start(sh("oom", "head -c 500000000 /dev/zero | tail -n 1 > /dev/null", { resources: { limits: { memoryBytes: 32 * 1024 * 1024 } } }));
        const end = await waitForEnd(rt, "oom");
        expect(end).toMatchObject({ phase: "Failed", reason: "OOMKilled" });
        await rt.close();
      });
    });
  });
});
