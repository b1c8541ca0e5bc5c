/**
 * Starting runs with parameters (bad ones are a 400 before any run exists), reading and
 * following step logs, and outputs landing on the step that wrote them.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/server.ts";
import { applyOk, call, logs, node, phases, pipeline, PROJECT, runPath, startRun, waitRun, type Run } from "./support.ts";

let s: TestServer;
let dir: string;
beforeAll(async () => {
  s = await startTestServer();
  dir = mkdtempSync(join(tmpdir(), "forja-pl-logs-"));
  await applyOk(s, [
    pipeline("typed", {
      params: {
        rows: { type: "integer", default: 10 },
        mode: { type: "string", enum: ["fast", "full"] },
        shards: { type: "array", default: [1, 2] },
      },
      steps: [
        {
          name: "show",
          command: ["sh", "-c", 'echo "rows=$FORJA_PARAM_ROWS mode=$FORJA_PARAM_MODE shards=$FORJA_PARAM_SHARDS"'],
          inputs: { params: { rows: "{{params.rows}}", mode: "{{params.mode}}", shards: "{{params.shards}}" } },
        },
      ],
    }),
  ]);
});
afterAll(async () => {
  await s?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const runsPath = (p: string) => `/api/v1/projects/${PROJECT}/pipelines/${p}/runs`;

async function runCount(): Promise<number> {
  const r = await call<{ items: Run[] }>(s, "GET", `/api/v1/projects/${PROJECT}/pipelineruns`);
  return r.body.items.length;
}

describe("run parameters", () => {
  it.each([
    [{ mode: "fast", rows: "abc" }, "params.rows", /integer/],
    [{ mode: "fast", rows: 2.5 }, "params.rows", /integer/],
    [{ mode: "fast", rowz: 5 }, "params.rowz", /unknown parameter \(did you mean "rows"\?\)/],
    [{ rows: 5 }, "params.mode", /required/],
    [{ mode: "slow" }, "params.mode", /fast.*full|one of/],
    [{ mode: "fast", shards: "not json" }, "params.shards", /array|JSON/],
  ])("%j → 400 at %s, and no run is created", async (params, path, reason) => {
    const before = await runCount();
    const r = await call(s, "POST", runsPath("typed"), { params });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe("InvalidInput");
    const detail = (r.body.error.details as { path: string; reason: string }[]).find((d) => d.path === path);
    expect(detail, JSON.stringify(r.body)).toBeDefined();
    expect(detail!.reason).toMatch(reason);
    expect(await runCount()).toBe(before);
  });

  it("lists every problem at once", async () => {
    const r = await call(s, "POST", runsPath("typed"), { params: { rows: "x", rowz: 1 } });
    expect(r.status).toBe(400);
    expect((r.body.error.details as { path: string }[]).map((d) => d.path).sort()).toEqual(["params.mode", "params.rows", "params.rowz"]);
  });

  it("converts CLI-style strings by the declared type; the step sees the typed values", async () => {
    const run = await waitRun(s, (await startRun(s, "typed", { params: { mode: "full", rows: "7", shards: "[3,4]" } })).metadata.name);
    expect(run.status.phase).toBe("Succeeded");
    expect(run.status.params).toEqual({ rows: 7, mode: "full", shards: [3, 4] });
    expect((await logs(s, run.metadata.name, "?step=show")).body).toBe("rows=7 mode=full shards=[3,4]\n");
  });

  it("a pipeline that does not exist: 404", async () => {
    const r = await call(s, "POST", runsPath("nope"), {});
    expect(r.status).toBe(404);
  });
});

describe("logs", () => {
  let run: Run;
  beforeAll(async () => {
    await applyOk(s, [
      pipeline("chatty", {
        steps: [
          { name: "x", command: ["sh", "-c", "echo hello from x; echo warning from x >&2"] },
          { name: "y", command: ["sh", "-c", "echo hello from y; echo bye from y"], dependsOn: ["x"] },
          { name: "fan", forEach: { items: ["p", "q"] }, command: ["sh", "-c", "echo item {{item}}"], dependsOn: ["y"] },
        ],
      }),
    ]);
    run = await waitRun(s, (await startRun(s, "chatty")).metadata.name);
    expect(run.status.phase).toBe("Succeeded");
  });

  it("GET .../logs: every step's lines, each prefixed with its node, in execution order", async () => {
    const r = await logs(s, run.metadata.name);
    expect(r.status).toBe(200);
    const lines = r.body.trimEnd().split("\n");
    expect(lines).toEqual(expect.arrayContaining(["[x] hello from x", "[x] warning from x", "[y] hello from y", "[y] bye from y", "[fan[0]] item p", "[fan[1]] item q"]));
    expect(lines).toHaveLength(6);
    expect(lines.indexOf("[x] hello from x")).toBeLessThan(lines.indexOf("[y] hello from y"));
    expect(lines.indexOf("[y] bye from y")).toBeLessThan(lines.indexOf("[fan[0]] item p"));
  });

  it("?step= filters to one step (unprefixed), or a forEach step's iterations; stream=stdout drops stderr", async () => {
    expect((await logs(s, run.metadata.name, "?step=y")).body).toBe("hello from y\nbye from y\n");
    expect((await logs(s, run.metadata.name, "?step=x&stream=stdout")).body).toBe("hello from x\n");
    expect((await logs(s, run.metadata.name, "?step=x&stream=stderr")).body).toBe("warning from x\n");
    expect((await logs(s, run.metadata.name, "?step=fan")).body.split("\n").filter(Boolean).sort()).toEqual(["[fan[0]] item p", "[fan[1]] item q"]);
    expect((await logs(s, run.metadata.name, `?step=${encodeURIComponent("fan[1]")}`)).body).toBe("item q\n");
  });

  it("?step= of a step the run does not have: 400", async () => {
    const res = await s.fetch(`${runPath(run.metadata.name)}/logs?step=nope`);
    expect(res.status).toBe(400);
    expect(JSON.stringify(await res.json())).toContain('no step \\"nope\\"');
  });

  it("follow=true streams a line printed after the request started, and ends when the run ends", async () => {
    const gate = join(dir, "gate");
    await applyOk(s, [
      pipeline("waits", {
        params: { gate: { type: "string" } },
        steps: [{ name: "w", command: ["sh", "-c", 'echo first; while [ ! -f "{{params.gate}}" ]; do sleep 0.05; done; echo second'] }],
      }),
    ]);
    const name = (await startRun(s, "waits", { params: { gate } })).metadata.name;
    const res = await s.fetch(`${runPath(name)}/logs?step=w&follow=true`, { signal: AbortSignal.timeout(15_000) });
    expect(res.status).toBe(200);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("first\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the stream ended before the first line: ${JSON.stringify(text)}`);
      text += value;
    }
    // the step is now blocked until the gate exists: "second" is printed after this point
    expect(text).not.toContain("second");
    writeFileSync(gate, "");
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    expect(text).toBe("first\nsecond\n");
    expect((await waitRun(s, name)).status.phase).toBe("Succeeded");
  });
});

describe("outputs land on the step that wrote them", () => {
  it("a step named like another step's iteration (train-i1 vs train[1]) runs as its own process", async () => {
    await applyOk(s, [
      pipeline("lookalike", {
        steps: [
          {
            name: "train",
            forEach: { items: ["a", "b", "c"] },
            command: ["sh", "-c", 'sleep 0.3; echo "iteration {{item}}" > $FORJA_OUTPUTS_DIR/params/who'],
            outputs: { params: { who: {} } },
          },
          { name: "train-i1", command: ["sh", "-c", 'sleep 0.3; echo "plain step" > $FORJA_OUTPUTS_DIR/params/who'], outputs: { params: { who: {} } } },
          { name: "train-a1", command: ["sh", "-c", 'sleep 0.3; echo "another plain step" > $FORJA_OUTPUTS_DIR/params/who'], outputs: { params: { who: {} } } },
        ],
      }),
    ]);
    const run = await waitRun(s, (await startRun(s, "lookalike")).metadata.name);
    expect(run.status.phase, JSON.stringify(phases(run))).toBe("Succeeded");
    expect(node(run, "train[1]").outputs?.params?.who).toBe("iteration b");
    expect(node(run, "train-i1").outputs?.params?.who).toBe("plain step");
    expect(node(run, "train-a1").outputs?.params?.who).toBe("another plain step");
    const workloads = Object.values(run.status.nodes).flatMap((n) => (n.attempts ?? []).map((a) => a.workload));
    expect(workloads).toHaveLength(5);
    expect(new Set(workloads).size).toBe(5);
  });
});
