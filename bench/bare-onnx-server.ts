/**
 * A bare `node:http` + onnxruntime-node inference server: the reference bench/serving.ts measures
 * Forja against, beside the constant-answer floor. It parses the OIP v2 JSON request, runs the
 * model and answers the OIP v2 response, and does nothing else: no authentication, no validation
 * against the model's metadata, no routing, no metrics, no payload log. What Forja costs beyond
 * it is the price of those; what it costs beyond the floor is the price of parsing, running and
 * encoding on this machine, which no server built on these two libraries avoids.
 *
 *   node --import tsx bench/bare-onnx-server.ts naive|tuned MODEL_PATH   (prints its port)
 *
 * naive: the public API, `await session.run(feeds)` per request: the server the issue describes
 *        as reaching only ~0.25–0.3× the floor.
 * tuned: the native session called synchronously, runs deferred to the end of the event-loop
 *        turn and answers written together: the mechanism of Forja's data plane (ADR 0013).
 * It exits when its standard input ends.
 */
import { readFileSync } from "node:fs";
import { type ServerResponse, createServer } from "node:http";
import * as ort from "onnxruntime-node";
import { openNativeSession } from "../src/serving/ort-native.ts";
import type { Feeds, Outputs } from "../src/serving/runner.ts";

const [mode, modelPath] = process.argv.slice(2);
if ((mode !== "naive" && mode !== "tuned") || modelPath === undefined) throw new Error("usage: bare-onnx-server.ts naive|tuned MODEL_PATH");
const model = readFileSync(modelPath);
const options = { intraOpNumThreads: 1, interOpNumThreads: 1 };

const DATATYPES: Readonly<Record<string, string>> = { float32: "FP32", float64: "FP64", int64: "INT64", int32: "INT32", bool: "BOOL" };
const encode = (outputs: Outputs): string =>
  JSON.stringify({
    model_name: "iris",
    model_version: "1",
    outputs: Object.entries(outputs).map(([name, t]) => ({ name, shape: t.dims, datatype: DATATYPES[t.type] ?? t.type, data: Array.from(t.data as ArrayLike<number | bigint>, Number) })),
  });
const answer = (res: ServerResponse, status: number, body: string) => {
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
};
const feedsOf = (body: Buffer): Feeds => {
  const { inputs } = JSON.parse(body.toString()) as { inputs: { name: string; shape: number[]; data: number[] }[] };
  return Object.fromEntries(inputs.map((t) => [t.name, new ort.Tensor("float32", Float32Array.from(t.data), t.shape)]));
};

let handle: (body: Buffer, res: ServerResponse) => void;
if (mode === "naive") {
  const session = await ort.InferenceSession.create(model, options);
  handle = (body, res) => {
    session.run(feedsOf(body)).then(
      (out) => answer(res, 200, encode(out)),
      (e: unknown) => answer(res, 500, JSON.stringify({ error: String(e) })),
    );
  };
} else {
  const session = await openNativeSession(model, options);
  if (!session) throw new Error("this onnxruntime-node release has no native binding in the expected shape");
  let turn: { feeds: Feeds; res: ServerResponse }[] = [];
  const flush = () => {
    const runs = turn;
    turn = [];
    const out = runs.map(({ feeds }) => {
      try {
        return { status: 200, body: encode(session.runSync(feeds)) };
      } catch (e) {
        return { status: 500, body: JSON.stringify({ error: String(e) }) };
      }
    });
    runs.forEach(({ res }, i) => answer(res, out[i]?.status ?? 500, out[i]?.body ?? ""));
  };
  handle = (body, res) => {
    if (turn.push({ feeds: feedsOf(body), res }) === 1) setImmediate(flush);
  };
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    try {
      handle(Buffer.concat(chunks), res);
    } catch (e) {
      answer(res, 400, JSON.stringify({ error: String(e) }));
    }
  });
});
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  process.stdout.write(`${typeof address === "object" && address ? address.port : 0}\n`);
});
process.stdin.on("end", () => process.exit(0)).resume();
