/**
 * onnxruntime-node's native session, called directly and synchronously (the inline runner).
 *
 * The package's public `InferenceSession.run` is a thin layer over a synchronous native call: it
 * checks its arguments, schedules the call with setImmediate, wraps it in a promise and copies
 * the result into a new object. For the small models this platform mostly serves, that layer
 * costs more than the model: 16 µs a run against 9 µs for the 4×3 classifier of
 * bench/serving.ts, plus the allocations behind a third of the young-generation collections of
 * the serving thread. The data plane validates every input against the model's metadata before
 * it runs a model, so the checks it skips are already made; what it gains is that a request is
 * answered in the same turn of the event loop it was read in (ADR 0013).
 *
 * The native binding is not a documented entry point of the package (`dist/binding.js`). When it
 * is missing or has another shape (a future release), `openNativeSession` returns undefined and
 * the runner uses the public API: slower, never broken. runner.test.ts checks that the installed
 * release takes the fast path and that both paths give the same outputs.
 */
import { createRequire } from "node:module";
import type * as ort from "onnxruntime-node";
import type { Feeds, ModelRunner, Outputs } from "./runner.ts";

/** The parts of the binding used here (onnxruntime-node/dist/binding.d.ts). */
interface RawMetadata {
  readonly name: string;
  readonly isTensor: boolean;
  readonly symbolicDimensions: readonly string[];
  readonly shape: readonly number[];
  readonly type: number;
}
interface NativeSession {
  loadModel(buffer: ArrayBufferLike, byteOffset: number, byteLength: number, options: ort.InferenceSession.SessionOptions): void;
  readonly inputMetadata: readonly RawMetadata[];
  readonly outputMetadata: readonly RawMetadata[];
  run(feeds: Feeds, fetches: Record<string, null>, options: ort.InferenceSession.RunOptions): Outputs;
  dispose(): void;
}
interface BindingModule {
  readonly binding: { readonly InferenceSession: new () => NativeSession };
  readonly initOrt: () => void;
}

/** ONNX TensorProto.DataType codes → onnxruntime-common's tensor type names. */
const TYPES: Readonly<Record<number, ort.Tensor.Type>> = {
  1: "float32",
  2: "uint8",
  3: "int8",
  4: "uint16",
  5: "int16",
  6: "int32",
  7: "int64",
  8: "string",
  9: "bool",
  10: "float16",
  11: "float64",
  12: "uint32",
  13: "uint64",
  21: "uint4",
  22: "int4",
};

let cached: BindingModule | null | undefined;

/** The package's native binding, or null when this release does not have the expected one. */
export function nativeBinding(): BindingModule | null {
  if (cached !== undefined) return cached;
  try {
    const m = createRequire(import.meta.url)("onnxruntime-node/dist/binding.js") as Partial<BindingModule>;
    cached = typeof m.initOrt === "function" && typeof m.binding?.InferenceSession === "function" ? (m as BindingModule) : null;
  } catch {
    cached = null;
  }
  return cached;
}

/** The public API's metadata shape: symbolic dimensions by name, the type by name. */
function toMetadata(m: RawMetadata): ort.InferenceSession.ValueMetadata {
  if (!m.isTensor) return { name: m.name, isTensor: false };
  const type = TYPES[m.type];
  if (type === undefined) throw new Error(`${m.name}: unsupported tensor data type ${m.type}`);
  const shape = m.shape.map((d, i) => (d === -1 ? (m.symbolicDimensions[i] ?? "") : d));
  return { name: m.name, isTensor: true, type, shape };
}

/**
 * A session on the calling thread, or undefined when the native binding is not available. Throws
 * what onnxruntime throws for a model it cannot load.
 */
export async function openNativeSession(model: Uint8Array, options: ort.InferenceSession.SessionOptions): Promise<(ModelRunner & { readonly runSync: (feeds: Feeds) => Outputs }) | undefined> {
  const b = nativeBinding();
  if (!b) return undefined;
  // Loading blocks the thread, as it does through the public API; yield first so the caller's
  // turn of the event loop (a reconcile, a request) is not held up by it.
  await new Promise<void>((resolve) => setImmediate(resolve));
  b.initOrt();
  const session = new b.binding.InferenceSession();
  session.loadModel(model.buffer, model.byteOffset, model.byteLength, options);
  let inputs: ort.InferenceSession.ValueMetadata[];
  let outputs: ort.InferenceSession.ValueMetadata[];
  try {
    inputs = session.inputMetadata.map(toMetadata);
    outputs = session.outputMetadata.map(toMetadata);
  } catch (e) {
    session.dispose();
    throw e;
  }
  const fetches: Record<string, null> = Object.fromEntries(outputs.map((o) => [o.name, null]));
  const noOptions = {};
  let closed = false;
  const runSync = (feeds: Feeds): Outputs => {
    if (closed) throw new Error("runner closed");
    return session.run(feeds, fetches, noOptions);
  };
  return {
    inputs,
    outputs,
    runSync,
    run: (feeds) => {
      try {
        return Promise.resolve(runSync(feeds));
      } catch (e) {
        return Promise.reject(e instanceof Error ? e : new Error(String(e)));
      }
    },
    close: () => {
      if (!closed) {
        closed = true;
        session.dispose();
      }
      return Promise.resolve();
    },
  };
}
