/**
 * The real `forja` CLI (child process, stdout not a TTY) driving pipelines on a real server:
 * apply the examples, run --watch, logs, retry --watch, and the exit codes.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/server.ts";
import { cleanEnv, runCli, tempDir } from "../cli/run.ts";
import { applyOk, getRun, node, pipeline } from "./support.ts";

let s: TestServer;
let home: string;
let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  s = await startTestServer();
  home = tempDir();
  dir = mkdtempSync(join(tmpdir(), "forja-pl-cli-"));
  env = cleanEnv(home, { FORJA_CONFIG: join(home, "unused-config.yaml"), FORJA_URL: s.url, FORJA_TOKEN: s.adminToken });
  await applyOk(s, [
    pipeline("breaks", {
      params: { marker: { type: "string" } },
      steps: [
        { name: "ok", command: ["sh", "-c", "echo fine"] },
        { name: "bad", command: ["sh", "-c", 'test -f "{{params.marker}}" || { echo "no marker" >&2; exit 7; }'], dependsOn: ["ok"] },
      ],
    }),
  ]);
});
afterAll(async () => {
  await s?.stop();
  for (const d of [home, dir]) if (d) rmSync(d, { recursive: true, force: true });
});

const forja = (args: string[]) => runCli(args, env, { timeoutMs: 40_000 });
const runNameIn = (stderr: string) => /run\/([a-z0-9-]+) started/.exec(stderr)?.[1] ?? "";

describe("forja CLI and pipelines", () => {
  let etlRun: string;

  it("apply -f examples/pipelines/ creates the example pipelines in the current project", async () => {
    const r = await forja(["apply", "-f", "examples/pipelines/"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("pipeline/etl created (project default)");
    expect(r.stdout).toMatch(/pipelineschedule\/etl-every-minute created/);
  }, 60_000);

  it("run --param rows=5 --watch: exits 0, plain progress lines on stdout, a summary on stderr", async () => {
    const r = await forja(["run", "etl", "--param", "rows=5", "--watch"]);
    expect(r.code, r.stderr).toBe(0);
    etlRun = runNameIn(r.stderr);
    expect(etlRun).toMatch(/^etl-[a-z0-9]{5}$/);
    // not a TTY: no cursor movement, one line per change, ending with the outcome
    expect(r.stdout).not.toContain("\x1b");
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines.at(-1)).toBe(`run ${etlRun}: Succeeded`);
    for (const step of ["extract", "validate", "transform[0]", "load", "report", "flaky", "notify"]) {
      expect(lines.some((l) => new RegExp(`^✔ ${step.replace(/[[\]]/g, "\\$&")}\\s+Succeeded`).test(l)), `${step} in\n${r.stdout}`).toBe(true);
    }
    // The retry shows whichever state the poll caught: Retrying, the second attempt running, or it done.
    expect(
      lines.some((l) => /^↻ flaky\s+Retrying .*attempt 1 failed \(exit code 1\)/.test(l) || /^[▶✔] flaky\s+(Running|Succeeded) .*attempt 2/.test(l)),
      r.stdout,
    ).toBe(true);
    expect(r.stderr).toMatch(new RegExp(`run ${etlRun} succeeded in [0-9.]+m?s`));
    expect((await getRun(s, etlRun)).status.phase).toBe("Succeeded");
  }, 60_000);

  it("logs run/<name> --step x prints that step's output", async () => {
    const r = await forja(["logs", `run/${etlRun}`, "--step", "extract"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("extracted 5 rows\n");
    const all = await forja(["logs", `run/${etlRun}`]);
    expect(all.stdout).toContain("[extract] extracted 5 rows\n");
    expect(all.stdout).toContain(`[notify] run ${etlRun} ended Succeeded; failed steps: []\n`);
  }, 60_000);

  it("run with a bad --param: exit 2 and one error line naming the parameter", async () => {
    const r = await forja(["run", "etl", "--param", "rows=abc", "--watch"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^error: .*params\.rows: must be an integer/);
  }, 60_000);

  it("run --watch of a failing pipeline exits 1 naming the failing step and reason; retry --watch after the fix exits 0", async () => {
    const marker = join(dir, "marker");
    const r = await forja(["run", "breaks", "--param", `marker=${marker}`, "--watch"]);
    expect(r.code).toBe(1);
    const name = runNameIn(r.stderr);
    expect(r.stderr).toMatch(new RegExp(`error: run ${name} failed in [0-9.]+m?s: step bad failed: exit code 7`));
    expect(r.stdout).toMatch(/^✘ bad\s+Failed .*exit code 7$/m);
    expect(r.stdout.trimEnd().split("\n").at(-1)).toBe(`run ${name}: Failed`);

    // retrying while the cause is still there fails again, promptly
    const t0 = Date.now();
    const again = await forja(["retry", `run/${name}`, "--watch"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("step bad failed: exit code 7");
    expect(Date.now() - t0).toBeLessThan(9000); // the CLI itself takes a few seconds on a busy machine; it used to wait 10 s more

    writeFileSync(marker, "");
    const fixed = await forja(["retry", `run/${name}`, "--watch"]);
    expect(fixed.code, fixed.stderr).toBe(0);
    expect(fixed.stderr).toContain(`run/${name} retrying`);
    expect(fixed.stderr).toMatch(new RegExp(`run ${name} succeeded`));
    const run = await getRun(s, name);
    expect(run.status.phase).toBe("Succeeded");
    expect(node(run, "ok").attempts).toHaveLength(1);
    expect(node(run, "bad").attempts?.map((a) => a.exitCode)).toEqual([7, 7, 0]);

    // an ended, succeeded run: retry is a conflict (exit 5)
    const conflict = await forja(["retry", `run/${name}`]);
    expect(conflict.code).toBe(5);
    expect(conflict.stderr).toMatch(/^error: .*only a Failed or Cancelled run can be retried/);
  }, 60_000);
});
