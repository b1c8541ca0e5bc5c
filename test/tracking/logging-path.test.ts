/**
 * The MLflow logging calls (log-batch, log-metric, log-parameter, set-tag) are served from
 * node:http ahead of Fastify (src/mlflow/raw.ts). Here: they answer exactly as the
 * Fastify-mounted MLflow endpoints do at the wire level (auth, content type, body limit, JSON,
 * prefixes, projects), and a misbehaving client costs nothing but its own request.
 */
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/server.ts";
import { mlflowClient, type MlflowTestClient } from "./helpers.ts";

let s: TestServer;
let c: MlflowTestClient;
let exp: string;
beforeAll(async () => {
  s = await startTestServer();
  c = mlflowClient(s);
  exp = (await c.ok("POST", "experiments/create", { name: "logging-path" }))["experiment_id"] as string;
});
afterAll(() => s.stop());

async function newRun(): Promise<string> {
  const b = await c.ok("POST", "runs/create", { experiment_id: exp, start_time: Date.now() });
  return (b["run"] as { info: { run_id: string } }).info.run_id;
}

const CALLS = {
  "runs/log-batch": (run_id: string) => ({ run_id, metrics: [{ key: "m", value: 1, timestamp: 1, step: 0 }] }),
  "runs/log-metric": (run_id: string) => ({ run_id, key: "m", value: 1, timestamp: 1 }),
  "runs/log-parameter": (run_id: string) => ({ run_id, key: "p", value: "v" }),
  "runs/set-tag": (run_id: string) => ({ run_id, key: "t", value: "v" }),
} as const;
const paths = Object.keys(CALLS) as (keyof typeof CALLS)[];

/** Status, content type and exact body of a POST. */
async function post(path: string, body: string, headers: Record<string, string>) {
  const r = await fetch(`${s.url}${path}`, { method: "POST", headers, body });
  return { status: r.status, type: r.headers.get("content-type"), body: await r.text() };
}

describe("MLflow logging calls on their own HTTP path", () => {
  it("answer wire-level mistakes exactly as a Fastify-mounted endpoint (runs/update) does", async () => {
    const id = await newRun();
    const auth = { authorization: `Bearer ${s.adminToken}` };
    const valid = (p: keyof typeof CALLS, run = id) => JSON.stringify(CALLS[p](run));
    const cases: [string, (p: keyof typeof CALLS) => string, Record<string, string>][] = [
      ["no credentials", valid, { "content-type": "application/json" }],
      ["a wrong token", valid, { authorization: "Bearer forja_wrong", "content-type": "application/json" }],
      ["an unknown scheme", valid, { authorization: "Token x", "content-type": "application/json" }],
      ["text/plain", valid, { ...auth, "content-type": "text/plain" }],
      ["no content type", valid, auth],
      ["malformed JSON", () => "{", { ...auth, "content-type": "application/json" }],
      ["an array", () => "[1]", { ...auth, "content-type": "application/json" }],
      ["a string", () => '"x"', { ...auth, "content-type": "application/json" }],
      ["a missing run", (p) => valid(p, "nope"), { ...auth, "content-type": "application/json" }],
    ];
    for (const [what, body, headers] of cases) {
      const reference = await post("/api/2.0/mlflow/runs/update", body("runs/set-tag"), headers);
      expect(reference.status, what).toBeGreaterThanOrEqual(400);
      for (const p of paths) {
        const r = await post(`/api/2.0/mlflow/${p}`, body(p), headers);
        expect({ status: r.status, type: r.type }, `${what}: ${p}`).toEqual({ status: reference.status, type: "application/json; charset=utf-8" });
        const code = (JSON.parse(r.body) as { error_code: string }).error_code;
        expect(code, `${what}: ${p}`).toBe((JSON.parse(reference.body) as { error_code: string }).error_code);
        if (what !== "a missing run" && what !== "malformed JSON") expect(r.body, `${what}: ${p}`).toBe(reference.body);
      }
    }
  });

  it("log into the run under every prefix, with Bearer or Basic credentials, ignoring a query string", async () => {
    const bases = ["/api/2.0/mlflow", "/ajax-api/2.0/mlflow", "/projects/default/api/2.0/mlflow", "/projects/default/ajax-api/2.0/mlflow"];
    const basic = `Basic ${Buffer.from(`admin:${s.adminToken}`).toString("base64")}`;
    for (const [i, base] of bases.entries()) {
      const id = await newRun();
      const headers = { authorization: i % 2 ? basic : `Bearer ${s.adminToken}`, "content-type": "application/json" };
      for (const p of paths) {
        const r = await post(`${base}/${p}?from=test`, JSON.stringify(CALLS[p](id)), headers);
        expect({ status: r.status, type: r.type, body: r.body }, `${base}/${p}`).toEqual({ status: 200, type: "application/json; charset=utf-8", body: "{}" });
      }
      const run = (await c.ok("GET", "runs/get", { run_id: id }))["run"] as { data: Record<string, { key: string }[]> };
      expect(run.data["metrics"]?.map((m) => m.key), base).toEqual(["m"]);
      expect(run.data["params"]?.map((m) => m.key), base).toEqual(["p"]);
      expect(run.data["tags"]?.map((m) => m.key), base).toContain("t");
    }
  });

  it("a run of another project, or a project that cannot exist, is RESOURCE_DOES_NOT_EXIST; nothing is logged", async () => {
    const id = await newRun();
    const headers = { authorization: `Bearer ${s.adminToken}`, "content-type": "application/json" };
    for (const project of ["other", "Not_A_Name", "%E0%A4%A"]) {
      const r = await post(`/projects/${project}/api/2.0/mlflow/runs/log-batch`, JSON.stringify(CALLS["runs/log-batch"](id)), headers);
      expect({ status: r.status, code: (JSON.parse(r.body) as { error_code: string }).error_code }, project).toEqual({ status: 404, code: "RESOURCE_DOES_NOT_EXIST" });
    }
    const run = (await c.ok("GET", "runs/get", { run_id: id }))["run"] as { data: Record<string, unknown> };
    expect(run.data["metrics"]).toBeUndefined();
  });

  it("other methods on these paths get MLflow's empty 404, as before", async () => {
    for (const p of paths) {
      const r = await s.fetch(`/api/2.0/mlflow/${p}`);
      expect(r.status, p).toBe(404);
      expect(await r.text(), p).toBe("");
    }
  });

  it("a declared body over the limit is refused with 413 before it is read", async () => {
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${s.url}/api/2.0/mlflow/runs/log-batch`, {
        method: "POST",
        headers: { authorization: `Bearer ${s.adminToken}`, "content-type": "application/json", "content-length": String(64 * 1024 * 1024) },
      });
      req.on("response", (r) => {
        let body = "";
        r.on("data", (b: Buffer) => (body += b.toString()));
        r.on("end", () => {
          resolve({ status: r.statusCode ?? 0, body });
          req.destroy();
        });
      });
      req.on("error", reject);
      req.write("{");
    });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body)).toMatchObject({ error_code: "INVALID_PARAMETER_VALUE", message: expect.stringContaining("larger than") });
  });

  it("a streamed body that passes the limit is cut off with 413; a client gone mid-body costs nothing", async () => {
    const id = await newRun();
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${s.url}/api/2.0/mlflow/runs/log-batch`, {
        method: "POST",
        headers: { authorization: `Bearer ${s.adminToken}`, "content-type": "application/json", "transfer-encoding": "chunked" },
      });
      req.on("response", (r) => {
        r.resume();
        resolve(r.statusCode ?? 0);
        req.destroy();
      });
      req.on("error", (e) => (req.destroyed ? undefined : reject(e)));
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      const pump = () => {
        while (!req.destroyed && req.write(chunk));
        if (!req.destroyed) req.once("drain", pump);
      };
      req.write(`{"run_id":"${id}","metrics":[`);
      pump();
    });
    expect(status).toBe(413);
    // Gone mid-body.
    await new Promise<void>((resolve) => {
      const req = request(`${s.url}/api/2.0/mlflow/runs/log-batch`, {
        method: "POST",
        headers: { authorization: `Bearer ${s.adminToken}`, "content-type": "application/json", "content-length": "1000" },
      });
      req.on("error", () => resolve());
      req.write(`{"run_id":"${id}",`, () => setTimeout(() => req.destroy(), 50));
      req.on("close", () => resolve());
    });
    const ok = await post("/api/2.0/mlflow/runs/log-batch", JSON.stringify(CALLS["runs/log-batch"](id)), { authorization: `Bearer ${s.adminToken}`, "content-type": "application/json" });
    expect(ok.status).toBe(200);
    const run = (await c.ok("GET", "runs/get", { run_id: id }))["run"] as { data: { metrics: { key: string; value: number }[] } };
    expect(run.data.metrics).toEqual([expect.objectContaining({ key: "m", value: 1 })]);
  });
});
