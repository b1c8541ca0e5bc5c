/**
 * What one model run costs the server thread, for the serving benchmark's classifier (4 float
 * features, 3 classes), 64 runs in flight at a time:
 *   inline  — onnxruntime-node's session.run on the calling thread (the default runtime);
 *   shared  — the run on a worker thread, inputs and outputs passed through shared memory
 *             (SharedArrayBuffer ring, Atomics.notify / Atomics.waitAsync; no postMessage);
 *   batched — the run on a worker thread, the runs of one event-loop turn sent as one message
 *             and answered as one (what the `workers` runtime does, src/serving/runner.ts).
 * Prints runs/s, the whole process's CPU per run and the main thread's CPU per run (from
 * /proc/self/task). Moving the run off the server thread frees ~10 µs of it per run, but costs
 * more CPU in all; on a machine whose cores are busy (the serving bench's load generator shares
 * them) the total decides. `shared` is a prototype for one fixed tensor layout, not a runtime.
 *
 *   npx tsx bench/dispatch.ts [--runs 64000] [--rounds 3]
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
import * as ort from "onnxruntime-node";
import { exportLogisticRegressionOnnx } from "../src/serving/onnx/logistic-regression.ts";

const { values } = parseArgs({ options: { runs: { type: "string", default: "64000" }, rounds: { type: "string", default: "3" } } });
const RUNS = Number(values.runs);
const IN = 4; // floats per request
const OUT = 4; // label + 3 probabilities
const SLOTS = 256;

const MODEL = exportLogisticRegressionOnnx({
  weights: [
    [-0.42, 0.97, -2.4, -1.02],
    [0.53, -0.32, -0.2, -0.94],
    [-0.11, -0.65, 2.6, 1.96],
  ],
  bias: [9.8, 2.2, -12.0],
});

// The worker: waits for submitted slots, runs each, publishes the completed count.
const WORKER = `
const { workerData, parentPort } = require("node:worker_threads");
const ort = require("onnxruntime-node");
const { ctl, inp, out, model, IN, OUT, SLOTS } = workerData;
const c = new Int32Array(ctl), x = new Float32Array(inp), y = new Float32Array(out);
(async () => {
  const session = await ort.InferenceSession.create(new Uint8Array(model), { intraOpNumThreads: 1, interOpNumThreads: 1 });
  parentPort.postMessage("ready");
  let done = 0;
  for (;;) {
    let submitted = Atomics.load(c, 0);
    if (submitted === done) { Atomics.wait(c, 0, submitted); continue; }
    while (done < submitted) {
      const s = done % SLOTS;
      const o = await session.run({ input: new ort.Tensor("float32", x.slice(s * IN, s * IN + IN), [1, IN]) });
      y[s * OUT] = Number(o.label.data[0]);
      y.set(o.probabilities.data, s * OUT + 1);
      Atomics.store(c, 1, ++done);
      submitted = Atomics.load(c, 0);
    }
    Atomics.notify(c, 1);
  }
})();
`;

async function sharedRunner(): Promise<{ run: (x: readonly number[]) => Promise<Float32Array>; close: () => Promise<number> }> {
  const ctl = new Int32Array(new SharedArrayBuffer(8)); // [0] submitted, [1] completed
  const inp = new Float32Array(new SharedArrayBuffer(SLOTS * IN * 4));
  const out = new Float32Array(new SharedArrayBuffer(SLOTS * OUT * 4));
  const worker = new Worker(WORKER, { eval: true, workerData: { ctl: ctl.buffer, inp: inp.buffer, out: out.buffer, model: MODEL, IN, OUT, SLOTS } });
  await new Promise((resolve) => worker.once("message", resolve));
  let submitted = 0;
  let completed = 0;
  let watching = false;
  let notifying = false;
  const waiting: ((y: Float32Array) => void)[] = [];
  const collect = (): void => {
    const done = Atomics.load(ctl, 1);
    for (; completed < done; completed++) {
      const s = completed % SLOTS;
      waiting.shift()?.(out.slice(s * OUT, s * OUT + OUT));
    }
    if (completed === submitted) {
      watching = false;
      return;
    }
    const w = waitAsync(ctl, 1, done);
    if (w.async) void (w.value as Promise<string>).then(collect);
    else collect();
  };
  const run = (x: readonly number[]) =>
    new Promise<Float32Array>((resolve) => {
      if (submitted - completed >= SLOTS) throw new Error("ring full (a real runtime queues here)");
      inp.set(x, (submitted % SLOTS) * IN);
      waiting.push(resolve);
      Atomics.store(ctl, 0, ++submitted);
      // One wake-up of the worker per burst of submissions, not one per run.
      if (!notifying) {
        notifying = true;
        queueMicrotask(() => {
          notifying = false;
          Atomics.notify(ctl, 0);
        });
      }
      if (!watching) {
        watching = true;
        collect();
      }
    });
  return { run, close: () => worker.terminate() };
}

// The worker for "batched": one message per burst of runs (all those submitted in one turn of the
// event loop), one message back with all their outputs.
const BATCH_WORKER = `
const { workerData, parentPort } = require("node:worker_threads");
const ort = require("onnxruntime-node");
(async () => {
  const session = await ort.InferenceSession.create(new Uint8Array(workerData.model), { intraOpNumThreads: 1, interOpNumThreads: 1 });
  parentPort.postMessage("ready");
  parentPort.on("message", async (runs) => {
    const out = [];
    for (const x of runs) {
      const o = await session.run({ input: new ort.Tensor("float32", x, [1, ${IN}]) });
      out.push({ label: o.label.data, probabilities: o.probabilities.data });
    }
    parentPort.postMessage(out);
  });
})();
`;

async function batchedRunner(): Promise<{ run: (x: readonly number[]) => Promise<Float32Array>; close: () => Promise<number> }> {
  const worker = new Worker(BATCH_WORKER, { eval: true, workerData: { model: MODEL } });
  await new Promise((resolve) => worker.once("message", resolve));
  let burst: Float32Array[] = [];
  let burstWaiting: ((y: Float32Array) => void)[] = [];
  const inFlight: ((y: Float32Array) => void)[][] = [];
  worker.on("message", (outs: { label: BigInt64Array; probabilities: Float32Array }[]) => {
    const waiting = inFlight.shift() ?? [];
    outs.forEach((o, i) => {
      const y = new Float32Array(OUT);
      y[0] = Number(o.label[0]);
      y.set(o.probabilities, 1);
      waiting[i]?.(y);
    });
  });
  const send = () => {
    worker.postMessage(burst);
    inFlight.push(burstWaiting);
    burst = [];
    burstWaiting = [];
  };
  const run = (x: readonly number[]) =>
    new Promise<Float32Array>((resolve) => {
      if (burst.length === 0) setImmediate(send);
      burst.push(Float32Array.from(x));
      burstWaiting.push(resolve);
    });
  return { run, close: () => worker.terminate() };
}

/** Atomics.waitAsync (V8 has it; the ES2023 lib this project compiles against does not declare it). */
const waitAsync = (Atomics as unknown as { waitAsync: (a: Int32Array, i: number, v: number) => { async: boolean; value: Promise<string> | string } }).waitAsync;

const mainThreadTicks = (): number => {
  const st = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8");
  const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]);
};

const session = await ort.InferenceSession.create(MODEL, { intraOpNumThreads: 1, interOpNumThreads: 1 });
const inline = async (x: readonly number[]) => {
  const o = await session.run({ input: new ort.Tensor("float32", Float32Array.from(x), [1, IN]) });
  const y = new Float32Array(OUT);
  y[0] = Number((o["label"] as ort.Tensor).data[0]);
  y.set(o["probabilities"]?.data as Float32Array, 1);
  return y;
};
const shared = await sharedRunner();
const batched = await batchedRunner();
const X = [5.1, 3.5, 1.4, 0.2];
const [a, b, c] = [await inline(X), await shared.run(X), await batched.run(X)];
if (a.join() !== b.join() || a.join() !== c.join()) throw new Error(`the two runtimes disagree: ${a.join()} vs ${b.join()}`);

console.log(`dispatch bench: ${RUNS} runs per point, 64 in flight, node ${process.version}`);
const C = 64;
for (let round = 0; round < Number(values.rounds); round++) {
  for (const [name, run] of [["inline", inline], ["shared", shared.run], ["batched", batched.run]] as const) {
    for (let i = 0; i < 2000 / C; i++) await Promise.all(Array.from({ length: C }, () => run(X))); // warm-up
    const m0 = mainThreadTicks();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < RUNS / C; i++) await Promise.all(Array.from({ length: C }, () => run(X)));
    const wall = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(c0);
    const main = ((mainThreadTicks() - m0) * 10_000) / RUNS; // ticks are 10 ms
    console.log(`${name.padEnd(7)} ${Math.round(RUNS / wall).toString().padStart(6)} runs/s  process CPU ${((cpu.user + cpu.system) / RUNS).toFixed(1).padStart(5)} µs/run  main thread ${main.toFixed(1).padStart(5)} µs/run`);
  }
}
await shared.close();
await batched.close();
await session.release();
