// A serving worker thread (runtime.mode "workers"): one onnxruntime session. src/serving/runner.ts
// sends the runs of one turn of its event loop as one message (a burst); every run of the burst
// is started at once, and their outputs go back as one message, in order, each run with its own
// outputs or error. Plain JavaScript: worker threads do not inherit the main thread's tsx loader.
import { parentPort, workerData } from "node:worker_threads";
import * as ort from "onnxruntime-node";

const session = await ort.InferenceSession.create(new Uint8Array(workerData.model), {
  intraOpNumThreads: workerData.intraOpThreads,
  interOpNumThreads: 1,
});
parentPort.postMessage({ ready: true });

async function runOne(wire) {
  try {
    const feeds = {};
    for (const [name, t] of Object.entries(wire)) feeds[name] = new ort.Tensor(t.type, t.data, t.dims);
    const out = await session.run(feeds);
    const outputs = {};
    for (const [name, t] of Object.entries(out)) outputs[name] = { type: t.type, data: t.data, dims: t.dims };
    return { outputs };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

parentPort.on("message", async ({ id, runs }) => {
  const results = await Promise.all(runs.map(runOne));
  // Output buffers are moved, not copied: each once, and only when the tensor owns all of it.
  const transfer = new Set();
  for (const r of results) {
    if (!r.outputs) continue;
    for (const t of Object.values(r.outputs)) {
      const b = t.data.buffer;
      if (t.type !== "string" && b && b.byteLength === t.data.byteLength) transfer.add(b);
    }
  }
  parentPort.postMessage({ id, results }, [...transfer]);
});
