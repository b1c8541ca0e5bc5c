// A serving worker thread (runtime.mode "workers"): one onnxruntime session; runs feeds sent by
// src/serving/runner.ts and posts the outputs back. Plain JavaScript: worker threads do not
// inherit the tsx loader of the main thread.
import { parentPort, workerData } from "node:worker_threads";
import * as ort from "onnxruntime-node";

const session = await ort.InferenceSession.create(new Uint8Array(workerData.model), {
  intraOpNumThreads: workerData.intraOpThreads,
  interOpNumThreads: 1,
});
parentPort.postMessage({ ready: true });
parentPort.on("message", async (msg) => {
  try {
    const feeds = {};
    for (const [name, t] of Object.entries(msg.feeds)) feeds[name] = new ort.Tensor(t.type, t.data, t.dims);
    const out = await session.run(feeds);
    const outputs = {};
    const transfer = [];
    for (const [name, t] of Object.entries(out)) {
      outputs[name] = { type: t.type, data: t.data, dims: t.dims };
      if (t.type !== "string") transfer.push(t.data.buffer);
    }
    parentPort.postMessage({ id: msg.id, outputs }, transfer);
  } catch (e) {
    parentPort.postMessage({ id: msg.id, error: e instanceof Error ? e.message : String(e) });
  }
});
