/**
 * `forja up` as a child process: it writes the local CLI config (mode 0600) so that a
 * following `forja get projects` works with no other setup, stops gracefully on SIGTERM,
 * and a restart on the same data dir keeps that config working.
 */
import type { ChildProcess } from "node:child_process";
import { readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { cleanEnv, freePort, runCli, spawnCli, tempDir } from "./run.ts";

const home = tempDir("forja-up-test-");
const dataDir = join(home, "data");
const configPath = join(home, "config", "forja.yaml");
const env = cleanEnv(home, { FORJA_CONFIG: configPath, FORJA_LOG_LEVEL: "warn" });
const running = new Set<ChildProcess>();

afterEach(() => {
  // A failed test must not leave a server behind.
  for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  running.clear();
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

interface Up {
  readonly child: ChildProcess;
  readonly url: string;
  stderr(): string;
  /** Sends SIGTERM; resolves with the exit code and how long the shutdown took. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
}

async function up(port: number): Promise<Up> {
  const child = spawnCli(["up", "--data-dir", dataDir, "--port", String(port)], env);
  running.add(child);
  let stderr = "";
  let stdout = "";
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`forja up did not come up in 20 s\nstderr: ${stderr}\nstdout: ${stdout}`)), 20_000);
    const onData = () => {
      const m = stderr.match(/up at (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        child.stderr!.off("data", onData);
        resolve(m[1]!);
      }
    };
    child.stderr!.on("data", onData);
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`forja up exited early with ${code}\nstderr: ${stderr}\nstdout: ${stdout}`));
    });
  });
  return {
    child,
    url,
    stderr: () => stderr,
    async stop() {
      const t0 = Date.now();
      child.kill("SIGTERM");
      const r = await Promise.race([exited, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no exit 10 s after SIGTERM\nstderr: ${stderr}`)), 10_000))]);
      return { ...r, ms: Date.now() - t0 };
    },
  };
}

// Two server boots and several CLI runs: generous on a loaded machine, still bounded.
describe("forja up", { timeout: 120_000 }, () => {
  it("writes the CLI config, serves `forja get projects`, stops on SIGTERM, and keeps the config across restarts", async () => {
    const port = await freePort();
    const first = await up(port);
    expect(first.url).toBe(`http://127.0.0.1:${port}`);
    expect(first.stderr()).toContain(`CLI config written: ${configPath}`);

    expect(statSync(configPath).mode & 0o777).toBe(0o600);
    const config = parse(readFileSync(configPath, "utf8"));
    expect(config).toMatchObject({ server: first.url, project: "default", token: expect.stringMatching(/^forja_/) });
    // The token is not printed anywhere.
    expect(first.stderr()).not.toContain(config.token);

    const get = await runCli(["get", "projects"], env);
    expect(get.code, get.stderr).toBe(0);
    expect(get.stdout).toMatch(/^NAME\s+PHASE\s+MEMBERS\s+AGE\n(default)\s+/);
    const me = await runCli(["whoami"], env);
    expect(me.stdout).toContain("user: admin (platform admin)");
    // Something to find after the restart.
    const applied = await runCli(["apply", "-f", "-"], env, { input: "apiVersion: forja.dev/v1\nkind: Project\nmetadata: {name: kept}\nspec: {}\n" });
    expect(applied.code, applied.stderr).toBe(0);

    const stopped = await first.stop();
    expect(stopped).toMatchObject({ code: 0, signal: null });
    expect(stopped.ms).toBeLessThan(5_000);
    expect(first.stderr()).toContain("SIGTERM: shutting down");
    const down = await runCli(["get", "projects"], env);
    expect(down.code).toBe(6);

    const second = await up(port);
    expect(second.stderr()).toContain(`CLI config is current: ${configPath}`);
    expect(parse(readFileSync(configPath, "utf8")).token).toBe(config.token);
    const again = await runCli(["get", "projects", "-o", "name"], env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout.trim().split("\n")).toEqual(["project/default", "project/kept"]);
    expect(await second.stop()).toMatchObject({ code: 0, signal: null });
  });

  it("refuses a bad --port with exit 2 and a message naming it", async () => {
    const r = await runCli(["up", "--data-dir", dataDir, "--port", "99999"], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: --port: must be 0-65535/);
  });
});
