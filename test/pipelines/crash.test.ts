/**
 * Crash safety of pipeline runs: the real server (`forja up`, a child process) is killed with
 * SIGKILL while a run is mid-way, then restarted on the same data dir. The run must finish
 * Succeeded with every step executed exactly once (steps append to a ledger file the test
 * reads) and every step's recorded output being the one that step wrote.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
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

async function startServer(): Promise<Server> {
  const port = await freePort();
  // Configured by its flags only, not by whatever FORJA_* the test runner has.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("FORJA_")));
  const proc = spawn(process.execPath, [BIN, "up", "--data-dir", dataDir, "--port", String(port), "--host", "127.0.0.1", "--no-write-config", "--log-level", "warn"], {
    cwd: REPO,
    env: { ...env, HOME: dataDir },
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

/** Starts a run, SIGKILLs the server once `killWhen` holds for the ledger, restarts it, waits for the end. */
async function crashDuring(pipelineName: string, killWhen: (lines: LedgerLine[]) => boolean): Promise<{ run: Run; lines: LedgerLine[] }> {
  const file = join(work, `${pipelineName}-${Date.now()}.ledger`);
  const name = (await startRun(server!, pipelineName, { params: { ledger: file }, cache: false })).metadata.name;
  await eventually("the kill point", () => killWhen(ledger(file)), 20_000);
  await kill9(server!);
  const linesAtKill = ledger(file).length;
  await sleep(1000);
  server = await startServer();
  const run = await waitRun(server, name, { timeoutMs: 30_000 });
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
    const { run, lines } = await crashDuring("chain", (l) => l.length >= 2);
    const steps = ["s1", "s2", "s3", "s4", "s5", "s6"];
    expectExactlyOnce(run, lines, steps);
    // each step received its predecessor's output
    for (const [i, id] of steps.entries()) {
      const line = lines.find((l) => l.node === id)!;
      expect(line.prev, id).toBe(i === 0 ? "-" : node(run, steps[i - 1]!).outputs?.params?.mark);
    }
  });

  it("right after the run was created (before its first step started): same guarantees", async () => {
    const { run, lines } = await crashDuring("chain", () => true);
    expectExactlyOnce(run, lines, ["s1", "s2", "s3", "s4", "s5", "s6"]);
  });

  it("during a fan-out with parallelism 3: every iteration exactly once, the fan-in gets every iteration's output in order", async () => {
    const { run, lines } = await crashDuring("fan", (l) => l.filter((x) => x.node.startsWith("fan[")).length >= 2);
    const iterations = Array.from({ length: 6 }, (_, i) => `fan[${i}]`);
    expectExactlyOnce(run, lines, ["head", ...iterations, "join"]);
    expect(node(run, "fan").iterations).toBe(6);
    const join = lines.find((l) => l.node === "join")!;
    expect(JSON.parse(join.prev)).toEqual(iterations.map((id) => node(run, id).outputs?.params?.mark));
    for (const id of iterations) expect(lines.find((l) => l.node === id)!.prev).toBe(node(run, "head").outputs?.params?.mark);
  });
});
