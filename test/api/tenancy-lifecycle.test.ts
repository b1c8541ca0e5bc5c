/**
 * Tenancy over time: a deleted project takes its tracking and registry data with it (a project
 * created again under the name starts empty), the last owner cannot leave a project ownerless,
 * and a token's expiry must be a date.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/server.ts";
import { mlflow, ok } from "../registry/support.ts";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s?.stop();
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function call(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: any }> {
  const res = await s.fetch(path, {
    method,
    ...(token !== undefined ? { token } : {}),
    ...(body !== undefined ? { body: JSON.stringify(body), headers: { "content-type": "application/json" } } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const project = (name: string, members: { user: string; role: string }[] = []) => ({ apiVersion: "forja.dev/v1", kind: "Project", metadata: { name }, spec: { members } });

async function waitGone(name: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while ((await call("GET", `/api/v1/projects/${name}`)).status !== 404) {
    if (Date.now() > deadline) throw new Error(`project ${name} still there`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// The ProjectController finalizer deletes only resources; tracking and registry rows are keyed
// by project name and nothing removes them, so a recreated project inherits them.
describe("project deletion", () => {
  it("deleting a project removes its tracking data and registered models; a new project of the same name starts empty", async () => {
    const { token: alice } = await s.user("rv-alice");
    const { token: mallory } = await s.user("rv-mallory");
    const root = { root: "/projects/rv-gone/api/2.0/mlflow" };
    expect((await call("POST", "/api/v1/projects", project("rv-gone"), alice)).status).toBe(201);
    await ok(s, "POST", "experiments/create", { name: "alice-exp" }, { ...root, token: alice });
    await ok(s, "POST", "registered-models/create", { name: "alice-model", description: "alice's" }, { ...root, token: alice });

    expect((await call("DELETE", "/api/v1/projects/rv-gone", undefined, alice)).status).toBe(200);
    await waitGone("rv-gone");

    // Someone else creates a project of the same name: it must not contain alice's data.
    expect((await call("POST", "/api/v1/projects", project("rv-gone"), mallory)).status).toBe(201);
    const model = await mlflow(s, "GET", "registered-models/get", { name: "alice-model" }, { ...root, token: mallory });
    const exp = await mlflow(s, "GET", "experiments/get-by-name", { experiment_name: "alice-exp" }, { ...root, token: mallory });
    expect({ model: model.status, exp: exp.status, description: model.body?.registered_model?.description }).toEqual({ model: 404, exp: 404, description: undefined });
  });
});

describe("members", () => {
  it("the last owner cannot remove themselves, leaving a project nobody but admins can manage", async () => {
    const { token } = await s.user("rv-solo");
    expect((await call("POST", "/api/v1/projects", project("rv-orphan"), token)).status).toBe(201);
    const res = await call("PUT", "/api/v1/projects/rv-orphan", project("rv-orphan", [{ user: "rv-solo", role: "viewer" }]), token);
    // Expected a 4xx refusal: after this no member may change or delete the project.
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
  });
});

describe("tokens", () => {
  // The schema only says minimum: 1; a huge value makes an invalid Date, whose toISOString throws.
  it("a too large expiresInSeconds is a 400, not a 500", async () => {
    const { token } = await s.user("rv-tok");
    const res = await call("POST", "/api/v1/tokens", { name: "far", expiresInSeconds: 1e16 }, token);
    expect(res.status).toBe(400);
  });
});
