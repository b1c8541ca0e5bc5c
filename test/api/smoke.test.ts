import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/server.ts";

describe("smoke", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(async () => s?.stop());

  it("serves health and projects", async () => {
    expect((await s.fetch("/healthz", { token: null })).status).toBe(200);
    const ready = await s.fetch("/readyz", { token: null });
    expect(ready.status).toBe(200);
    const projects = await s.admin.list("projects");
    expect(projects.items.map((p) => p.metadata.name)).toEqual(["default"]);
  });
});
