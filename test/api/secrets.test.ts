import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/server.ts";

const secret = (data: Record<string, string>) => ({ apiVersion: "forja.dev/v1", kind: "Secret", metadata: { name: "db", project: "default" }, spec: { data } });

async function waitForRun(s: TestServer, name: string): Promise<{ status: { phase: string; nodes: Record<string, { outputs?: { params?: Record<string, unknown> } }> } }> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const r = await s.admin.get<{ status: { phase: string; nodes: Record<string, { outputs?: { params?: Record<string, unknown> } }> } }>("PipelineRun", name, "default");
    if (["Succeeded", "Failed", "Cancelled"].includes(r.status.phase)) return r;
    if (Date.now() > deadline) throw new Error(`run ${name} still ${r.status.phase}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

describe("secrets", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(async () => s?.stop());

  it("never returns values, and get → apply round-trips without losing them", async () => {
    const created = await s.admin.apply([secret({ password: "hunter2", user: "app" })]);
    expect(created.items[0]!.resource.spec).toEqual({ data: { password: "<redacted>", user: "<redacted>" } });
    const got = await s.admin.get<{ spec: { data: Record<string, string> } }>("Secret", "db", "default");
    expect(JSON.stringify(got)).not.toContain("hunter2");
    // Applying what get returned keeps the stored values; a new value replaces one.
    await s.admin.apply([{ ...got, spec: { data: { ...got.spec.data, user: "app2" } } }]);
    const list = await s.admin.list("secrets", { project: "default" });
    expect(JSON.stringify(list)).not.toContain("hunter2");

    await s.admin.apply([
      {
        apiVersion: "forja.dev/v1",
        kind: "Pipeline",
        metadata: { name: "uses-secret", project: "default" },
        spec: {
          steps: [
            {
              name: "read",
              env: { PW: { secret: "db", key: "password" }, USER_NAME: { secret: "db", key: "user" } },
              command: ["sh", "-c", 'printf "%s/%s" "$PW" "$USER_NAME" > "$FORJA_OUTPUTS_DIR/params/got"'],
              outputs: { params: { got: { type: "string" } } },
            },
          ],
        },
      },
    ]);
    const run = await s.admin.request<{ metadata: { name: string } }>("POST", "/api/v1/projects/default/pipelines/uses-secret/runs", { body: {} });
    const done = await waitForRun(s, run.metadata.name);
    expect(done.status.phase).toBe("Succeeded");
    expect(done.status.nodes.read?.outputs?.params?.got).toBe("hunter2/app2");
  });

  it("a step referring to a missing key fails with a clear reason", async () => {
    await s.admin.apply([
      {
        apiVersion: "forja.dev/v1",
        kind: "Pipeline",
        metadata: { name: "missing-secret", project: "default" },
        spec: { steps: [{ name: "read", env: { PW: { secret: "db", key: "nope" } }, command: ["true"] }] },
      },
    ]);
    const run = await s.admin.request<{ metadata: { name: string } }>("POST", "/api/v1/projects/default/pipelines/missing-secret/runs", { body: {} });
    const done = (await waitForRun(s, run.metadata.name)) as unknown as { status: { phase: string; message?: string } };
    expect(done.status.phase).toBe("Failed");
    expect(done.status.message).toContain('secret "db" has no key "nope"');
  });
});
