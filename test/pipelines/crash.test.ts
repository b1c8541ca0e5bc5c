/**
 * Crash safety of pipeline runs: the real server (`forja up`, a child process) is killed with
 * SIGKILL while a run is mid-way, then restarted on the same data dir. The run must finish
 * Succeeded with every step executed exactly once (steps append to a ledger file the test
 * reads) and every step's recorded output being the one that step wrote.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM } from "../../src/auth/principal.ts";
import { loadServerConfig } from "../../src/platform/config.ts";
import { createPlatform } from "../../src/server/platform.ts";
import { BIN, freePort } from "../cli/run.ts";
import { applyOk, eventually, node, phases, pipeline, REPO, sleep, startRun, waitRun, type Api, type Run } from "./support.ts";

interface Server extends Api {
  readonly url: string;
  readonly proc: ChildProcess;
  readonly exited: Promise<void>;
  output(): string;
}

let dataDir: string;
let work: string;
let token: string;
let server: Server | undefined;
/** Workloads the server runs at once; more wait in the runtime's queue. */
const MAX_WORKLOADS = 4;

async function startServer(): Promise<Server> {
  const port = await freePort();
  // Configured by its flags only, not by whatever FORJA_* the test runner has (but for the workload limit).
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("FORJA_")));
  const proc = spawn(process.execPath, [BIN, "up", "--data-dir", dataDir, "--port", String(port), "--host", "127.0.0.1", "--no-write-config", "--log-level", "warn"], {
    cwd: REPO,
    env: { ...env, HOME: dataDir, FORJA_MAX_CONCURRENT_WORKLOADS: String(MAX_WORKLOADS) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const keep = (d: Buffer) => (out = (out + d.toString()).slice(-20_000));
  proc.stdout.on("data", keep);
  proc.stderr.on("data", keep);
  const exited = new Promise<void>((res) => proc.once("exit", () => res()));
  const url = `http://127.0.0.1:${port}`;
  const s: Server = {
    url,
    proc,
    exited,
    output: () => out,
    fetch(path, init = {}) {
      const headers = new Headers(init.headers);
      headers.set("authorization", `Bearer ${token}`);
      return fetch(url + path, { ...init, headers });
    },
  };
  await eventually(
    "forja up to be ready",
    async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`forja up exited (${proc.exitCode ?? proc.signalCode}):\n${out}`);
      return (await fetch(`${url}/readyz`).then((r) => r.status, () => 0)) === 200;
    },
    30_000,
  );
  return s;
}

async function kill9(s: Server): Promise<void> {
  s.proc.kill("SIGKILL");
  await s.exited;
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "forja-pl-crash-"));
  work = mkdtempSync(join(tmpdir(), "forja-pl-crash-work-"));
  // Mint an admin token offline, on the data dir the server will use.
  const platform = await createPlatform(loadServerConfig({}, { dataDir, host: "127.0.0.1", port: 0, logLevel: "silent", writeClientConfig: false }));
  try {
    token = (await platform.ctx.tokens.create(SYSTEM, { name: "crash-test", user: "admin" })).token;
  } finally {
    await platform.stop();
  }
  server = await startServer();
  await applyOk(server, [
    pipeline("chain", {
      params: { ledger: { type: "string" } },
      steps: Array.from({ length: 6 }, (_, i) => ({
        name: `s${i + 1}`,
        ...LEDGER_STEP,
        env: { LEDGER: "{{params.ledger}}", PREV: i === 0 ? "-" : `{{steps.s${i}.outputs.params.mark}}` },
      })),
    }),
    pipeline("fan", {
      params: { ledger: { type: "string" } },
      steps: [
        { name: "head", ...LEDGER_STEP, env: { LEDGER: "{{params.ledger}}", PREV: "-" } },
        {
          name: "fan",
          ...LEDGER_STEP,
          forEach: { items: [0, 1, 2, 3, 4, 5], parallelism: 3 },
          env: { LEDGER: "{{params.ledger}}", PREV: "{{steps.head.outputs.params.mark}}", ITEM: "{{item}}" },
        },
        { name: "join", ...LEDGER_STEP, env: { LEDGER: "{{params.ledger}}", PREV: "{{steps.fan.outputs.params.mark}}" } },
      ],
    }),
    pipeline("wide", {
      params: { ledger: { type: "string" } },
      steps: [
        {
          name: "fan",
          ...LEDGER_STEP,
          forEach: { items: Array.from({ length: MAX_WORKLOADS + 2 }, (_, i) => i), parallelism: MAX_WORKLOADS + 2 },
          env: { LEDGER: "{{params.ledger}}", PREV: "-", ITEM: "{{item}}" },
        },
      ],
    }),
    pipeline("burst", {
      params: { ledger: { type: "string" } },
      steps: [
        {
          name: "fan",
          ...FAST_LEDGER_STEP,
          forEach: { items: Array.from({ length: 16 }, (_, i) => i), parallelism: 2 },
          env: { LEDGER: "{{params.ledger}}", PREV: "-", ITEM: "{{item}}" },
        },
      ],
    }),
  ]);
}, 90_000);

afterAll(async () => {
  if (server && server.proc.exitCode === null && server.proc.signalCode === null) {
    server.proc.kill("SIGTERM");
    await Promise.race([server.exited, sleep(15_000)]);
    if (server.proc.exitCode === null && server.proc.signalCode === null) server.proc.kill("SIGKILL");
  }
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  if (work) rmSync(work, { recursive: true, force: true });
}, 30_000);

/**
 * Appends "<node id> <unique mark> prev=<the upstream mark(s)>" to the ledger, sleeps, then
 * outputs "<node id> <unique mark>": a second execution of a step would add a second line,
 * and an output attached to the wrong node would carry another node's id or mark.
 */
const LEDGER_STEP = {
  command: ["sh", "-c", 'm="$FORJA_NODE_ID $$-$(date +%s%N)"; echo "$m prev=$PREV" >> "$LEDGER"; sleep 0.3; printf %s "$m" > "$FORJA_OUTPUTS_DIR/params/mark"'],
  outputs: { params: { mark: {} } },
  cache: false,
};

/** The same without the sleep, and cacheable: steps end faster than the run's status is stored. */
const FAST_LEDGER_STEP = {
  command: ["sh", "-c", 'm="$FORJA_NODE_ID $$-$(date +%s%N)"; echo "$m prev=$PREV" >> "$LEDGER"; printf %s "$m" > "$FORJA_OUTPUTS_DIR/params/mark"'],
  outputs: { params: { mark: {} } },
};

interface LedgerLine {
  node: string;
  mark: string;
  prev: string;
}

function ledger(file: string): LedgerLine[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      const m = /^(\S+) (\S+) prev=(.*)$/.exec(l);
      if (!m) throw new Error(`bad ledger line: ${l}`);
      return { node: m[1]!, mark: `${m[1]} ${m[2]}`, prev: m[3]! };
    });
}

/** What a kill condition can look at: the ledger, and the per-attempt working directories of the run. */
interface Progress {
  lines: LedgerLine[];
  /** Working directories the executor created for this run's attempts (one per attempt, made before its process starts). */
  attemptDirs: number;
}

/**
 * Starts a run, SIGKILLs the server as soon as `killWhen` holds (checked in a tight loop, so
 * the kill lands within a millisecond or so), restarts it, waits for the run to end.
 */
async function crashDuring(pipelineName: string, killWhen: (p: Progress) => boolean, opts: { cache?: boolean } = {}): Promise<{ run: Run; lines: LedgerLine[] }> {
  const file = join(work, `${pipelineName}-${Date.now()}.ledger`);
  const started = await startRun(server!, pipelineName, { params: { ledger: file }, cache: opts.cache ?? false });
  const runDir = join(dataDir, "pipeline-runs", started.metadata.uid);
  const progress = (): Progress => ({ lines: ledger(file), attemptDirs: existsSync(runDir) ? readdirSync(runDir).length : 0 });
  const deadline = Date.now() + 20_000;
  while (!killWhen(progress())) {
    if (Date.now() > deadline) throw new Error(`the kill point was never reached: ${JSON.stringify(progress())}`);
    await new Promise((r) => setImmediate(r));
  }
  await kill9(server!);
  const linesAtKill = ledger(file).length;
  await sleep(1000);
  server = await startServer();
  const run = await waitRun(server, started.metadata.name, { timeoutMs: 30_000 });
  const lines = ledger(file);
  // the kill was really mid-way: the run was not over when the server died
  expect(linesAtKill).toBeLessThan(lines.length);
  expect(run.status.phase, `${JSON.stringify(phases(run))}\nserver output:\n${server.output()}`).toBe("Succeeded");
  return { run, lines };
}

/** Every node ran exactly once, with one attempt, and its output is what it wrote. */
function expectExactlyOnce(run: Run, lines: LedgerLine[], nodes: string[]): void {
  expect(lines.map((l) => l.node).sort()).toEqual([...nodes].sort());
  for (const l of lines) {
    const n = node(run, l.node);
    expect(n.phase, l.node).toBe("Succeeded");
    expect(n.attempts, l.node).toHaveLength(1);
    expect(n.outputs?.params?.mark, l.node).toBe(l.mark);
  }
}

describe("SIGKILL of the server during a run", () => {
  it("mid-chain (2 of 6 steps started): the run resumes, no step runs twice, outputs stay with their steps", async () => {
    const { run, lines } = await crashDuring("chain", (p) => p.lines.length >= 2);
    const steps = ["s1", "s2", "s3", "s4", "s5", "s6"];
    expectExactlyOnce(run, lines, steps);
    // each step received its predecessor's output
    for (const [i, id] of steps.entries()) {
      const line = lines.find((l) => l.node === id)!;
      expect(line.prev, id).toBe(i === 0 ? "-" : node(run, steps[i - 1]!).outputs?.params?.mark);
    }
  }, 90_000);

  it("right after the run was created (before its first step started): same guarantees", async () => {
    const { run, lines } = await crashDuring("chain", () => true);
    expectExactlyOnce(run, lines, ["s1", "s2", "s3", "s4", "s5", "s6"]);
  }, 90_000);

  it("during a fan-out, between starting one iteration's process and recording it: every iteration exactly once, the fan-in gets every output in order", async () => {
    // head, fan[0], fan[1]: the executor is preparing fan[1]'s inputs, so fan[0]'s process was
    // just started in the same reconcile, whose status write (recording fan[0]'s attempt) has
    // not happened yet. After the restart only the deterministic workload id links the running
    // process to fan[0].
    const { run, lines } = await crashDuring("fan", (p) => p.attemptDirs >= 3);
    const iterations = Array.from({ length: 6 }, (_, i) => `fan[${i}]`);
    expectExactlyOnce(run, lines, ["head", ...iterations, "join"]);
    expect(node(run, "fan").iterations).toBe(6);
    const join = lines.find((l) => l.node === "join")!;
    expect(JSON.parse(join.prev)).toEqual(iterations.map((id) => node(run, id).outputs?.params?.mark));
    for (const id of iterations) expect(lines.find((l) => l.node === id)!.prev).toBe(node(run, "head").outputs?.params?.mark);
  }, 90_000);

  it("while steps wait in the runtime's queue (their secret env is never persisted): they start after the restart, each exactly once", async () => {
    // MAX_WORKLOADS iterations run, the other two are queued when the server dies: the runtime
    // recovers those as never started, and the controller starts them again.
    const { run, lines } = await crashDuring("wide", (p) => p.lines.length >= MAX_WORKLOADS);
    expectExactlyOnce(
      run,
      lines,
      Array.from({ length: MAX_WORKLOADS + 2 }, (_, i) => `fan[${i}]`),
    );
  }, 90_000);

  it("during a burst of short steps, with the cache on (the stored status lags behind the steps that ended): every step exactly once, none taken for a cache hit of itself", async () => {
    // Steps that ended since the status was last stored are Pending in the stored status: after
    // the restart, their workloads must be adopted, not re-run, and their own cache entries
    // (recorded when they ended) must not count as hits.
    const { run, lines } = await crashDuring("burst", (p) => p.lines.length >= 5, { cache: true });
    const iterations = Array.from({ length: 16 }, (_, i) => `fan[${i}]`);
    expectExactlyOnce(run, lines, iterations);
    for (const id of iterations) expect(node(run, id).cachedFrom, id).toBeUndefined();
  }, 90_000);
});
