/**
 * Tensors on the wire (Open Inference Protocol v2, JSON and the binary extension) ⇄ onnxruntime
 * tensors. Validation is planned once per loaded model (`InputPlan`) so a request only walks its
 * data once, writing straight into the typed array it hands to onnxruntime.
 */
import * as ort from "onnxruntime-node";

export class ServingError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}
export const badRequest = (message: string) => new ServingError(400, message);

/** OIP datatypes and their onnxruntime tensor types. */
const OIP_TO_ORT = {
  BOOL: "bool",
  UINT8: "uint8",
  UINT16: "uint16",
  UINT32: "uint32",
  UINT64: "uint64",
  INT8: "int8",
  INT16: "int16",
  INT32: "int32",
  INT64: "int64",
  FP16: "float16",
  FP32: "float32",
  FP64: "float64",
  BYTES: "string",
} as const satisfies Record<string, ort.Tensor.Type>;
export type Datatype = keyof typeof OIP_TO_ORT;
const ORT_TO_OIP = new Map<string, Datatype>(Object.entries(OIP_TO_ORT).map(([k, v]) => [v, k as Datatype]));

export function datatypeOf(type: string): Datatype | undefined {
  return ORT_TO_OIP.get(type);
}

type NumericArray = Float32Array | Float64Array | Int8Array | Int16Array | Int32Array | Uint8Array | Uint16Array | Uint32Array;
type AnyArray = NumericArray | BigInt64Array | BigUint64Array | string[];

const BYTES_PER: Partial<Record<Datatype, number>> = {
  BOOL: 1, UINT8: 1, UINT16: 2, UINT32: 4, UINT64: 8, INT8: 1, INT16: 2, INT32: 4, INT64: 8, FP16: 2, FP32: 4, FP64: 8,
};

const INT_RANGE: Partial<Record<Datatype, [number, number]>> = {
  UINT8: [0, 255], UINT16: [0, 65535], UINT32: [0, 4294967295], INT8: [-128, 127], INT16: [-32768, 32767], INT32: [-2147483648, 2147483647],
  INT64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER], UINT64: [0, Number.MAX_SAFE_INTEGER],
};

function allocate(dt: Datatype, n: number): AnyArray {
  switch (dt) {
    case "FP32": return new Float32Array(n);
    case "FP64": return new Float64Array(n);
    case "INT8": return new Int8Array(n);
    case "INT16": return new Int16Array(n);
    case "INT32": return new Int32Array(n);
    case "INT64": return new BigInt64Array(n);
    case "UINT8": case "BOOL": return new Uint8Array(n);
    case "UINT16": case "FP16": return new Uint16Array(n);
    case "UINT32": return new Uint32Array(n);
    case "UINT64": return new BigUint64Array(n);
    case "BYTES": return new Array<string>(n);
  }
}

/** A tensor's metadata as OIP shows it: -1 for a variable dimension. */
export interface TensorMeta {
  readonly name: string;
  readonly datatype: Datatype;
  readonly shape: readonly number[];
}

export function tensorMetaOf(m: ort.InferenceSession.ValueMetadata): TensorMeta {
  if (!m.isTensor) throw new Error(`'${m.name}' is not a tensor (maps and sequences are not served)`);
  const datatype = datatypeOf(m.type);
  if (!datatype) throw new Error(`'${m.name}' has the unsupported element type ${m.type}`);
  return { name: m.name, datatype, shape: m.shape.map((d) => (typeof d === "number" && d >= 0 ? d : -1)) };
}

const fmtShape = (s: readonly number[]) => `[${s.join(",")}]`;

/** One model input's checks, computed at load. */
export class InputPlan {
  readonly ortType: ort.Tensor.Type;
  readonly batchable: boolean;
  constructor(readonly meta: TensorMeta) {
    this.ortType = OIP_TO_ORT[meta.datatype];
    this.batchable = meta.shape.length > 0 && meta.shape[0] === -1;
  }

  /** Checks a request's declared shape; returns the element count. */
  checkShape(shape: unknown, where: string): number {
    const model = this.meta.shape;
    if (!Array.isArray(shape)) throw badRequest(`${where}: 'shape' must be an array of non-negative integers`);
    if (shape.length !== model.length) {
      throw badRequest(`${where}: shape ${fmtShape(shape as number[])} has ${shape.length} dimensions; the model expects ${model.length}: ${fmtShape(model)}`);
    }
    let n = 1;
    for (let i = 0; i < shape.length; i++) {
      const d = shape[i] as unknown;
      if (typeof d !== "number" || !Number.isInteger(d) || d < 0) throw badRequest(`${where}: shape[${i}] must be a non-negative integer, got ${JSON.stringify(d)}`);
      const m = model[i] as number;
      if (m !== -1 && d !== m) throw badRequest(`${where}: shape ${fmtShape(shape as number[])} does not match the model's ${fmtShape(model)} (dimension ${i} must be ${m})`);
      n *= d;
    }
    return n;
  }

  /** Flattens (possibly nested) JSON data into a typed array of exactly `n` elements. */
  fromJson(data: unknown, n: number, where: string): AnyArray {
    if (!Array.isArray(data)) throw badRequest(`${where}: 'data' must be an array`);
    const dt = this.meta.datatype;
    if ((dt === "FP32" || dt === "FP64") && data.length === n) {
      // The common case, a flat array of numbers, copied as it is read; anything else, errors
      // included, takes the general path below.
      const f = dt === "FP32" ? new Float32Array(n) : new Float64Array(n);
      let i = 0;
      for (; i < n; i++) {
        const v: unknown = data[i];
        if (typeof v !== "number") break;
        f[i] = v;
      }
      if (i === n) return f;
    }
    // The values are gathered before anything of the shape's size is allocated, so a shape the
    // data does not fill is refused as such (however large it claims to be), and without
    // recursion: the data may nest as deep as the model's rank, no deeper.
    const values = this.valuesOf(data, n, where);
    if (values.length !== n) throw badRequest(`${where}: shape needs ${n} values, data has ${values.length}`);
    const out = allocate(dt, n);
    const bad = (at: number, what: string) => badRequest(`${where}: data[${at}] must be ${what} for datatype ${dt}, got ${JSON.stringify(values[at])?.slice(0, 40)}`);
    for (let at = 0; at < n; at++) {
      const v = values[at];
      switch (dt) {
        case "FP32":
        case "FP64":
          if (typeof v !== "number") throw bad(at, "a number");
          (out as Float32Array)[at] = v;
          break;
        case "BOOL":
          if (typeof v !== "boolean") throw bad(at, "true or false");
          (out as Uint8Array)[at] = v ? 1 : 0;
          break;
        case "BYTES":
          if (typeof v !== "string") throw bad(at, "a string");
          (out as string[])[at] = v;
          break;
        case "FP16":
          throw badRequest(`${where}: FP16 cannot be sent as JSON; use the binary tensor extension`);
        case "INT64":
        case "UINT64": {
          const [lo, hi] = INT_RANGE[dt] as [number, number];
          if (typeof v !== "number" || !Number.isInteger(v) || v < lo || v > hi) throw bad(at, "an integer");
          (out as BigInt64Array)[at] = BigInt(v);
          break;
        }
        case "INT8":
        case "INT16":
        case "INT32":
        case "UINT8":
        case "UINT16":
        case "UINT32": {
          const [lo, hi] = INT_RANGE[dt] as [number, number];
          if (typeof v !== "number" || !Number.isInteger(v) || v < lo || v > hi) throw bad(at, `an integer in [${lo}, ${hi}]`);
          (out as Int32Array)[at] = v;
        }
      }
    }
    return out;
  }

  /**
   * The leaf values of `data` in order (arrays flattened), at most n + 1 of them: one more than
   * the shape needs is enough to refuse it. Nesting deeper than the model's rank is refused.
   */
  private valuesOf(data: readonly unknown[], n: number, where: string): unknown[] {
    const maxDepth = Math.max(1, this.meta.shape.length);
    const values: unknown[] = [];
    const stack: { arr: readonly unknown[]; i: number }[] = [{ arr: data, i: 0 }];
    while (stack.length) {
      const top = stack[stack.length - 1] as { arr: readonly unknown[]; i: number };
      if (top.i === top.arr.length) {
        stack.pop();
        continue;
      }
      const v = top.arr[top.i++];
      if (Array.isArray(v)) {
        if (stack.length >= maxDepth) throw badRequest(`${where}: data is nested deeper than the model's ${maxDepth} dimension${maxDepth > 1 ? "s" : ""}`);
        stack.push({ arr: v, i: 0 });
        continue;
      }
      if (values.length === n) throw badRequest(`${where}: data has more than the ${n} values shape needs`);
      values.push(v);
    }
    return values;
  }

  /** Reads `size` bytes of raw little-endian tensor data (binary extension). */
  fromBinary(buf: Buffer, offset: number, size: number, n: number, where: string): AnyArray {
    const dt = this.meta.datatype;
    if (dt === "BYTES") {
      const out: string[] = [];
      let at = offset;
      const end = offset + size;
      while (at < end) {
        if (at + 4 > end) throw badRequest(`${where}: truncated BYTES element length`);
        const len = buf.readUInt32LE(at);
        at += 4;
        if (at + len > end) throw badRequest(`${where}: BYTES element longer than the binary data`);
        out.push(buf.toString("utf8", at, at + len));
        at += len;
      }
      if (out.length !== n) throw badRequest(`${where}: shape needs ${n} values, binary data has ${out.length}`);
      return out;
    }
    const per = BYTES_PER[dt] as number;
    if (size !== n * per) throw badRequest(`${where}: binary_data_size is ${size} bytes; shape and datatype ${dt} need ${n * per}`);
    const copy = new Uint8Array(size);
    copy.set(buf.subarray(offset, offset + size));
    const ab = copy.buffer;
    switch (dt) {
      case "FP32": return new Float32Array(ab);
      case "FP64": return new Float64Array(ab);
      case "INT8": return new Int8Array(ab);
      case "INT16": return new Int16Array(ab);
      case "INT32": return new Int32Array(ab);
      case "INT64": return new BigInt64Array(ab);
      case "UINT8": case "BOOL": return copy;
      case "UINT16": case "FP16": return new Uint16Array(ab);
      case "UINT32": return new Uint32Array(ab);
      case "UINT64": return new BigUint64Array(ab);
    }
  }

  tensor(data: AnyArray, shape: readonly number[]): ort.Tensor {
    if (this.meta.datatype === "BOOL") return new ort.Tensor("bool", data as Uint8Array, shape);
    return new ort.Tensor(this.ortType as "float32", data as Float32Array, shape);
  }
}

/** Output tensor → JSON-able data (INT64 as numbers; beyond 2^53 precision is lost, use binary). */
export function toJsonData(t: ort.Tensor): unknown[] {
  const d = t.data;
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) {
    const out = new Array<number>(d.length);
    for (let i = 0; i < d.length; i++) out[i] = Number(d[i]);
    return out;
  }
  if (t.type === "bool") return Array.from(d as Uint8Array, (x) => x !== 0);
  if (Array.isArray(d)) return d;
  return Array.from(d);
}

/**
 * `JSON.stringify(toJsonData(t))`, written straight from the typed array: the response path
 * would otherwise build an array of boxed numbers per output only to stringify it.
 */
export function jsonDataText(t: ort.Tensor): string {
  const d = t.data;
  if (Array.isArray(d) || t.type === "bool") return JSON.stringify(toJsonData(t));
  const big = d instanceof BigInt64Array || d instanceof BigUint64Array;
  let out = "[";
  for (let i = 0; i < d.length; i++) {
    const x = big ? Number(d[i]) : (d[i] as number);
    // JSON.stringify writes a finite number as String does, anything else as null.
    out += (i ? "," : "") + (Number.isFinite(x) ? String(x) : "null");
  }
  return out + "]";
}

/** Output tensor → its raw little-endian bytes (binary extension). */
export function toBinaryData(t: ort.Tensor): Buffer {
  const d = t.data;
  if (Array.isArray(d)) {
    const parts: Buffer[] = [];
    for (const s of d) {
      const b = Buffer.from(s, "utf8");
      const len = Buffer.alloc(4);
      len.writeUInt32LE(b.length);
      parts.push(len, b);
    }
    return Buffer.concat(parts);
  }
  return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
}

/** Concatenates tensors along dimension 0 (batching). All share dims 1.. and type. */
export function concat0(tensors: readonly ort.Tensor[]): ort.Tensor {
  const first = tensors[0] as ort.Tensor;
  const rows = tensors.reduce((s, t) => s + (t.dims[0] ?? 0), 0);
  const dims = [rows, ...first.dims.slice(1)];
  if (first.type === "string") return new ort.Tensor("string", tensors.flatMap((t) => t.data as string[]), dims);
  const total = tensors.reduce((s, t) => s + (t.data as NumericArray).length, 0);
  const Ctor = (first.data as NumericArray).constructor as new (n: number) => NumericArray;
  const out = new Ctor(total);
  let at = 0;
  for (const t of tensors) {
    out.set(t.data as NumericArray & ArrayLike<number>, at);
    at += (t.data as NumericArray).length;
  }
  return new ort.Tensor(first.type as "float32", out as Float32Array, dims);
}

/** Rows [start, start + count) of a tensor batched along dimension 0. */
export function slice0(t: ort.Tensor, start: number, count: number): ort.Tensor {
  const rows = t.dims[0] ?? 0;
  const per = rows === 0 ? 0 : t.size / rows;
  const dims = [count, ...t.dims.slice(1)];
  const data = t.data;
  const part = Array.isArray(data) ? data.slice(start * per, (start + count) * per) : (data as Float32Array).slice(start * per, (start + count) * per);
  return new ort.Tensor(t.type as "float32", part as Float32Array, dims);
}
