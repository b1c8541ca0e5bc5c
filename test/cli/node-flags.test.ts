/**
 * The server's V8 flags (ADR 0013: a small young generation for short GC pauses) are given in
 * three places that must agree — bin/forja.mjs's shebang, package.json's scripts, and the serving
 * benchmark that runs the platform in its own process — and the shebang must work when the CLI
 * is run as an executable (as npm's bin link runs it).
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BIN, REPO, cleanEnv, tempDir } from "./run.ts";

const FLAG = "--max-semi-space-size=4";

describe("the server's node flags", () => {
  it("are the same in the shebang, the npm scripts and the serving benchmark", () => {
    const shebang = readFileSync(BIN, "utf8").split("\n")[0] ?? "";
    expect(shebang).toBe(`#!/usr/bin/env -S node ${FLAG}`);
    const scripts = (JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
    expect(scripts["forja"]).toBe(`node ${FLAG} bin/forja.mjs`);
    expect(scripts["quickstart"]).toBe(`node ${FLAG} bin/forja.mjs quickstart`);
    expect(readFileSync(join(REPO, "bench/serving.ts"), "utf8")).toContain(`const SERVER_FLAGS = ["${FLAG}"];`);
  });

  it("the CLI runs as an executable through its shebang", () => {
    const r = spawnSync(BIN, ["--version"], { env: cleanEnv(tempDir()), encoding: "utf8" });
    expect(r.error).toBeUndefined();
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
