/**
 * A workload's whole process tree goes with it, on cancel, on timeout and when its main process
 * exits, also what left the supervisor's process group but not its session (GNU `timeout`).
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { isTerminal, type WorkloadSpec, type WorkloadStatus } from "../port.ts";
import { LocalProcessRuntime } from "./local-runtime.ts";
import { isPidAlive } from "./proc.ts";

async function waitForEnd(rt: LocalProcessRuntime, id: string, timeoutMs = 10_000): Promise<WorkloadStatus> {
  let last: WorkloadStatus | undefined;
  for await (const s of rt.watch(id, AbortSignal.timeout(timeoutMs))) last = s;
  if (!last || !isTerminal(last.phase)) throw new Error(`workload ${id} did not end (last: ${last?.phase})`);
  return last;
}

async function untilOut(rootDir: string, id: string, re: RegExp, timeoutMs = 5_000): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await readFile(path.join(rootDir, id, "stdout.log"), "utf8").catch(() => "");
    const m = re.exec(text);
    if (m) return m;
    if (Date.now() > deadline) throw new Error(`no ${re} in stdout of ${id}`);
    await sleep(25);
  }
}

/** Run with a temp root; SIGKILL every pid collected in `leftovers` afterwards. */
async function withRoot(fn: (rootDir: string, leftovers: number[]) => Promise<void>): Promise<void> {
  const rootDir = await mkdtemp(path.join(os.tmpdir(), "forja-review-"));
  const leftovers: number[] = [];
  try {
    await fn(rootDir, leftovers);
  } finally {
    for (const pid of leftovers) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone
      }
    }
    await rm(rootDir, { recursive: true, force: true });
  }
}

describe("local runtime review", () => {
  // GNU `timeout` (common in step scripts) moves itself and its child into a new process group
  // (setpgid(0,0)) but stays in the supervisor's session. Signalling the supervisor's group alone
  // reported Cancelled while the whole tree kept running (and writing to the workload's logs).
  it("cancel stops a process tree that runs under `timeout` (new process group, same session)", { timeout: 15_000 }, () =>
    withRoot(async (rootDir, leftovers) => {
      const rt = new LocalProcessRuntime({ rootDir, pollIntervalMs: 50, limitEnforcement: "none" });
      const spec: WorkloadSpec = { id: "tmo-cancel", command: ["timeout", "60", "sh", "-c", 'echo "pid=$$"; exec sleep 60'] };
      await rt.start(spec);
      const pid = Number((await untilOut(rootDir, spec.id, /pid=(\d+)/))[1]);
      leftovers.push(pid);
      await rt.cancel(spec.id, { gracePeriodSeconds: 1 });
      expect((await waitForEnd(rt, spec.id)).phase).toBe("Cancelled");
      await sleep(1_000);
      const alive = isPidAlive(pid);
      await rt.close();
      expect(alive, "the workload's process still runs after it was reported Cancelled").toBe(false);
    }),
  );

  // The normal-exit path: leftovers are SIGKILLed when the main process exits ("as in a
  // container"), also a background job started under `timeout`.
  it("kills background leftovers of a main process that ran under `timeout` when it exits", { timeout: 15_000 }, () =>
    withRoot(async (rootDir, leftovers) => {
      const rt = new LocalProcessRuntime({ rootDir, pollIntervalMs: 50, limitEnforcement: "none" });
      const spec: WorkloadSpec = { id: "tmo-exit", command: ["timeout", "60", "sh", "-c", 'sleep 60 & echo "bg=$!"'] };
      await rt.start(spec);
      expect((await waitForEnd(rt, spec.id)).phase).toBe("Succeeded");
      const pid = Number((await untilOut(rootDir, spec.id, /bg=(\d+)/))[1]);
      leftovers.push(pid);
      await sleep(1_000);
      const alive = isPidAlive(pid);
      await rt.close();
      expect(alive, "a leftover of the finished workload still runs").toBe(false);
    }),
  );
});
