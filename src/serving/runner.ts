/**
 * Runs an ONNX model. Two strategies, chosen per deployment (spec.runtime.mode):
 * - inline: one onnxruntime session on the server thread. onnxruntime-node's `run` executes on
 *   the calling thread, so this costs event-loop time, but for small models it is the fastest
 *   (bench/serving.ts: ~25k runs/s inline vs ~19k through two workers for the 4×3 classifier).
 * - workers: a pool of worker threads, one session each (default size: available parallelism);
 *   the server thread stays free while big models compute.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import * as ort from "onnxruntime-node";

export type Feeds = Record<string, ort.Tensor>;
export type Outputs = Record<string, ort.Tensor>;

export interface ModelRunner {
  readonly inputs: readonly ort.InferenceSession.ValueMetadata[];
  readonly outputs: readonly ort.InferenceSession.ValueMetadata[];
  run(feeds: Feeds): Promise<Outputs>;
  close(): Promise<void>;
}

export interface RunnerOptions {
  readonly mode: "inline" | "workers";
  readonly workers?: number;
  readonly intraOpThreads?: number;
}

export async function createRunner(model: Uint8Array, o: RunnerOptions): Promise<ModelRunner> {
  // The inline session also answers metadata in workers mode (and validates the file first).
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: o.intraOpThreads ?? 1, interOpNumThreads: 1 });
  if (o.mode === "inline") {
    return {
      inputs: session.inputMetadata,
      outputs: session.outputMetadata,
      run: (feeds) => session.run(feeds),
      close: () => session.release(),
    };
  }
  const meta = { inputs: session.inputMetadata, outputs: session.outputMetadata };
  await session.release();
  return WorkerPool.start(model, o.workers ?? availableParallelism(), o.intraOpThreads ?? 1, meta);
}

interface WireTensor {
  type: ort.Tensor.Type;
  data: ort.Tensor.DataType;
  dims: readonly number[];
}
type Reply = { id: number; outputs?: Record<string, WireTensor>; error?: string; ready?: boolean };

class WorkerPool implements ModelRunner {
  private readonly pending = new Map<number, { resolve: (o: Outputs) => void; reject: (e: Error) => void }>();
  private readonly load: number[];
  private nextId = 0;
  private closed = false;

  private constructor(
    private readonly workers: Worker[],
    readonly inputs: readonly ort.InferenceSession.ValueMetadata[],
    readonly outputs: readonly ort.InferenceSession.ValueMetadata[],
  ) {
    this.load = workers.map(() => 0);
    workers.forEach((w, i) => {
      w.on("message", (m: Reply) => this.onReply(i, m));
      w.on("error", (e) => this.failAll(e));
      w.on("exit", () => {
        if (!this.closed) this.failAll(new Error("a serving worker exited"));
        this.closed = true;
      });
    });
  }

  static async start(model: Uint8Array, n: number, intraOpThreads: number, meta: Pick<ModelRunner, "inputs" | "outputs">): Promise<WorkerPool> {
    const url = new URL("./worker.mjs", import.meta.url);
    const workers = await Promise.all(
      Array.from({ length: n }, () => {
        const w = new Worker(url, { workerData: { model: new Uint8Array(model).buffer, intraOpThreads } });
        return new Promise<Worker>((resolve, reject) => {
          w.once("message", () => resolve(w));
          w.once("error", reject);
          w.once("exit", (code) => reject(new Error(`serving worker exited (${code}) while loading`)));
        });
      }),
    );
    for (const w of workers) w.removeAllListeners("exit").removeAllListeners("error");
    return new WorkerPool(workers, meta.inputs, meta.outputs);
  }

  private onReply(worker: number, m: Reply): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    this.load[worker] = (this.load[worker] ?? 1) - 1;
    if (m.error !== undefined || !m.outputs) return p.reject(new Error(m.error ?? "no outputs"));
    const out: Outputs = {};
    for (const [name, t] of Object.entries(m.outputs)) out[name] = new ort.Tensor(t.type as "float32", t.data as Float32Array, t.dims);
    p.resolve(out);
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  run(feeds: Feeds): Promise<Outputs> {
    if (this.closed) return Promise.reject(new Error("runner closed"));
    // Least-loaded worker.
    let best = 0;
    for (let i = 1; i < this.load.length; i++) if ((this.load[i] ?? 0) < (this.load[best] ?? 0)) best = i;
    this.load[best] = (this.load[best] ?? 0) + 1;
    const id = this.nextId++;
    const wire: Record<string, WireTensor> = {};
    for (const [name, t] of Object.entries(feeds)) wire[name] = { type: t.type, data: t.data, dims: t.dims };
    return new Promise<Outputs>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      (this.workers[best] as Worker).postMessage({ id, feeds: wire });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.failAll(new Error("runner closed"));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
