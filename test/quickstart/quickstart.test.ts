/**
 * The README's main command, as CI runs it on a fresh clone: `forja quickstart --exit` on a
 * free port with a temp data dir and client config. Exit 0 and the key lines of each stage; and
 * without --exit, as the README runs it: it keeps serving until Ctrl-C.
 */
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { cleanEnv, runCli, spawnCli, tempDir } from "../cli/run.ts";

it("forja quickstart --exit: pipeline, registry, deployment, predictions, load test, drift report; exit 0", async () => {
  const dir = tempDir("forja-quickstart-");
  try {
    const r = await runCli(["quickstart", "--exit", "--data-dir", join(dir, "data"), "--port", "0", "--load-seconds", "2"], cleanEnv(dir, { FORJA_CONFIG: join(dir, "config.yaml") }), {
      timeoutMs: 280_000,
    });
    const out = r.stdout;
    expect(r.code, `stdout:\n${out}\nstderr:\n${r.stderr}`).toBe(0);
    expect(out).toMatch(/1\/7 {2}platform up at http:\/\/127\.0\.0\.1:(\d+) /);
    expect(out).not.toMatch(/platform up at http:\/\/127\.0\.0\.1:0 /);
    expect(out).toMatch(/run\/penguins-\w+ succeeded/);
    for (const step of ["ingest", "split", "train", "evaluate", "export", "register"]) expect(out).toMatch(new RegExp(`✔ ${step}\\s+Succeeded`));
    expect(out).toMatch(/3\/7 {2}model version registered: penguins v1 \(source run [0-9a-f]{32}, test accuracy (0\.9\d\d|1\.000)\); penguins@champion = v1/);
    expect(out).toMatch(/4\/7 {2}deployment\/penguins Ready: serving v1/);
    expect(out).toMatch(/5\/7 {2}predictions over OIP v2: Adelie → \w+, Chinstrap → \w+, Gentoo → \w+ \([23]\/3 right\)/);
    expect(out).toMatch(/6\/7 {2}load test: \d+ requests in [\d.]+s, \d+ req\/s, p50 [\d.]+ ms, p99 [\d.]+ ms, errors 0/);
    expect(out).toMatch(/7\/7 {2}drift report[\s\S]*no dataset drift[\s\S]*simulated drift[\s\S]*DATASET DRIFT/);
    expect(out).toMatch(/quickstart succeeded in [\d.]+s\. Where to look next:/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 300_000);

it("forja quickstart --exit exits non-zero when the evaluation threshold is not met (the pipeline run fails)", async () => {
  const dir = tempDir("forja-quickstart-fail-");
  try {
    const r = await runCli(["quickstart", "--exit", "--data-dir", join(dir, "data"), "--port", "0", "--min-accuracy", "1.01"], cleanEnv(dir, { FORJA_CONFIG: join(dir, "config.yaml") }), {
      timeoutMs: 200_000,
    });
    expect(r.code, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`).toBe(1);
    expect(r.stdout).toMatch(/✘? ?evaluate\s+Failed/);
    expect(r.stdout).toMatch(/run\/penguins-\w+ Failed/);
    expect(r.stdout).not.toContain("model version registered");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 240_000);

it("forja quickstart without --exit keeps serving until SIGINT, then stops cleanly (exit 0)", async () => {
  const dir = tempDir("forja-quickstart-serve-");
  const child = spawnCli(["quickstart", "--data-dir", join(dir, "data"), "--port", "0", "--load-seconds", "1"], cleanEnv(dir, { FORJA_CONFIG: join(dir, "config.yaml") }));
  try {
    let out = "";
    child.stderr!.resume();
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "Ctrl-C to stop" within 240 s:\n${out}`)), 240_000);
      child.stdout!.setEncoding("utf8").on("data", (d: string) => {
        out += d;
        const m = /forja is serving at (http:\/\/127\.0\.0\.1:\d+) — Ctrl-C to stop/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      child.once("exit", (code) => reject(new Error(`quickstart exited (${code}) instead of serving:\n${out}`)));
    });
    // Still up a moment later: something other than the load test's traffic holds it open.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(child.exitCode).toBeNull();
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    // The printed /metrics hint reads the token from the CLI config: its shell part gives exactly one token that works.
    const hint = /Bearer \$\((grep [^)]+)\)/.exec(out)?.[1];
    expect(hint, out).toBeDefined();
    const token = execFileSync("bash", ["-c", hint!], { encoding: "utf8" }).trim();
    expect(token).toMatch(/^forja_\S+$/);
    expect((await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.kill("SIGINT");
    expect(await exited).toBe(0);
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}, 300_000);
