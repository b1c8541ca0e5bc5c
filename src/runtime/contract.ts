/**
 * Contract test suite of the WorkloadRuntime port. Every adapter registers it from its own test
 * file:
 *
 *   runtimeContract("local", async (opts) => ({ runtime: new LocalProcessRuntime({ ... }), cleanup }));
 *
 * Written only against the port. Workloads are POSIX `sh` scripts using busybox-level tools
 * (sleep, date +%s%N, env, pwd), so a container adapter can run them in `CONTRACT_IMAGE`.
 * Timeouts and grace periods are whole seconds (Kubernetes accepts nothing finer).
 */
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { canTransition, isTerminal, type WorkloadRuntime, type WorkloadSpec, type WorkloadStatus } from "./port.ts";

export const CONTRACT_IMAGE = "docker.io/library/busybox:1.36";

/** Runtime settings some contract tests need; the factory must honour them. */
export interface ContractRuntimeOptions {
  readonly maxConcurrent?: number;
}

export interface ContractHarness {
  readonly runtime: WorkloadRuntime;
  /** Called after the runtime was closed: delete temp dirs, namespaces, ... */
  cleanup(): Promise<void>;
  /**
   * Only for adapters whose workloads are processes of this host: is `pid` a live (non-zombie)
   * process? Enables the pid-level checks of the process-tree cancel test.
   */
  readonly isProcessAlive?: (pid: number) => boolean;
}

const END_TIMEOUT_MS = 20_000;

function uid(prefix: string): string {
  return `ct-${prefix}-${randomBytes(4).toString("hex")}`;
}

function shSpec(id: string, script: string, extra: Partial<Omit<WorkloadSpec, "id" | "command">> = {}): WorkloadSpec {
  return { id, image: CONTRACT_IMAGE, command: ["sh", "-c", script], ...extra };
}

/** Watch until terminal (or throw after `timeoutMs`); returns every status seen. */
async function statusesUntilEnd(rt: WorkloadRuntime, id: string, timeoutMs = END_TIMEOUT_MS): Promise<WorkloadStatus[]> {
  const seen: WorkloadStatus[] = [];
  for await (const s of rt.watch(id, AbortSignal.timeout(timeoutMs))) seen.push(s);
  const last = seen.at(-1);
  if (!last || !isTerminal(last.phase)) throw new Error(`workload ${id} did not end within ${timeoutMs} ms (last: ${last?.phase})`);
  return seen;
}

async function waitForEnd(rt: WorkloadRuntime, id: string, timeoutMs = END_TIMEOUT_MS): Promise<WorkloadStatus> {
  const seen = await statusesUntilEnd(rt, id, timeoutMs);
  return seen.at(-1)!;
}

async function waitForPhase(rt: WorkloadRuntime, id: string, phase: WorkloadStatus["phase"], timeoutMs = END_TIMEOUT_MS): Promise<void> {
  for await (const s of rt.watch(id, AbortSignal.timeout(timeoutMs))) if (s.phase === phase) return;
  throw new Error(`workload ${id} never reached ${phase}`);
}

async function readLogs(rt: WorkloadRuntime, id: string, stream: "stdout" | "stderr" | "both" = "stdout"): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of rt.logs(id, { stream })) parts.push(chunk.data);
  return Buffer.concat(parts).toString("utf8");
}

/** Poll the (non-follow) logs until `text` shows up. */
async function waitForOutput(rt: WorkloadRuntime, id: string, text: string, timeoutMs = END_TIMEOUT_MS): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const out = await readLogs(rt, id);
    if (out.includes(text)) return out;
    if (Date.now() > deadline) throw new Error(`workload ${id} never printed ${JSON.stringify(text)}; got ${JSON.stringify(out)}`);
    await sleep(50);
  }
}

function numberAfter(text: string, key: string): number {
  const m = new RegExp(`^${key}=(\\d+)$`, "m").exec(text);
  if (!m?.[1]) throw new Error(`no ${key}=<n> in ${JSON.stringify(text)}`);
  return Number(m[1]);
}

export function runtimeContract(name: string, makeRuntime: (options: ContractRuntimeOptions) => Promise<ContractHarness>): void {
  /** Run `fn` with a fresh runtime; afterwards stop whatever is still running, close and clean up. */
  async function withRuntime(options: ContractRuntimeOptions, fn: (rt: WorkloadRuntime, h: ContractHarness) => Promise<void>): Promise<void> {
    const harness = await makeRuntime(options);
    const rt = harness.runtime;
    try {
      await fn(rt, harness);
    } finally {
      try {
        const leftovers = (await rt.list()).filter((s) => !isTerminal(s.phase));
        for (const s of leftovers) await rt.cancel(s.id, { gracePeriodSeconds: 0 });
        for (const s of leftovers) await waitForEnd(rt, s.id, 10_000).catch(() => undefined);
      } finally {
        await rt.close();
        await harness.cleanup();
      }
    }
  }

  describe(`WorkloadRuntime contract: ${name}`, () => {
    it("runs a command to success and captures stdout and stderr separately", () =>
      withRuntime({}, async (rt) => {
        const id = uid("ok");
        const accepted = await rt.start(shSpec(id, "echo out-1; echo err-1 >&2; echo out-2"));
        expect(accepted.id).toBe(id);
        expect(["Pending", "Running"]).toContain(accepted.phase);
        const end = await waitForEnd(rt, id);
        expect(end).toMatchObject({ id, phase: "Succeeded", reason: "Completed", exitCode: 0 });
        expect(end.startedAt).toBeDefined();
        expect(end.finishedAt).toBeDefined();
        expect(Date.parse(end.createdAt)).toBeLessThanOrEqual(Date.parse(end.startedAt!));
        expect(Date.parse(end.startedAt!)).toBeLessThanOrEqual(Date.parse(end.finishedAt!));
        expect(await readLogs(rt, id, "stdout")).toBe("out-1\nout-2\n");
        expect(await readLogs(rt, id, "stderr")).toBe("err-1\n");
        const both = await readLogs(rt, id, "both");
        expect(both.split("\n").filter(Boolean).sort()).toEqual(["err-1", "out-1", "out-2"]);
        expect(await rt.get(id)).toEqual(end);
      }));

    it("reports a non-zero exit code as Failed/Error with the code", () =>
      withRuntime({}, async (rt) => {
        const id = uid("exit3");
        await rt.start(shSpec(id, "echo failing >&2; exit 3"));
        const end = await waitForEnd(rt, id);
        expect(end).toMatchObject({ phase: "Failed", reason: "Error", exitCode: 3 });
        expect(await readLogs(rt, id, "stderr")).toBe("failing\n");
      }));

    it("reports a workload killed by a signal it was not sent by the runtime as Failed/Signal", () =>
      withRuntime({}, async (rt) => {
        const id = uid("selfkill");
        await rt.start(shSpec(id, "echo about-to-die; kill -KILL $$; echo unreachable"));
        const end = await waitForEnd(rt, id);
        expect(end).toMatchObject({ phase: "Failed", reason: "Signal", signal: "SIGKILL" });
        expect(await readLogs(rt, id)).toBe("about-to-die\n");
      }));

    it("passes env and secretEnv, never the server's environment, and keeps secrets out of statuses", () =>
      withRuntime({}, async (rt) => {
        const serverVar = "FORJA_CONTRACT_SERVER_ONLY";
        process.env[serverVar] = "server-side-value";
        try {
          const id = uid("env");
          const secret = `tok${randomBytes(8).toString("hex")}`;
          const seen: WorkloadStatus[] = [];
          const off = rt.onChange((s) => seen.push(s));
          await rt.start(
            shSpec(
              id,
              [
                'echo "greeting=$GREETING"',
                'echo "empty=[$EMPTY]"',
                'echo "secret-len=${#API_TOKEN}"',
                'case "$API_TOKEN" in tok*) echo secret-prefix-ok;; esac',
                `echo "server=\${${serverVar}:-unset}"`,
                `env | grep -c ${serverVar} || true`,
              ].join("; "),
              { env: { GREETING: "hello world", EMPTY: "" }, secretEnv: { API_TOKEN: secret } },
            ),
          );
          const end = await waitForEnd(rt, id);
          off();
          expect(end.phase).toBe("Succeeded");
          const out = await readLogs(rt, id);
          expect(out).toContain("greeting=hello world\n");
          expect(out).toContain("empty=[]\n");
          expect(out).toContain(`secret-len=${secret.length}\n`);
          expect(out).toContain("secret-prefix-ok\n");
          expect(out).toContain("server=unset\n");
          expect(out).toContain("\n0\n");
          expect(out).not.toContain("server-side-value");
          const everything = JSON.stringify([end, seen, await rt.get(id), await rt.list()]);
          expect(everything).not.toContain(secret);
          expect(await readLogs(rt, id, "both")).not.toContain(secret);
        } finally {
          delete process.env[serverVar];
        }
      }));

    it("runs in the requested working directory", () =>
      withRuntime({}, async (rt) => {
        const id = uid("cwd");
        await rt.start(shSpec(id, "pwd", { workingDir: "/tmp" }));
        expect((await waitForEnd(rt, id)).phase).toBe("Succeeded");
        expect((await readLogs(rt, id)).trim()).toBe("/tmp");
      }));

    it("reports a command that does not exist as Failed/StartError with a message", () =>
      withRuntime({}, async (rt) => {
        const id = uid("nocmd");
        await rt.start({ id, image: CONTRACT_IMAGE, command: ["forja-contract-no-such-command"] });
        const end = await waitForEnd(rt, id);
        expect(end).toMatchObject({ phase: "Failed", reason: "StartError" });
        expect(end.message).toBeTruthy();
      }));

    it("stops a workload that exceeds its timeout and ends it Failed/Timeout", () =>
      withRuntime({}, async (rt) => {
        const id = uid("timeout");
        const t0 = Date.now();
        await rt.start(shSpec(id, "echo started; sleep 30", { timeoutSeconds: 1, gracePeriodSeconds: 1 }));
        const end = await waitForEnd(rt, id);
        expect(end).toMatchObject({ phase: "Failed", reason: "Timeout" });
        const ran = Date.parse(end.finishedAt!) - Date.parse(end.startedAt!);
        expect(ran).toBeGreaterThanOrEqual(900);
        expect(Date.now() - t0).toBeLessThan(10_000);
      }));

    it("cancel stops the whole process tree (SIGTERM to the group) and ends Cancelled", () =>
      withRuntime({}, async (rt, h) => {
        const id = uid("tree");
        await rt.start(
          shSpec(
            id,
            [
              "(while true; do echo tick; sleep 0.05; done) &",
              'echo "ticker=$!"',
              "sleep 30 &",
              'echo "child=$!"',
              'echo "parent=$$"',
              "wait",
            ].join("\n"),
            { gracePeriodSeconds: 5 },
          ),
        );
        const out = await waitForOutput(rt, id, "parent=");
        const pids = ["parent", "child", "ticker"].map((k) => numberAfter(out, k));
        if (h.isProcessAlive) for (const pid of pids) expect(h.isProcessAlive(pid)).toBe(true);
        const t0 = Date.now();
        await rt.cancel(id);
        const end = await waitForEnd(rt, id);
        expect(end).toMatchObject({ phase: "Cancelled", reason: "Cancelled" });
        // Everything obeyed SIGTERM: it ended well before the 5 s grace period ran out.
        expect(Date.now() - t0).toBeLessThan(4_000);
        const ticksAtEnd = await readLogs(rt, id);
        await sleep(300);
        expect(await readLogs(rt, id)).toBe(ticksAtEnd);
        if (h.isProcessAlive) for (const pid of pids) expect(h.isProcessAlive(pid), `pid ${pid} still alive`).toBe(false);
        await rt.cancel(id); // idempotent on an ended workload
        expect(await rt.get(id)).toEqual(end);
      }));

    it("SIGKILLs a workload that ignores SIGTERM once the grace period is over", () =>
      withRuntime({}, async (rt) => {
        const id = uid("grace");
        await rt.start(shSpec(id, "trap 'echo got-term' TERM; echo ready; while true; do sleep 0.1; done", { gracePeriodSeconds: 1 }));
        await waitForOutput(rt, id, "ready");
        const t0 = Date.now();
        await rt.cancel(id);
        const end = await waitForEnd(rt, id);
        const took = Date.now() - t0;
        expect(end).toMatchObject({ phase: "Cancelled", reason: "Cancelled" });
        expect(took).toBeGreaterThanOrEqual(900);
        expect(took).toBeLessThan(8_000);
        expect(await readLogs(rt, id)).toContain("got-term");
      }));

    it("cancels a Pending workload without running it", () =>
      withRuntime({ maxConcurrent: 1 }, async (rt) => {
        const blocker = uid("blocker");
        const queued = uid("queued");
        await rt.start(shSpec(blocker, "sleep 30", { gracePeriodSeconds: 0 }));
        await waitForPhase(rt, blocker, "Running");
        await rt.start(shSpec(queued, "echo should-not-run"));
        expect((await rt.get(queued))?.phase).toBe("Pending");
        await rt.cancel(queued);
        const end = await waitForEnd(rt, queued);
        expect(end).toMatchObject({ phase: "Cancelled", reason: "Cancelled" });
        expect(end.startedAt).toBeUndefined();
        await rt.cancel(blocker);
        expect((await waitForEnd(rt, blocker)).phase).toBe("Cancelled");
        await sleep(200);
        expect(await readLogs(rt, queued, "both")).toBe("");
        expect((await rt.get(queued))?.phase).toBe("Cancelled");
      }));

    it("never runs more than maxConcurrent workloads at once, and starts them in FIFO order", () =>
      withRuntime({ maxConcurrent: 1 }, async (rt) => {
        const ids = [uid("fifo-a"), uid("fifo-b"), uid("fifo-c")];
        let running = 0;
        let maxRunning = 0;
        const phases = new Map<string, string>();
        const off = rt.onChange((s) => {
          if (!ids.includes(s.id)) return;
          const before = phases.get(s.id);
          phases.set(s.id, s.phase);
          if (s.phase === "Running" && before !== "Running") running++;
          if (before === "Running" && s.phase !== "Running") running--;
          maxRunning = Math.max(maxRunning, running);
        });
        for (const id of ids) await rt.start(shSpec(id, 'echo "start=$(date +%s%N)"; sleep 0.3; echo "end=$(date +%s%N)"'));
        expect((await rt.get(ids[1]!))?.phase).toBe("Pending");
        expect((await rt.get(ids[2]!))?.phase).toBe("Pending");
        for (const id of ids) expect((await waitForEnd(rt, id)).phase).toBe("Succeeded");
        off();
        expect(maxRunning).toBe(1);
        const spans = await Promise.all(
          ids.map(async (id) => {
            const out = await readLogs(rt, id);
            return { start: BigInt(numberAfter(out, "start")), end: BigInt(numberAfter(out, "end")) };
          }),
        );
        // FIFO, and each one started only after the previous one ended.
        for (let i = 1; i < spans.length; i++) expect(spans[i]!.start >= spans[i - 1]!.end).toBe(true);
      }));

    it("follow-mode logs deliver lines written after the call and end with the workload, final bytes included", () =>
      withRuntime({}, async (rt) => {
        const id = uid("follow");
        await rt.start(shSpec(id, "echo first; sleep 0.4; echo second; sleep 0.3; echo err-line >&2; printf last"));
        await waitForOutput(rt, id, "first");
        const calledAt = Date.now();
        const got: { stream: string; text: string; at: number }[] = [];
        for await (const chunk of rt.logs(id, { follow: true }, AbortSignal.timeout(END_TIMEOUT_MS))) {
          got.push({ stream: chunk.stream, text: chunk.data.toString("utf8"), at: Date.now() });
        }
        const stdout = got.filter((c) => c.stream === "stdout").map((c) => c.text).join("");
        const stderr = got.filter((c) => c.stream === "stderr").map((c) => c.text).join("");
        expect(stdout).toBe("first\nsecond\nlast");
        expect(stderr).toBe("err-line\n");
        const secondAt = got.find((c) => c.text.includes("second"))!.at;
        expect(secondAt).toBeGreaterThan(calledAt);
        // The iteration ended because the workload did.
        expect(isTerminal((await rt.get(id))!.phase)).toBe(true);
        const onlyErr: string[] = [];
        for await (const chunk of rt.logs(id, { follow: true, stream: "stderr" })) onlyErr.push(chunk.stream);
        expect(new Set(onlyErr)).toEqual(new Set(["stderr"]));
      }));

    it("start is idempotent per id", () =>
      withRuntime({}, async (rt) => {
        const id = uid("idem");
        const spec = shSpec(id, "echo ran; sleep 0.2");
        const [a, b] = await Promise.all([rt.start(spec), rt.start(spec)]);
        const c = await rt.start(spec);
        expect(b.createdAt).toBe(a.createdAt);
        expect(c.createdAt).toBe(a.createdAt);
        const end = await waitForEnd(rt, id);
        expect((await rt.start(spec)).finishedAt).toBe(end.finishedAt);
        expect(await readLogs(rt, id)).toBe("ran\n");
        expect((await rt.list()).filter((s) => s.id === id)).toHaveLength(1);
      }));

    it("lists workloads by labels", () =>
      withRuntime({}, async (rt) => {
        const suite = uid("suite");
        const a1 = uid("la1");
        const a2 = uid("la2");
        const b1 = uid("lb1");
        await rt.start(shSpec(a1, "true", { labels: { suite, kind: "a" } }));
        await rt.start(shSpec(a2, "true", { labels: { suite, kind: "a", extra: "x" } }));
        await rt.start(shSpec(b1, "true", { labels: { suite, kind: "b" } }));
        const ids = (xs: WorkloadStatus[]) => xs.map((s) => s.id).sort();
        expect(ids(await rt.list({ suite }))).toEqual([a1, a2, b1].sort());
        expect(ids(await rt.list({ suite, kind: "a" }))).toEqual([a1, a2].sort());
        expect(ids(await rt.list({ suite, kind: "b" }))).toEqual([b1]);
        expect(await rt.list({ suite, kind: "c" })).toEqual([]);
        expect(ids(await rt.list())).toEqual(expect.arrayContaining([a1, a2, b1]));
        expect((await rt.get(a2))?.labels).toEqual({ suite, kind: "a", extra: "x" });
        for (const id of [a1, a2, b1]) await waitForEnd(rt, id);
      }));

    it("watch yields the current status, then every change, and ends after a terminal one; onChange sees them too", () =>
      withRuntime({}, async (rt) => {
        const id = uid("watch");
        const global: WorkloadStatus[] = [];
        const off = rt.onChange((s) => {
          if (s.id === id) global.push(s);
        });
        await rt.start(shSpec(id, "sleep 0.3"));
        const seen = await statusesUntilEnd(rt, id);
        off();
        expect(["Pending", "Running"]).toContain(seen[0]!.phase);
        expect(seen.at(-1)).toMatchObject({ phase: "Succeeded", exitCode: 0 });
        for (let i = 1; i < seen.length; i++) {
          const from = seen[i - 1]!.phase;
          const to = seen[i]!.phase;
          expect(from === to || canTransition(from, to), `${from} -> ${to}`).toBe(true);
        }
        expect(global.map((s) => s.phase)).toEqual(expect.arrayContaining(["Running", "Succeeded"]));
        expect(global.at(-1)?.phase).toBe("Succeeded");
        // On an ended workload, watch yields once and ends.
        const again: WorkloadStatus[] = [];
        for await (const s of rt.watch(id)) again.push(s);
        expect(again).toEqual([seen.at(-1)]);
      }));

    it("remove refuses a running workload and forgets an ended one", () =>
      withRuntime({}, async (rt) => {
        const id = uid("remove");
        await rt.start(shSpec(id, "sleep 30", { gracePeriodSeconds: 0 }));
        await waitForPhase(rt, id, "Running");
        await expect(rt.remove(id)).rejects.toMatchObject({ code: "Conflict" });
        await rt.cancel(id);
        await waitForEnd(rt, id);
        await rt.remove(id);
        expect(await rt.get(id)).toBeUndefined();
        expect((await rt.list()).map((s) => s.id)).not.toContain(id);
        await expect(rt.remove(id)).rejects.toMatchObject({ code: "NotFound" });
      }));

    it("rejects invalid ids and specs, and knows nothing of unknown ids", () =>
      withRuntime({}, async (rt) => {
        for (const bad of ["../escape", "a/b", "UPPER", "", "-leading-dash", "x".repeat(129)]) {
          await expect(rt.start(shSpec(bad, "true")), bad).rejects.toMatchObject({ code: "InvalidInput" });
        }
        await expect(rt.start({ id: uid("nocommand"), command: [] })).rejects.toMatchObject({ code: "InvalidInput" });
        await expect(rt.start(shSpec(uid("badtimeout"), "true", { timeoutSeconds: -1 }))).rejects.toMatchObject({ code: "InvalidInput" });
        expect(await rt.get("ct-never-started")).toBeUndefined();
        await expect(rt.cancel("ct-never-started")).rejects.toMatchObject({ code: "NotFound" });
      }));
  });
}
