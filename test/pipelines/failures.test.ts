/**
 * What a user sees when things go wrong: invalid pipelines rejected with the field at fault,
 * failing steps (exit codes, retries, timeouts), run timeouts, cancellation, and retrying a
 * failed run — with the step processes really gone when a run stops them.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/server.ts";
import { alive, apply, applyOk, call, eventually, getRun, logs, node, phases, pipeline, PROJECT, runPath, startRun, waitRun } from "./support.ts";

let s: TestServer;
let dir: string;
beforeAll(async () => {
  s = await startTestServer();
  dir = mkdtempSync(join(tmpdir(), "forja-pl-fail-"));
});
afterAll(async () => {
  await s?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A sh step. */
const sh = (name: string, script: string, extra: Record<string, unknown> = {}) => ({ name, command: ["sh", "-c", script], ...extra });

/** A finally step that records what it saw as output params. */
const observer = sh("observe", 'printf %s "{{run.status}}" > "$FORJA_OUTPUTS_DIR/params/status"; printf %s \'{{run.failedSteps}}\' > "$FORJA_OUTPUTS_DIR/params/failed"', {
  outputs: { params: { status: {}, failed: { type: "array" } } },
});

/** A step that records its pid in `<dir>/<file>` and sleeps (exec: the pid is the sleep's). */
const sleeper = (name: string, file: string, extra: Record<string, unknown> = {}) => sh(name, `echo $$ > "{{params.dir}}/${file}.tmp" && mv "{{params.dir}}/${file}.tmp" "{{params.dir}}/${file}"; exec sleep 30`, extra);

const pidIn = (file: string) => eventually(`${file} to be written`, () => (existsSync(join(dir, file)) ? Number(readFileSync(join(dir, file), "utf8")) : undefined), 15_000);

describe("invalid pipelines are rejected at apply time with the field at fault", () => {
  it("a misspelt field: 400 naming spec.steps[i].field; nothing stored", async () => {
    const r = await apply(s, `apiVersion: forja.dev/v1
kind: Pipeline
metadata: { name: typo, project: ${PROJECT} }
spec:
  steps:
    - name: a
      comand: [echo, hi]
`);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe("InvalidInput");
    expect(r.body.error.details).toContainEqual({ path: "spec.steps[0].comand", reason: "is not a known field" });
    expect((await call(s, "GET", `/api/v1/projects/${PROJECT}/pipelines/typo`)).status).toBe(404);
  });

  it("invalid YAML: 400 with the line", async () => {
    const r = await apply(s, `apiVersion: forja.dev/v1\nkind: Pipeline\nmetadata: { name: broken, project: ${PROJECT} }\nspec:\n  steps:\n    - name: a\n      command: [echo\n`);
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/invalid YAML at line \d+/);
  });

  it("a cycle: 400 naming the cycle", async () => {
    const r = await apply(s, [
      pipeline("cyclic", {
        steps: [
          sh("a", "echo {{steps.c.outputs.params.x}}", { outputs: { params: { x: {} } } }),
          sh("b", "echo {{steps.a.outputs.params.x}}", { outputs: { params: { x: {} } } }),
          sh("c", "echo", { dependsOn: ["b"], outputs: { params: { x: {} } } }),
        ],
      }),
    ]);
    expect(r.status).toBe(400);
    const reasons = (r.body.error.details as { path: string; reason: string }[]).map((d) => d.reason);
    expect(reasons.some((m) => /^dependency cycle: ([abc]) → [abc] → [abc] → \1$/.test(m)), reasons.join("\n")).toBe(true);
    expect(reasons.find((m) => m.startsWith("dependency cycle"))).toMatch(/a → c → b → a|b → a → c → b|c → b → a → c/);
  });

  it("unknown references: 400 for each, with a suggestion", async () => {
    const r = await apply(s, [
      pipeline("refs", {
        steps: [
          sh("extract", "echo 1 > $FORJA_OUTPUTS_DIR/params/count", { outputs: { params: { count: {} } } }),
          sh("b", "echo {{steps.extrakt.outputs.params.count}}"),
          sh("c", "echo {{steps.extract.outputs.params.cnt}} {{params.nope}}"),
        ],
      }),
    ]);
    expect(r.status).toBe(400);
    const details = r.body.error.details as { path: string; reason: string }[];
    expect(details).toContainEqual({ path: "spec.steps[1].command[2]", reason: 'unknown step "extrakt" (did you mean "extract"?)' });
    expect(details).toContainEqual({ path: "spec.steps[2].command[2]", reason: 'step "extract" has no output parameter "cnt" (declared: count)' });
    expect(details.some((d) => d.path === "spec.steps[2].command[2]" && /nope/.test(d.reason))).toBe(true);
  });
});

describe("failing steps", () => {
  it("a step exiting non-zero (after its retries) fails the run naming the step and exit code; dependents are skipped, others run, finally sees Failed", async () => {
    await applyOk(s, [
      pipeline("fails", {
        steps: [
          sh("a", "echo a-out > $FORJA_OUTPUTS_DIR/params/v", { outputs: { params: { v: {} } } }),
          sh("b", 'echo "b got {{steps.a.outputs.params.v}}"; echo broken >&2; exit 3', { retries: { limit: 1, backoffSeconds: 0.1 } }),
          sh("c", "echo c", { dependsOn: ["b"] }),
          sh("d", "echo d", { dependsOn: ["c"] }),
          sh("e", "echo e {{steps.a.outputs.params.v}}"),
        ],
        finally: [observer],
      }),
    ]);
    const run = await waitRun(s, (await startRun(s, "fails")).metadata.name);
    expect(run.status.phase).toBe("Failed");
    expect(run.status.reason).toBe("StepFailed");
    expect(run.status.message).toBe("step b failed: exit code 3");
    const b = node(run, "b");
    expect(b.phase).toBe("Failed");
    expect(b.attempts?.map((a) => [a.exitCode, a.reason])).toEqual([
      [3, "Error"],
      [3, "Error"],
    ]);
    expect(node(run, "c")).toMatchObject({ phase: "Skipped", reason: "DependencyNotSucceeded", message: 'dependency "b" ended Failed' });
    expect(node(run, "d")).toMatchObject({ phase: "Skipped", message: 'dependency "c" was skipped' });
    expect(node(run, "c").attempts).toBeUndefined();
    expect(node(run, "e").phase).toBe("Succeeded");
    expect(node(run, "observe").outputs?.params).toEqual({ status: "Failed", failed: ["b"] });
    // the failing step's output is in its logs
    const out = await logs(s, run.metadata.name, "?step=b&attempt=2");
    expect(out.body).toContain("b got a-out\n");
    expect(out.body).toContain("broken\n");
  });

  it("a failing finally step fails an otherwise successful run", async () => {
    await applyOk(s, [pipeline("bad-finally", { steps: [sh("ok", "echo ok")], finally: [sh("cleanup", "echo cleaning; exit 5")] })]);
    const run = await waitRun(s, (await startRun(s, "bad-finally")).metadata.name);
    expect(run.status.phase).toBe("Failed");
    expect(run.status.message).toBe("step cleanup failed: exit code 5");
    expect(node(run, "ok").phase).toBe("Succeeded");
  });

  it("a step over its timeoutSeconds is stopped: Failed with reason Timeout within a few seconds, its process gone", async () => {
    await applyOk(s, [pipeline("slow-step", { params: { dir: { type: "string" } }, steps: [sleeper("sleepy", "sleepy.pid", { timeoutSeconds: 1 })] })]);
    const t0 = Date.now();
    const run = await waitRun(s, (await startRun(s, "slow-step", { params: { dir } })).metadata.name, { timeoutMs: 10_000 });
    const took = Date.now() - t0;
    expect(run.status.phase, JSON.stringify(phases(run))).toBe("Failed");
    expect(node(run, "sleepy")).toMatchObject({ phase: "Failed", reason: "Timeout" });
    expect(node(run, "sleepy").attempts?.[0]?.reason).toBe("Timeout");
    expect(run.status.message).toBe("step sleepy failed: timed out: exceeded its timeout of 1s");
    expect(took).toBeGreaterThanOrEqual(1000);
    expect(took).toBeLessThan(6000);
    const pid = await pidIn("sleepy.pid");
    await eventually("the timed-out step's process to be gone", () => !alive(pid), 3000);
  });

  it("a run over spec.timeoutSeconds fails with RunTimeout: its running step is stopped, the rest cancelled, finally still runs and sees Failed", async () => {
    await applyOk(s, [
      pipeline("slow-run", {
        params: { dir: { type: "string" } },
        timeoutSeconds: 1,
        steps: [sleeper("long", "long.pid"), sh("after", "echo after", { dependsOn: ["long"] })],
        finally: [observer],
      }),
    ]);
    const t0 = Date.now();
    const run = await waitRun(s, (await startRun(s, "slow-run", { params: { dir } })).metadata.name, { timeoutMs: 10_000 });
    expect(Date.now() - t0).toBeLessThan(6000);
    expect(run.status.phase, JSON.stringify(phases(run))).toBe("Failed");
    expect(run.status.reason).toBe("RunTimeout");
    expect(run.status.message).toBe("the run exceeded its timeout of 1s");
    expect(node(run, "long").phase).toBe("Cancelled");
    expect(["Cancelled", "Skipped"]).toContain(node(run, "after").phase);
    expect(node(run, "after").attempts).toBeUndefined();
    expect(node(run, "observe").outputs?.params).toEqual({ status: "Failed", failed: [] });
    const pid = await pidIn("long.pid");
    expect(alive(pid)).toBe(false);
  });

  it("cancel mid-run: Cancelled, the running step's process is gone, pending steps never start, finally still runs", async () => {
    await applyOk(s, [
      pipeline("cancellable", {
        params: { dir: { type: "string" } },
        steps: [sleeper("long", "cancel.pid"), sh("after", "echo after", { dependsOn: ["long"] })],
        finally: [observer],
      }),
    ]);
    const started = await startRun(s, "cancellable", { params: { dir } });
    const pid = await pidIn("cancel.pid");
    expect(alive(pid)).toBe(true);
    const t0 = Date.now();
    const r = await call(s, "POST", `${runPath(started.metadata.name)}/cancel`);
    expect(r.status).toBe(200);
    expect(r.body.spec.cancel).toBe(true);
    const run = await waitRun(s, started.metadata.name, { timeoutMs: 10_000 });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(run.status.phase).toBe("Cancelled");
    expect(run.status.reason).toBe("Cancelled");
    expect(node(run, "long").phase).toBe("Cancelled");
    expect(node(run, "long").attempts?.[0]?.reason).toBe("Cancelled");
    expect(node(run, "after").phase).toBe("Cancelled");
    expect(node(run, "after").attempts).toBeUndefined();
    expect(alive(pid)).toBe(false);
    expect(node(run, "observe").phase).toBe("Succeeded");
    expect(node(run, "observe").outputs?.params).toEqual({ status: "Cancelled", failed: [] });
    // an ended run cannot be cancelled again
    const again = await call(s, "POST", `${runPath(started.metadata.name)}/cancel`);
    expect(again.status).toBe(409);
  });
});

describe("deleting a running run", () => {
  it("stops its running step and removes the run", async () => {
    await applyOk(s, [pipeline("deletable", { params: { dir: { type: "string" } }, steps: [sleeper("long", "delete.pid")] })]);
    const name = (await startRun(s, "deletable", { params: { dir } })).metadata.name;
    const pid = await pidIn("delete.pid");
    expect(alive(pid)).toBe(true);
    const r = await call(s, "DELETE", runPath(name));
    expect(r.status).toBe(200);
    await eventually("the run to be gone", async () => (await call(s, "GET", runPath(name))).status === 404, 10_000);
    expect(alive(pid)).toBe(false);
  });
});

describe("retry of a failed run", () => {
  it("re-runs only the failed and skipped steps, reusing the outputs of those that succeeded", async () => {
    const marker = join(dir, "fixed");
    await applyOk(s, [
      pipeline("retryable", {
        params: { marker: { type: "string" } },
        steps: [
          // a non-deterministic output: a second execution would produce another value
          sh("a", 'echo "$$-$(date +%s%N)" > $FORJA_OUTPUTS_DIR/params/v', { outputs: { params: { v: {} } } }),
          sh("b", 'test -f "{{params.marker}}" || { echo "no marker" >&2; exit 4; }; echo "b saw {{steps.a.outputs.params.v}}" > $FORJA_OUTPUTS_DIR/params/v', {
            outputs: { params: { v: {} } },
          }),
          sh("c", 'echo "c saw {{steps.b.outputs.params.v}}" > $FORJA_OUTPUTS_DIR/params/v', { outputs: { params: { v: {} } } }),
        ],
        finally: [observer],
      }),
    ]);
    const name = (await startRun(s, "retryable", { params: { marker } })).metadata.name;
    const failed = await waitRun(s, name);
    expect(failed.status.phase).toBe("Failed");
    expect(failed.status.message).toBe("step b failed: exit code 4");
    expect(node(failed, "c").phase).toBe("Skipped");
    const aBefore = node(failed, "a");

    writeFileSync(marker, "");
    const r = await call(s, "POST", `${runPath(name)}/retry`);
    expect(r.status).toBe(200);
    expect(r.body.spec.retry).toBe(1);
    const run = await waitRun(s, name);
    expect(run.status.phase, JSON.stringify(phases(run))).toBe("Succeeded");
    // a: not executed again, same outputs
    expect(node(run, "a").attempts).toEqual(aBefore.attempts);
    expect(node(run, "a").outputs).toEqual(aBefore.outputs);
    // b: a second attempt, which succeeded with a's original output
    expect(node(run, "b").attempts?.map((x) => x.exitCode)).toEqual([4, 0]);
    expect(node(run, "b").outputs?.params?.v).toBe(`b saw ${String(aBefore.outputs?.params?.v)}`);
    // c: ran once now
    expect(node(run, "c").attempts).toHaveLength(1);
    expect(node(run, "c").outputs?.params?.v).toBe(`c saw b saw ${String(aBefore.outputs?.params?.v)}`);
    // finally ran again and saw the new outcome
    expect(node(run, "observe").outputs?.params).toEqual({ status: "Succeeded", failed: [] });
    expect(run.status.startedAt).toBe(failed.status.startedAt);

    // a succeeded run cannot be retried
    const again = await call(s, "POST", `${runPath(name)}/retry`);
    expect(again.status).toBe(409);
    expect((await getRun(s, name)).spec.retry).toBe(1);
  });
});
