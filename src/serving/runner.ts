/**
 * Runs an ONNX model. Two strategies, chosen per deployment (spec.runtime.mode):
 * - inline (default): one session on the server thread. onnxruntime-node's `run` executes on the
 *   calling thread; for a small model it is the cheapest in total CPU, and on a 2-core machine
 *   that shares its cores with the load total CPU decides throughput (bench/serving.ts). The
 *   inline runner calls the package's native session synchronously (`runSync`, see
 *   ./ort-native.ts): the public `InferenceSession.run` wraps that same call in a promise, a
 *   setImmediate and a copy of the result object — 16 µs a run against 9 µs for the 4×3
 *   classifier, and the allocations behind a third of the garbage collections.
 * - workers: a pool of worker threads, one session each (default size: one less than the cores,
 *   at least one), so the server thread — which also serves the platform's API — never runs a
 *   model. The runs a turn of the event loop starts go to a worker as one message (a burst) and
 *   come back as one: the message cost is paid per burst, not per run (bench/dispatch.ts: ~2 µs
 *   of server-thread time per run, against ~12 µs for an inline run of the 4×3 classifier, but
 *   ~20 µs of CPU in all). A worker that dies fails its runs in flight and is replaced.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import * as ort from "onnxruntime-node";
import { openNativeSession } from "./ort-native.ts";

export type Feeds = Record<string, ort.Tensor>;
export type Outputs = Record<string, ort.Tensor>;

export interface ModelRunner {
  readonly inputs: readonly ort.InferenceSession.ValueMetadata[];
  readonly outputs: readonly ort.InferenceSession.ValueMetadata[];
  run(feeds: Feeds): Promise<Outputs>;
  /** Runs on the calling thread and returns the outputs (throws the model's error); inline runners only. */
  readonly runSync?: (feeds: Feeds) => Outputs;
  close(): Promise<void>;
}

export interface RunnerOptions {
  readonly mode: "inline" | "workers";
  readonly workers?: number;
  readonly intraOpThreads?: number;
}

/** Worker threads of a pool when the deployment does not say: leave a core to the server thread. */
export const defaultPoolSize = (): number => Math.max(1, availableParallelism() - 1);

export async function createRunner(model: Uint8Array, o: RunnerOptions): Promise<ModelRunner> {
  const options = { intraOpNumThreads: o.intraOpThreads ?? 1, interOpNumThreads: 1 };
  if (o.mode === "inline") {
    const native = await openNativeSession(model, options);
    if (native) return native;
  }
  // The public session: the inline fallback when the native one is not reachable, and in workers
  // mode the metadata (which also validates the file before any thread starts).
  const session = await ort.InferenceSession.create(model, options);
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
  return WorkerPool.start(model, o.workers ?? defaultPoolSize(), o.intraOpThreads ?? 1, meta);
}

interface WireTensor {
  readonly type: ort.Tensor.Type;
  readonly data: ort.Tensor.DataType;
  readonly dims: readonly number[];
}
type WireFeeds = Record<string, WireTensor>;
type RunResult = { readonly outputs: Record<string, WireTensor>; readonly error?: undefined } | { readonly error: string; readonly outputs?: undefined };
interface Reply {
  readonly id: number;
  readonly results: readonly RunResult[];
}

interface Run {
  readonly feeds: WireFeeds;
  readonly resolve: (o: Outputs) => void;
  readonly reject: (e: Error) => void;
}

/** One worker thread of a pool, with the runs waiting for its next message and those it is running. */
interface Slot {
  worker: Worker | undefined;
  /** Runs for the next message (sent at the end of this turn, or once the worker is up again). */
  burst: Run[];
  /** Sent bursts by message id. */
  readonly sent: Map<number, Run[]>;
  /** Consecutive failed starts (restart back-off). */
  failures: number;
}

/** Keeps a late 'error' of a worker we no longer listen to from becoming an uncaught exception. */
const ignore = (): void => undefined;

/** Runs sent to a slot's worker or waiting for it. */
function loadOf(s: Slot): number {
  let n = s.burst.length;
  for (const runs of s.sent.values()) n += runs.length;
  return n;
}

/** A typed array that is a view of part of a larger buffer is copied: a message would carry all of it. */
function toWire(t: ort.Tensor): WireTensor {
  const d = t.data;
  const data = ArrayBuffer.isView(d) && d.byteLength !== d.buffer.byteLength ? (d.slice() as ort.Tensor.DataType) : d;
  return { type: t.type, data, dims: t.dims };
}

function fromWire(wire: Record<string, WireTensor>): Outputs {
  const out: Outputs = {};
  for (const [name, t] of Object.entries(wire)) out[name] = new ort.Tensor(t.type as "float32", t.data as Float32Array, t.dims);
  return out;
}

export class WorkerPool implements ModelRunner {
  private readonly slots: Slot[];
  private nextId = 0;
  private flushScheduled = false;
  private closed = false;
  private readonly flush = () => {
    this.flushScheduled = false;
    for (const s of this.slots) if (s.worker && s.burst.length) this.send(s, s.worker);
  };

  private constructor(
    workers: Worker[],
    private readonly model: Uint8Array,
    private readonly intraOpThreads: number,
    readonly inputs: readonly ort.InferenceSession.ValueMetadata[],
    readonly outputs: readonly ort.InferenceSession.ValueMetadata[],
  ) {
    this.slots = workers.map((w) => {
      const s: Slot = { worker: undefined, burst: [], sent: new Map(), failures: 0 };
      this.attach(s, w);
      return s;
    });
  }

  static async start(model: Uint8Array, n: number, intraOpThreads: number, meta: Pick<ModelRunner, "inputs" | "outputs">): Promise<WorkerPool> {
    const started = await Promise.allSettled(Array.from({ length: n }, () => WorkerPool.spawn(model, intraOpThreads)));
    const failed = started.find((r) => r.status === "rejected");
    if (failed) {
      await Promise.all(started.flatMap((r) => (r.status === "fulfilled" ? [r.value.terminate()] : [])));
      throw failed.reason;
    }
    return new WorkerPool(
      started.map((r) => (r as PromiseFulfilledResult<Worker>).value),
      model,
      intraOpThreads,
      meta.inputs,
      meta.outputs,
    );
  }

  /** A worker with its session loaded. */
  private static spawn(model: Uint8Array, intraOpThreads: number): Promise<Worker> {
    const w = new Worker(new URL("./worker.mjs", import.meta.url), { workerData: { model: new Uint8Array(model).buffer, intraOpThreads } });
    return new Promise<Worker>((resolve, reject) => {
      // Only our own listeners are removed: a Worker keeps internal ones (message port ref-counting).
      const off = () => w.off("message", ready).off("error", failed).off("exit", exited).on("error", ignore);
      const ready = () => {
        off();
        resolve(w);
      };
      const failed = (e: unknown) => {
        off();
        reject(e instanceof Error ? e : new Error(String(e)));
      };
      const exited = (code: number) => failed(new Error(`serving worker exited (${code}) while loading the model`));
      w.once("message", ready).once("error", failed).once("exit", exited);
    });
  }

  /** The pool's threads (for tests and diagnostics). */
  get threads(): readonly Worker[] {
    return this.slots.flatMap((s) => (s.worker ? [s.worker] : []));
  }

  private attach(s: Slot, w: Worker): void {
    s.worker = w;
    const reply = (m: Reply) => this.onReply(s, m);
    const lost = (e: Error) => {
      w.off("message", reply).off("error", lost).off("exit", exited);
      this.lost(s, w, e);
    };
    const exited = (code: number) => lost(new Error(`serving worker exited (${code})`));
    w.on("message", reply).on("error", lost).on("exit", exited);
    if (s.burst.length) this.schedule();
  }

  private onReply(s: Slot, m: Reply): void {
    const runs = s.sent.get(m.id);
    if (!runs) return;
    s.sent.delete(m.id);
    runs.forEach((r, i) => {
      const res = m.results[i];
      if (res?.outputs) r.resolve(fromWire(res.outputs));
      else r.reject(new Error(res?.error ?? "the serving worker returned no outputs"));
    });
  }

  /** A worker died: its runs in flight fail (they may have been the cause); the rest wait for a replacement. */
  private lost(s: Slot, w: Worker, e: Error): void {
    if (s.worker !== w) return;
    s.worker = undefined;
    for (const runs of s.sent.values()) for (const r of runs) r.reject(new Error(`model execution failed: ${e.message}`));
    s.sent.clear();
    if (this.closed) return;
    // Queued runs go to a live worker if there is one.
    const live = this.slots.filter((o) => o.worker);
    if (live.length) {
      for (const r of s.burst.splice(0)) this.leastLoaded(live).burst.push(r);
      this.schedule();
    }
    void this.restart(s);
  }

  private async restart(s: Slot): Promise<void> {
    while (!this.closed && !s.worker) {
      if (s.failures > 0) await new Promise((r) => setTimeout(r, Math.min(30_000, 250 * 2 ** (s.failures - 1))).unref?.());
      if (this.closed) return;
      try {
        const w = await WorkerPool.spawn(this.model, this.intraOpThreads);
        if (this.closed) {
          await w.terminate();
          return;
        }
        s.failures = 0;
        this.attach(s, w);
      } catch (e) {
        s.failures++;
        // With no worker alive at all, waiting runs would wait for nothing certain: fail them.
        if (this.slots.every((o) => !o.worker)) this.rejectQueued(s, e instanceof Error ? e : new Error(String(e)));
      }
    }
  }

  private rejectQueued(s: Slot, e: Error): void {
    for (const r of s.burst.splice(0)) r.reject(new Error(`model execution failed: ${e.message}`));
  }

  private leastLoaded(slots: readonly Slot[]): Slot {
    let best = slots[0] as Slot;
    let least = loadOf(best);
    for (const s of slots) {
      const load = loadOf(s);
      if (load < least) [best, least] = [s, load];
    }
    return best;
  }

  private schedule(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(this.flush);
  }

  private send(s: Slot, w: Worker): void {
    const runs = s.burst;
    s.burst = [];
    const id = this.nextId++;
    s.sent.set(id, runs);
    w.postMessage({ id, runs: runs.map((r) => r.feeds) });
  }

  run(feeds: Feeds): Promise<Outputs> {
    if (this.closed) return Promise.reject(new Error("runner closed"));
    const live = this.slots.filter((s) => s.worker);
    const s = this.leastLoaded(live.length ? live : this.slots);
    const wire: WireFeeds = {};
    for (const [name, t] of Object.entries(feeds)) wire[name] = toWire(t);
    return new Promise<Outputs>((resolve, reject) => {
      s.burst.push({ feeds: wire, resolve, reject });
      this.schedule();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const e = new Error("runner closed");
    for (const s of this.slots) {
      this.rejectQueued(s, e);
      for (const runs of s.sent.values()) for (const r of runs) r.reject(e);
      s.sent.clear();
    }
    await Promise.all(this.slots.flatMap((s) => (s.worker ? [s.worker.terminate()] : [])));
  }
}
