/**
 * Open Inference Protocol v2 conformance against a real server with a real onnxruntime model:
 * every endpoint, JSON and binary tensors, V1 :predict, and every request error (400 with
 * `{"error": "..."}` naming what is wrong).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { predictLogisticRegression } from "../../src/serving/onnx/logistic-regression.ts";
import { startTestServer, type TestServer } from "../support/server.ts";
import { IRIS, call, deploy, inferBody, irisOnnx, pairsOnlyOnnx, publishModel, readyWith, waitFor } from "./support.ts";

let s: TestServer;
let version: number;
const base = "/serving/default";
const rows = [
  [5.1, 3.5, 1.4, 0.2],
  [6.7, 3.0, 5.2, 2.3],
  [5.9, 3.0, 4.2, 1.5],
];

beforeAll(async () => {
  s = await startTestServer();
  version = await publishModel(s, { name: "iris", bytes: irisOnnx(), alias: "champion" });
  await deploy(s, { name: "iris", spec: { model: { name: "iris", alias: "champion" } } });
  const pairs = await publishModel(s, { name: "pairs", bytes: pairsOnlyOnnx() });
  await deploy(s, { name: "pairs", spec: { model: { name: "pairs", version: pairs } } });
  await waitFor(s, "iris", readyWith(version));
  await waitFor(s, "pairs", readyWith(pairs));
});
afterAll(async () => {
  await s?.stop();
});

const post = (path: string, body: unknown, token?: string | null) => call(s, "POST", `${base}${path}`, body, token);
const get = (path: string, token?: string | null) => call(s, "GET", `${base}${path}`, undefined, token);

describe("health and metadata", () => {
  it("server live and ready (public), server metadata", async () => {
    expect(await get("/v2/health/live", null)).toMatchObject({ status: 200, body: { live: true } });
    expect(await get("/v2/health/ready", null)).toMatchObject({ status: 200, body: { ready: true } });
    const meta = await get("/v2");
    expect(meta.status).toBe(200);
    expect(meta.body).toMatchObject({ name: "forja", extensions: ["binary_tensor_data"] });
    expect(typeof meta.body.version).toBe("string");
  });

  it("model metadata: inputs and outputs from the ONNX session, with and without version", async () => {
    const m = await get("/v2/models/iris");
    expect(m.status).toBe(200);
    expect(m.body).toEqual({
      name: "iris",
      versions: [String(version)],
      platform: "onnx_onnxv1",
      inputs: [{ name: "input", datatype: "FP32", shape: [-1, 4] }],
      outputs: [
        { name: "label", datatype: "INT64", shape: [-1] },
        { name: "probabilities", datatype: "FP32", shape: [-1, 3] },
      ],
    });
    expect((await get(`/v2/models/iris/versions/${version}`)).body).toEqual(m.body);
    expect(await get("/v2/models/nope")).toMatchObject({ status: 404, body: { error: expect.stringContaining("'nope' is not deployed") } });
    expect(await get("/v2/models/iris/versions/99")).toMatchObject({ status: 404, body: { error: expect.stringContaining("no served version '99'") } });
  });

  it("model ready, with and without version", async () => {
    expect(await get("/v2/models/iris/ready")).toMatchObject({ status: 200, body: { name: "iris", ready: true } });
    expect(await get(`/v2/models/iris/versions/${version}/ready`)).toMatchObject({ status: 200, body: { ready: true } });
    expect(await get("/v2/models/iris/versions/42/ready")).toMatchObject({ status: 503, body: { ready: false } });
    expect((await get("/v2/models/nope/ready")).status).toBe(404);
  });

  it("the Deployment status shows what serves and its tensors", async () => {
    const d = await waitFor(s, "iris", readyWith(version));
    expect(d.status).toMatchObject({
      phase: "Ready",
      url: "/serving/default/v2/models/iris",
      serving: [{ version, percent: 100, role: "primary", digest: expect.stringMatching(/^sha256:/) }],
      inputs: [{ name: "input", datatype: "FP32", shape: [-1, 4] }],
    });
    expect(d.status.conditions.map((c: { type: string; status: string }) => `${c.type}=${c.status}`)).toEqual(["Available=True", "Ready=True"]);
  });
});

describe("inference", () => {
  const ref = predictLogisticRegression(IRIS, rows);

  it("JSON tensors: answers as the reference implementation; echoes the id", async () => {
    const r = await post("/v2/models/iris/infer", inferBody(rows, { id: "42" }));
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ model_name: "iris", model_version: String(version), id: "42" });
    const [label, probs] = r.body.outputs;
    expect(label).toEqual({ name: "label", datatype: "INT64", shape: [3], data: ref.labels });
    expect(probs).toMatchObject({ name: "probabilities", datatype: "FP32", shape: [3, 3] });
    ref.probabilities.flat().forEach((p, i) => expect(probs.data[i]).toBeCloseTo(p, 5));
  });

  it("many clients at once (answers written together, once per turn): each gets its own answer, errors included", async () => {
    const answers = await Promise.all(
      Array.from({ length: 96 }, (_, i) =>
        i % 8 === 7
          ? post("/v2/models/iris/infer", { inputs: [{ name: "input", shape: [1, 3], datatype: "FP32", data: [1, 2, 3] }], id: `bad-${i}` })
          : post("/v2/models/iris/infer", inferBody([rows[i % rows.length] as number[]], { id: `req-${i}` })),
      ),
    );
    answers.forEach((r, i) => {
      if (i % 8 === 7) {
        expect(r.status, `request ${i}`).toBe(400);
        expect(r.body.error, `request ${i}`).toMatch(/shape/);
      } else {
        expect(r.status, `request ${i}`).toBe(200);
        expect(r.body.id, `request ${i}`).toBe(`req-${i}`);
        expect(r.body.outputs[0].data, `request ${i}`).toEqual([ref.labels[i % rows.length]]);
      }
    });
  });

  it("a model that fails while running: 500 with onnxruntime's reason, counted; the other requests of the turn are answered", async () => {
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        i % 3 === 0
          ? post("/v2/models/pairs/infer", inferBody([[1, 2, 3, 4]], { id: `one-${i}` }))
          : i % 3 === 1
            ? post("/v2/models/pairs/infer", inferBody([[1, 2, 3, 4], [5, 6, 7, 8]], { id: `two-${i}` }))
            : post("/v2/models/iris/infer", inferBody([rows[0] as number[]], { id: `iris-${i}` })),
      ),
    );
    answers.forEach((r, i) => {
      if (i % 3 === 0) {
        expect(r.status, `request ${i}`).toBe(500);
        expect(r.body.error, `request ${i}`).toMatch(/^model execution failed: .*(reshape|shape)/i);
      } else if (i % 3 === 1) {
        expect(r.status, `request ${i}`).toBe(200);
        expect(r.body.outputs[0], `request ${i}`).toEqual({ name: "pairs", datatype: "FP32", shape: [2, 4], data: [1, 2, 3, 4, 5, 6, 7, 8] });
      } else {
        expect(r.status, `request ${i}`).toBe(200);
        expect(r.body.outputs[0].data, `request ${i}`).toEqual([ref.labels[0]]);
      }
    });
    const metrics = await (await s.fetch("/metrics")).text();
    expect(metrics).toMatch(/forja_inference_requests_total\{[^}]*deployment="pairs"[^}]*status="500"[^}]*\} 10/);
    expect(metrics).toMatch(/forja_inference_requests_total\{[^}]*deployment="pairs"[^}]*status="200"[^}]*\} 10/);
  });

  it("nested data, requested outputs, the version path", async () => {
    const body = { inputs: [{ name: "input", shape: [3, 4], datatype: "FP32", data: rows }], outputs: [{ name: "label" }] };
    const r = await post(`/v2/models/iris/versions/${version}/infer`, body);
    expect(r.status).toBe(200);
    expect(r.body.id).toBeUndefined();
    expect(r.body.outputs).toEqual([{ name: "label", datatype: "INT64", shape: [3], data: ref.labels }]);
  });

  it("binary tensor extension: binary input, binary outputs", async () => {
    const header = Buffer.from(
      JSON.stringify({
        inputs: [{ name: "input", shape: [3, 4], datatype: "FP32", parameters: { binary_data_size: 48 } }],
        outputs: [{ name: "probabilities", parameters: { binary_data: true } }, { name: "label" }],
      }),
    );
    const tensor = Buffer.from(Float32Array.from(rows.flat()).buffer);
    const res = await s.fetch(`${base}/v2/models/iris/infer`, {
      method: "POST",
      body: Buffer.concat([header, tensor]),
      headers: { "content-type": "application/octet-stream", "inference-header-content-length": String(header.length) },
    });
    expect(res.status).toBe(200);
    const bytes = Buffer.from(await res.arrayBuffer());
    const n = Number(res.headers.get("inference-header-content-length"));
    const json = JSON.parse(bytes.subarray(0, n).toString());
    expect(json.outputs[0]).toEqual({ name: "probabilities", datatype: "FP32", shape: [3, 3], parameters: { binary_data_size: 36 } });
    expect(json.outputs[1].data).toEqual(ref.labels);
    const probs = new Float32Array(bytes.subarray(n).buffer.slice(bytes.byteOffset + n, bytes.byteOffset + n + 36));
    ref.probabilities.flat().forEach((p, i) => expect(probs[i]).toBeCloseTo(p, 5));

    // binary_data_output on the request: every output binary (INT64 label 3×8 + FP32 probs 3×3×4).
    const h2 = Buffer.from(JSON.stringify({ inputs: [{ name: "input", shape: [3, 4], datatype: "FP32", parameters: { binary_data_size: 48 } }], parameters: { binary_data_output: true } }));
    const res2 = await s.fetch(`${base}/v2/models/iris/infer`, {
      method: "POST",
      body: Buffer.concat([h2, tensor]),
      headers: { "content-type": "application/octet-stream", "inference-header-content-length": String(h2.length) },
    });
    const b2 = Buffer.from(await res2.arrayBuffer());
    const n2 = Number(res2.headers.get("inference-header-content-length"));
    expect(b2.length - n2).toBe(24 + 36);
    expect(Array.from(new BigInt64Array(b2.buffer.slice(b2.byteOffset + n2, b2.byteOffset + n2 + 24)), Number)).toEqual(ref.labels);
  });

  it("V1 :predict (instances → predictions) and V1 model ready", async () => {
    const r = await post("/v1/models/iris:predict", { instances: rows });
    expect(r.status).toBe(200);
    expect(r.body.predictions).toHaveLength(3);
    expect(r.body.predictions.map((p: { label: number }) => p.label)).toEqual(ref.labels);
    expect(r.body.predictions[0].probabilities).toHaveLength(3);
    expect(await get("/v1/models/iris")).toMatchObject({ status: 200, body: { name: "iris", ready: true } });
    expect(await post("/v1/models/iris:predict", { instances: [[1, 2]] })).toMatchObject({ status: 400, body: { error: expect.stringContaining("dimension 1 must be 4") } });
    expect((await post("/v1/models/iris:explain", { instances: rows })).status).toBe(404);
  });
});

describe("bad requests → 400 with a message naming what is wrong", () => {
  const cases: [string, unknown, RegExp][] = [
    ["no inputs", {}, /'inputs' must be a non-empty array/],
    ["inputs not an array", { inputs: "x" }, /'inputs' must be a non-empty array/],
    ["unknown input", { inputs: [{ name: "x", shape: [1, 4], datatype: "FP32", data: [1, 2, 3, 4] }] }, /unknown input 'x'; the model's inputs are: input/],
    ["wrong datatype", { inputs: [{ name: "input", shape: [1, 4], datatype: "FP64", data: [1, 2, 3, 4] }] }, /datatype "FP64" does not match the model's FP32/],
    ["wrong rank", { inputs: [{ name: "input", shape: [4], datatype: "FP32", data: [1, 2, 3, 4] }] }, /has 1 dimensions; the model expects 2: \[-1,4\]/],
    ["wrong dimension", { inputs: [{ name: "input", shape: [1, 5], datatype: "FP32", data: [1, 2, 3, 4, 5] }] }, /dimension 1 must be 4/],
    ["too few values", { inputs: [{ name: "input", shape: [2, 4], datatype: "FP32", data: [1, 2, 3, 4, 5, 6, 7] }] }, /shape needs 8 values, data has 7/],
    ["too many values", { inputs: [{ name: "input", shape: [1, 4], datatype: "FP32", data: [1, 2, 3, 4, 5] }] }, /more than the 4 values/],
    // The shape is checked against the data before a buffer of its size is allocated.
    ["a huge shape with little data", { inputs: [{ name: "input", shape: [1e12, 4], datatype: "FP32", data: [1, 2, 3, 4] }] }, /shape needs 4000000000000 values, data has 4/],
    ["data nested deeper than the shape", { inputs: [{ name: "input", shape: [1, 4], datatype: "FP32", data: [[[1, 2, 3, 4]]] }] }, /data is nested deeper than the model's 2 dimensions/],
    ["a string in FP32 data", { inputs: [{ name: "input", shape: [1, 4], datatype: "FP32", data: [1, "2", 3, 4] }] }, /data\[1\] must be a number for datatype FP32/],
    ["negative dimension", { inputs: [{ name: "input", shape: [-1, 4], datatype: "FP32", data: [] }] }, /shape\[0\] must be a non-negative integer/],
    ["missing data", { inputs: [{ name: "input", shape: [1, 4], datatype: "FP32" }] }, /'data' is required/],
    ["unknown output", { ...inferBody([[1, 2, 3, 4]]), outputs: [{ name: "nope" }] }, /unknown output 'nope'; the model's outputs are: label, probabilities/],
    ["id not a string", { ...inferBody([[1, 2, 3, 4]]), id: 7 }, /'id' must be a string/],
    ["input twice", { inputs: [inferBody([[1, 2, 3, 4]]).inputs[0], inferBody([[1, 2, 3, 4]]).inputs[0]] }, /given twice/],
  ];
  for (const [what, body, message] of cases) {
    it(what, async () => {
      const r = await post("/v2/models/iris/infer", body);
      expect(r.status, r.text).toBe(400);
      expect(Object.keys(r.body)).toEqual(["error"]);
      expect(r.body.error).toMatch(message);
    });
  }

  it("not JSON, empty body, bad binary header, binary size mismatch", async () => {
    const raw = (body: string | Buffer, headers: Record<string, string> = { "content-type": "application/json" }) =>
      s.fetch(`${base}/v2/models/iris/infer`, { method: "POST", body, headers }).then(async (r) => ({ status: r.status, body: (await r.json()) as { error: string } }));
    expect(await raw("{not json")).toMatchObject({ status: 400, body: { error: expect.stringContaining("not valid JSON") } });
    expect(await raw("")).toMatchObject({ status: 400, body: { error: expect.stringMatching(/empty/) } });
    expect(await raw('{"inputs":[]}', { "content-type": "application/json", "inference-header-content-length": "999" })).toMatchObject({
      status: 400,
      body: { error: expect.stringContaining("Inference-Header-Content-Length") },
    });
    const h = Buffer.from(JSON.stringify({ inputs: [{ name: "input", shape: [1, 4], datatype: "FP32", parameters: { binary_data_size: 12 } }] }));
    expect(await raw(Buffer.concat([h, Buffer.alloc(12)]), { "content-type": "application/octet-stream", "inference-header-content-length": String(h.length) })).toMatchObject({
      status: 400,
      body: { error: expect.stringContaining("binary_data_size is 12 bytes; shape and datatype FP32 need 16") },
    });
  });

  it("data nested 100,000 deep (200 KB, under the body limit) is a 400, not a stack overflow", async () => {
    const depth = 100_000;
    const text = `{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":${"[".repeat(depth)}1${"]".repeat(depth)}}]}`;
    const res = await s.fetch(`${base}/v2/models/iris/infer`, { method: "POST", body: text, headers: { "content-type": "application/json" } });
    const body = (await res.json()) as { error: string };
    expect(res.status, body.error).toBe(400);
    expect(body.error).toMatch(/nested deeper than the model's 2 dimensions/);
  });

  it("an empty tensor in binary form (binary_data_size 0, no bytes after the JSON) is answered like its JSON form", async () => {
    const json = await post("/v2/models/iris/infer", { inputs: [{ name: "input", shape: [0, 4], datatype: "FP32", data: [] }] });
    expect(json.status, json.text).toBe(200);
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: "input", shape: [0, 4], datatype: "FP32", parameters: { binary_data_size: 0 } }] }));
    const res = await s.fetch(`${base}/v2/models/iris/infer`, {
      method: "POST",
      body: header,
      headers: { "content-type": "application/octet-stream", "inference-header-content-length": String(header.length) },
    });
    const text = await res.text();
    expect(res.status, text).toBe(200);
    expect((JSON.parse(text) as { outputs: { shape: number[] }[] }).outputs.map((o) => o.shape[0])).toEqual((json.body as { outputs: { shape: number[] }[] }).outputs.map((o) => o.shape[0]));
  });

  it("unknown routes and wrong methods under /serving answer 404 in the OIP error format", async () => {
    for (const [method, path] of [
      ["GET", "/v2/nothing"],
      ["POST", "/v2/models/iris"],
      ["GET", "/v2/models/iris/infer"],
      ["POST", "/v2/models/iris/versions/1/infer/more"],
      ["POST", "/v1/models/iris:explain"],
      ["GET", "/v2/models/iris/"],
    ] as const) {
      const r = await call(s, method, `${base}${path}`, method === "POST" ? inferBody([rows[0] as number[]]) : undefined);
      expect(r.status, `${method} ${path}`).toBe(404);
      expect(r.body.error, `${method} ${path}`).toMatch(/no route|not deployed/);
    }
    expect((await call(s, "GET", "/serving/")).status).toBe(404);
  });

  it("a body over the limit is refused with 413 before it is buffered; the server keeps serving", async () => {
    const limit = s.platform.ctx.config.bodyLimitBytes;
    const big = JSON.stringify({ inputs: [{ name: "input", shape: [1, 4], datatype: "FP32", data: [1, 2, 3, 4] }], pad: "x".repeat(limit) });
    const r = await s.fetch(`${base}/v2/models/iris/infer`, { method: "POST", body: big, headers: { "content-type": "application/json" } });
    expect(r.status).toBe(413);
    expect(((await r.json()) as { error: string }).error).toContain(`larger than ${limit} bytes`);
    // Streamed without a Content-Length: refused once the limit is passed.
    const chunks = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 4; i++) c.enqueue(Buffer.alloc(Math.ceil(limit / 2), 0x20));
        c.close();
      },
    });
    const streamed = await s.fetch(`${base}/v2/models/iris/infer`, { method: "POST", body: chunks, duplex: "half", headers: { "content-type": "application/json" } });
    expect(streamed.status).toBe(413);
    expect((await post("/v2/models/iris/infer", inferBody([rows[0] as number[]]))).status).toBe(200);
  });

  it("HEAD answers like GET without a body; query strings and percent-encoding are understood", async () => {
    const head = await s.fetch(`${base}/v2/health/live`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
    expect((await get("/v2/models/iris?x=1")).body).toMatchObject({ name: "iris" });
    expect((await get("/v2/models/%69ris/ready")).body).toEqual({ name: "iris", ready: true });
    expect((await get("/v2/models/%E0%A4%A")).status).toBe(404);
    expect(await get("/v2/models/no%20such")).toMatchObject({ status: 404, body: { error: "model 'no such' is not deployed in project 'default'" } });
  });
});
