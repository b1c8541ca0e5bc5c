/**
 * Retrying a failed run (`POST …/retry`): its failed steps get a fresh round of attempts and
 * retries, as `argo retry` gives them.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/server.ts";
import { applyOk, call, node, phases, pipeline, runPath, startRun, waitRun } from "./support.ts";

let s: TestServer;
let dir: string;
beforeAll(async () => {
  s = await startTestServer();
  dir = mkdtempSync(join(tmpdir(), "forja-pl-review-"));
});
afterAll(async () => {
  await s?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const sh = (name: string, script: string, extra: Record<string, unknown> = {}) => ({ name, command: ["sh", "-c", script], ...extra });

describe("retry of a failed run", () => {
  // The step's retry policy (retries: 1) must apply again when the user retries the run (like
  // `argo retry`): the retried step gets a first attempt plus its retries. Here the step fails
  // on its 1st, 2nd and 3rd executions and succeeds on the 4th: the first run fails after 2
  // attempts; the retried run should fail attempt 3, retry, and succeed on attempt 4.
  it("a retried run's step gets its retries again", async () => {
    const counter = join(dir, "flaky-count");
    await applyOk(s, [
      pipeline("retry-budget", {
        params: { counter: { type: "string" } },
        steps: [sh("flaky", 'n=$(cat "{{params.counter}}" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "{{params.counter}}"; test $n -ge 4', { retries: { limit: 1, backoffSeconds: "1s" } })],
      }),
    ]);
    const name = (await startRun(s, "retry-budget", { params: { counter } })).metadata.name;
    const failed = await waitRun(s, name);
    expect(failed.status.phase).toBe("Failed");
    expect(node(failed, "flaky").attempts).toHaveLength(2);
    expect((await call(s, "POST", `${runPath(name)}/retry`)).status).toBe(200);
    const run = await waitRun(s, name);
    expect(run.status.phase, JSON.stringify(phases(run))).toBe("Succeeded");
    expect(node(run, "flaky").attempts?.map((a) => a.exitCode)).toEqual([1, 1, 1, 0]);
  });
});
