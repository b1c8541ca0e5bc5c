/** `forja models ...` as a user runs it: the real CLI process against a real server. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/server.ts";
import { cleanEnv, runCli, tempDir } from "../cli/run.ts";
import { newRun, ok } from "./support.ts";

let s: TestServer;
let env: Record<string, string>;
beforeAll(async () => {
  s = await startTestServer();
  env = cleanEnv(tempDir(), { FORJA_URL: s.url, FORJA_TOKEN: s.adminToken, FORJA_CONFIG: `${tempDir()}/config.yaml` });
  const run = await newRun(s);
  await ok(s, "POST", "registered-models/create", { name: "fraud", description: "fraud detector" });
  for (let i = 0; i < 2; i++) await ok(s, "POST", "model-versions/create", { name: "fraud", source: `runs:/${run.runId}/model`, run_id: run.runId });
});
afterAll(async () => {
  await s?.stop();
});

describe("forja models", () => {
  it("list and versions, as a table and as JSON / YAML", async () => {
    const list = await runCli(["models", "list"], env);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^NAME\s+LATEST\s+ALIASES/m);
    expect(list.stdout).toMatch(/^fraud\s+2\s+fraud detector/m);
    const json = JSON.parse((await runCli(["models", "versions", "fraud", "-o", "json"], env)).stdout) as { items: { version: string }[] };
    expect(json.items.map((v) => v.version)).toEqual(["2", "1"]);
    expect((await runCli(["models", "list", "-o", "yaml"], env)).stdout).toContain("name: fraud");
  });

  it("alias set / delete and stage transitions with --archive-existing", async () => {
    const set = await runCli(["models", "alias", "set", "fraud", "champion", "1"], env);
    expect([set.code, set.stdout.trim()]).toEqual([0, "fraud@champion → version 1"]);
    expect((await runCli(["models", "versions", "fraud"], env)).stdout).toMatch(/^1\s+None\s+champion/m);
    expect((await runCli(["models", "stage", "fraud", "1", "production"], env)).stdout.trim()).toBe("fraud version 1 → Production");
    expect((await runCli(["models", "stage", "fraud", "2", "Production", "--archive-existing"], env)).code).toBe(0);
    const versions = await runCli(["models", "versions", "fraud"], env);
    expect(versions.stdout).toMatch(/^2\s+Production/m);
    expect(versions.stdout).toMatch(/^1\s+Archived\s+champion/m);
    expect((await runCli(["models", "alias", "delete", "fraud", "champion"], env)).stdout.trim()).toBe("fraud@champion deleted");
  });

  it("bad input is a usage error naming the problem; a missing model is not-found", async () => {
    const reserved = await runCli(["models", "alias", "set", "fraud", "latest", "1"], env);
    expect(reserved.code).toBe(2);
    expect(reserved.stderr).toContain("reserved alias");
    const stage = await runCli(["models", "stage", "fraud", "1", "Live"], env);
    expect([stage.code, stage.stderr.includes("Invalid Model Version stage")]).toEqual([2, true]);
    expect((await runCli(["models", "versions", "nope"], env)).code).toBe(4);
  });
});
