/**
 * The subset of onnx.proto (https://github.com/onnx/onnx/blob/main/onnx/onnx.proto) Forja writes:
 * ModelProto → GraphProto → NodeProto / TensorProto / ValueInfoProto. Field numbers are onnx.proto's.
 */
import { ProtoWriter } from "./protobuf.ts";

/** TensorProto.DataType values used here. */
export const OnnxType = { FLOAT: 1, INT64: 7, STRING: 8, DOUBLE: 11 } as const;
export type OnnxType = (typeof OnnxType)[keyof typeof OnnxType];

export type Dim = number | string;

export interface ValueInfo {
  readonly name: string;
  readonly elemType: OnnxType;
  /** Numbers are fixed sizes, strings symbolic (variable) dimensions such as "batch". */
  readonly shape: readonly Dim[];
}

export type Attribute =
  | { readonly name: string; readonly int: number }
  | { readonly name: string; readonly float: number }
  | { readonly name: string; readonly ints: readonly number[] };

export interface Node {
  readonly opType: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly name?: string;
  readonly attributes?: readonly Attribute[];
}

export type Initializer =
  | { readonly name: string; readonly dims: readonly number[]; readonly float: Float32Array }
  | { readonly name: string; readonly dims: readonly number[]; readonly int64: readonly bigint[] }
  | { readonly name: string; readonly dims: readonly number[]; readonly strings: readonly string[] };

export interface Graph {
  readonly name: string;
  readonly nodes: readonly Node[];
  readonly initializers: readonly Initializer[];
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
  readonly docString?: string;
}

export interface Model {
  readonly graph: Graph;
  readonly irVersion: number;
  readonly opset: number;
  readonly producerName: string;
  readonly producerVersion: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

// AttributeProto.AttributeType
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_INTS = 7;

function valueInfo(w: ProtoWriter, v: ValueInfo): void {
  w.string(1, v.name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.int(1, v.elemType);
      tensor.message(2, (shape) => {
        for (const d of v.shape) shape.message(1, (dim) => (typeof d === "number" ? dim.int(1, d) : dim.string(2, d)));
      });
    }),
  );
}

function node(w: ProtoWriter, n: Node): void {
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  if (n.name) w.string(3, n.name);
  w.string(4, n.opType);
  for (const a of n.attributes ?? []) {
    w.message(5, (attr) => {
      attr.string(1, a.name);
      if ("int" in a) attr.int(3, a.int).int(20, ATTR_INT);
      else if ("float" in a) attr.float(2, a.float).int(20, ATTR_FLOAT);
      else attr.packedInts(8, a.ints).int(20, ATTR_INTS);
    });
  }
}

function initializer(w: ProtoWriter, t: Initializer): void {
  if (t.dims.length) w.packedInts(1, t.dims);
  if ("float" in t) {
    w.int(2, OnnxType.FLOAT);
    w.string(8, t.name);
    const raw = new Uint8Array(t.float.length * 4);
    const view = new DataView(raw.buffer);
    t.float.forEach((x, i) => view.setFloat32(i * 4, x, true));
    w.bytes(9, raw);
  } else if ("int64" in t) {
    w.int(2, OnnxType.INT64);
    w.string(8, t.name);
    const raw = new Uint8Array(t.int64.length * 8);
    const view = new DataView(raw.buffer);
    t.int64.forEach((x, i) => view.setBigInt64(i * 8, x, true));
    w.bytes(9, raw);
  } else {
    w.int(2, OnnxType.STRING);
    const enc = new TextEncoder();
    for (const s of t.strings) w.bytes(6, enc.encode(s));
    w.string(8, t.name);
  }
}

/** Serialises a ModelProto. */
export function encodeModel(m: Model): Uint8Array {
  const w = new ProtoWriter();
  w.int(1, m.irVersion);
  w.string(2, m.producerName);
  w.string(3, m.producerVersion);
  w.message(7, (g) => {
    for (const n of m.graph.nodes) g.message(1, (x) => node(x, n));
    g.string(2, m.graph.name);
    for (const t of m.graph.initializers) g.message(5, (x) => initializer(x, t));
    if (m.graph.docString) g.string(10, m.graph.docString);
    for (const v of m.graph.inputs) g.message(11, (x) => valueInfo(x, v));
    for (const v of m.graph.outputs) g.message(12, (x) => valueInfo(x, v));
  });
  w.message(8, (o) => o.string(1, "").int(2, m.opset));
  for (const [key, value] of Object.entries(m.metadata ?? {})) w.message(14, (e) => e.string(1, key).string(2, value));
  return w.finish();
}
