/** mlflow-artifacts: round trip, listing, traversal attempts, size limit (nothing indexed on failure). */
import { request } from "node:http";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/server.ts";
import { mlflowClient } from "./helpers.ts";

const LIMIT = 64 * 1024;
let s: TestServer;
let exp: string;
let run: string;
const ART = "/api/2.0/mlflow-artifacts/artifacts";

/** Sends the path bytes exactly as given (fetch would normalise `..`). */
function rawRequest(method: string, path: string, body?: string): Promise<{ status: number; text: string }> {
  const u = new URL(s.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method, path, headers: { authorization: `Bearer ${s.adminToken}` } }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

beforeAll(async () => {
  s = await startTestServer({ env: { FORJA_ARTIFACT_MAX_BYTES: String(LIMIT) } });
  const c = mlflowClient(s);
  exp = (await c.ok("POST", "experiments/create", { name: "arts" }))["experiment_id"] as string;
  run = ((await c.ok("POST", "runs/create", { experiment_id: exp }))["run"] as { info: { run_id: string } }).info.run_id;
});
afterAll(() => s.stop());

describe("round trip", () => {
  it("PUT → {} ; GET streams with Content-Disposition; list gives basenames; run list gives root-relative paths; DELETE", async () => {
    const base = `${exp}/${run}/artifacts`;
    for (const [p, body] of [["model/MLmodel", "flavors: {}"], ["model/data/w.bin", "0123456789"], ["hello.txt", "hi"]] as const) {
      const r = await s.fetch(`${ART}/${base}/${p}`, { method: "PUT", headers: { "content-type": "application/octet-stream" }, body });
      expect(r.status).toBe(200);
      expect(await r.json()).toEqual({});
    }
    const g = await s.fetch(`${ART}/${base}/model/data/w.bin`);
    expect(g.status).toBe(200);
    expect(g.headers.get("content-disposition")).toBe('attachment; filename="w.bin"');
    expect(g.headers.get("x-content-type-options")).toBe("nosniff");
    expect(await g.text()).toBe("0123456789");
    const l = await s.fetch(`${ART}?path=${base}/model`);
    expect(await l.json()).toEqual({ files: [{ path: "MLmodel", is_dir: false, file_size: 11 }, { path: "data", is_dir: true }] });
    expect(await (await s.fetch(`${ART}?path=${base}/empty`)).json()).toEqual({});
    const rl = await mlflowClient(s).ok("GET", "artifacts/list", { run_id: run });
    expect(rl).toEqual({ root_uri: `mlflow-artifacts:/${base}`, files: [{ path: "hello.txt", is_dir: false, file_size: 2 }, { path: "model", is_dir: true }] });
    const rl2 = await mlflowClient(s).ok("GET", "artifacts/list", { run_id: run, path: "model" });
    expect((rl2["files"] as { path: string }[]).map((f) => f.path)).toEqual(["model/MLmodel", "model/data"]);
    expect((await s.fetch(`${ART}/${base}/model`, { method: "DELETE" })).status).toBe(200);
    expect((await s.fetch(`${ART}/${base}/model/MLmodel`)).status).toBe(404);
    expect(await (await s.fetch(`${ART}?path=${base}`)).json()).toEqual({ files: [{ path: "hello.txt", is_dir: false, file_size: 2 }] });
  });
  it("a missing artifact is 404 RESOURCE_DOES_NOT_EXIST; an unknown experiment 404", async () => {
    const r = await s.fetch(`${ART}/${exp}/${run}/artifacts/none.txt`);
    expect(r.status).toBe(404);
    expect(((await r.json()) as { error_code: string }).error_code).toBe("RESOURCE_DOES_NOT_EXIST");
    expect((await s.fetch(`${ART}/999999/x.txt`, { method: "PUT", body: "x" })).status).toBe(404);
  });
  it("'0/...' is the URI project's Default experiment: stored, read, listed and deleted under its real id", async () => {
    const def = ((await mlflowClient(s).ok("GET", "experiments/get", { experiment_id: "0" }))["experiment"] as { experiment_id: string }).experiment_id;
    expect((await s.fetch(`${ART}/0/d/a.txt`, { method: "PUT", body: "via 0" })).status).toBe(200);
    expect(await (await s.fetch(`${ART}/${def}/d/a.txt`)).text()).toBe("via 0");
    expect((await s.fetch(`${ART}/${def}/d/a.txt`, { method: "PUT", body: "via id" })).status).toBe(200);
    expect(await (await s.fetch(`${ART}/0/d/a.txt`)).text()).toBe("via id");
    expect(await (await s.fetch(`${ART}?path=0/d`)).json()).toEqual({ files: [{ path: "a.txt", is_dir: false, file_size: 6 }] });
    const rows = await s.platform.ctx.database.db.selectFrom("tracking_artifacts").select(["path", "experiment_id"]).where("path", "like", "%/d/a.txt").execute();
    expect(rows.map((r) => [r.path, String(r.experiment_id)])).toEqual([[`${def}/d/a.txt`, def]]);
    expect((await s.fetch(`${ART}/0/d`, { method: "DELETE" })).status).toBe(200);
    expect((await s.fetch(`${ART}/${def}/d/a.txt`)).status).toBe(404);
  });
  it("multipart upload answers 501 NOT_IMPLEMENTED (the client falls back to one PUT)", async () => {
    const r = await s.fetch(`/api/2.0/mlflow-artifacts/mpu/create/${exp}/${run}/artifacts/big.bin`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(r.status).toBe(501);
    expect(((await r.json()) as { error_code: string }).error_code).toBe("NOT_IMPLEMENTED");
  });
});

describe("unsafe paths are 400 and write nothing", () => {
  const bad = () => [
    `${ART}/${exp}/../1/x.txt`,
    `${ART}/${exp}/a/../../x.txt`,
    `${ART}/${exp}/%2e%2e/x.txt`,
    `${ART}/${exp}/%2E%2E/%2e%2e/x.txt`,
    `${ART}/${exp}/%252e%252e/x.txt`,
    `${ART}/${exp}/a%2f..%2f..%2fx.txt`,
    `${ART}/%2fetc%2fpasswd`,
    `${ART}//etc/passwd`,
    `${ART}/${exp}//x.txt`,
    `${ART}/${exp}/a%23b.txt`,
    `${ART}/${exp}/a%5c..%5cx.txt`,
    `${ART}/${exp}/file:%2f%2fx`,
    `${ART}/${exp}/./x.txt`,
    `${ART}/not-an-id/x.txt`,
  ];
  it("PUT, GET and DELETE", async () => {
    for (const p of bad()) {
      for (const method of ["PUT", "GET", "DELETE"]) {
        const r = await rawRequest(method, p, method === "PUT" ? "x" : undefined);
        expect([400, 404], `${method} ${p}: ${r.status} ${r.text}`).toContain(r.status);
        if (r.status === 404) expect(r.text, `${method} ${p}`).toBe(""); // only a path the router itself rejected
      }
    }
    const all = await s.platform.ctx.database.db.selectFrom("tracking_artifacts").select("path").execute();
    expect(all.filter((r) => !r.path.startsWith(`${exp}/${run}/artifacts/`))).toEqual([]);
  });
  it("list with a traversal path is 400", async () => {
    for (const p of [`${exp}/../1`, "/etc", `${exp}/%2e%2e`]) {
      const r = await s.fetch(`${ART}?path=${encodeURIComponent(p)}`);
      expect(r.status, p).toBe(400);
    }
    expect((await mlflowClient(s).get("artifacts/list", { run_id: run, path: "../../x" })).status).toBe(400);
  });
});

describe("size limit", () => {
  it("over the limit with Content-Length: 413, nothing indexed", async () => {
    const r = await s.fetch(`${ART}/${exp}/${run}/artifacts/huge.bin`, { method: "PUT", body: Buffer.alloc(LIMIT + 1) });
    expect(r.status).toBe(413);
    expect(((await r.json()) as { error_code: string }).error_code).toBe("INVALID_PARAMETER_VALUE");
    expect((await s.fetch(`${ART}/${exp}/${run}/artifacts/huge.bin`)).status).toBe(404);
  });
  it("over the limit while streaming (chunked, no Content-Length): 413, nothing indexed, server fine", async () => {
    const chunks = Array.from({ length: 20 }, () => Buffer.alloc(8 * 1024, 1));
    const r = await s.fetch(`${ART}/${exp}/${run}/artifacts/stream.bin`, {
      method: "PUT",
      body: Readable.toWeb(Readable.from(chunks)),
      duplex: "half",
    });
    expect(r.status).toBe(413);
    expect((await s.fetch(`${ART}/${exp}/${run}/artifacts/stream.bin`)).status).toBe(404);
    const ok = await s.fetch(`${ART}/${exp}/${run}/artifacts/ok.bin`, { method: "PUT", body: Buffer.alloc(LIMIT) });
    expect(ok.status).toBe(200);
  });
});
