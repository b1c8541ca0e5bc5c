/**
 * The OIP v2 inference request → feeds → response, for one loaded version. JSON tensors and the
 * binary tensor data extension (Inference-Header-Content-Length). Every error is a 400 naming
 * the input and what is wrong with it.
 */
import type * as ort from "onnxruntime-node";
import type { LoadedVersion } from "./engine.ts";
import type { Feeds, Outputs } from "./runner.ts";
import { badRequest, jsonDataText, toBinaryData, toJsonData, type TensorMeta } from "./tensors.ts";

interface RequestedOutput {
  readonly name: string;
  readonly binary: boolean;
}

export interface ParsedRequest {
  readonly id?: string;
  readonly feeds: Feeds;
  /** undefined: all outputs, as JSON unless binary_data_output. */
  readonly outputs?: readonly RequestedOutput[];
  readonly binaryOutput: boolean;
}

const NO_BYTES = Buffer.alloc(0);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Splits the body into its JSON header and binary section. */
export function parseBody(body: Buffer | undefined, headerLength: string | string[] | undefined): { json: unknown; binary?: Buffer; binaryStart: number } {
  if (!body || body.length === 0) throw badRequest("request body is empty: send an inference request as JSON");
  let end = body.length;
  if (headerLength !== undefined) {
    const n = Number(Array.isArray(headerLength) ? headerLength[0] : headerLength);
    if (!Number.isInteger(n) || n <= 0 || n > body.length) {
      throw badRequest(`Inference-Header-Content-Length must be an integer between 1 and the body size (${body.length}), got ${JSON.stringify(headerLength)}`);
    }
    end = n;
  }
  let json: unknown;
  try {
    json = JSON.parse(body.toString("utf8", 0, end));
  } catch (e) {
    throw badRequest(`request body is not valid JSON: ${(e as Error).message}`);
  }
  return end < body.length ? { json, binary: body, binaryStart: end } : { json, binaryStart: end };
}

export function parseInferRequest(v: LoadedVersion, body: { json: unknown; binary?: Buffer; binaryStart: number }): ParsedRequest {
  const req = body.json;
  if (!isObject(req)) throw badRequest("request body must be a JSON object with 'inputs'");
  const inputs = req.inputs;
  if (!Array.isArray(inputs) || inputs.length === 0) throw badRequest("'inputs' must be a non-empty array of tensors {name, shape, datatype, data}");
  const id = req.id;
  if (id !== undefined && typeof id !== "string") throw badRequest("'id' must be a string");
  const feeds: Feeds = {};
  let offset = body.binaryStart;
  for (let i = 0; i < inputs.length; i++) {
    const t: unknown = inputs[i];
    if (!isObject(t)) throw badRequest(`inputs[${i}] must be an object {name, shape, datatype, data}`);
    const name = t.name;
    if (typeof name !== "string") throw badRequest(`inputs[${i}].name must be a string`);
    const plan = v.inputsByName.get(name);
    const where = `input '${name}'`;
    if (!plan) throw badRequest(`unknown input '${name}'; the model's inputs are: ${v.inputs.map((p) => p.meta.name).join(", ")}`);
    if (feeds[name]) throw badRequest(`${where} is given twice`);
    if (t.datatype !== plan.meta.datatype) {
      throw badRequest(`${where}: datatype ${JSON.stringify(t.datatype)} does not match the model's ${plan.meta.datatype}`);
    }
    const n = plan.checkShape(t.shape, where);
    const params = t.parameters;
    const binarySize = isObject(params) ? params.binary_data_size : undefined;
    let data;
    if (binarySize !== undefined) {
      if (typeof binarySize !== "number" || !Number.isInteger(binarySize) || binarySize < 0) throw badRequest(`${where}: parameters.binary_data_size must be a non-negative integer`);
      // No binary section (the JSON is the whole body) still holds tensors of zero bytes.
      const binary = body.binary ?? NO_BYTES;
      if (offset + binarySize > (body.binary ? binary.length : body.binaryStart)) {
        throw badRequest(`${where}: binary_data_size ${binarySize} goes past the end of the body (send Inference-Header-Content-Length and the tensor bytes after the JSON)`);
      }
      if (t.data !== undefined) throw badRequest(`${where}: has both 'data' and binary_data_size`);
      data = plan.fromBinary(binary, offset, binarySize, n, where);
      offset += binarySize;
    } else {
      if (t.data === undefined) throw badRequest(`${where}: 'data' is required`);
      data = plan.fromJson(t.data, n, where);
    }
    feeds[name] = plan.tensor(data, t.shape as number[]);
  }
  if (body.binary && offset !== body.binary.length) throw badRequest(`the body has ${body.binary.length - offset} bytes of binary data no input claims`);
  if (inputs.length !== v.inputs.length) {
    const missing = v.inputs.filter((p) => !feeds[p.meta.name]).map((p) => p.meta.name);
    throw badRequest(`missing input${missing.length > 1 ? "s" : ""} ${missing.map((m) => `'${m}'`).join(", ")}`);
  }
  if (v.inputs.length > 1) {
    const batchDims = v.inputs.filter((p) => p.batchable).map((p) => feeds[p.meta.name]?.dims[0]);
    if (batchDims.some((d) => d !== batchDims[0])) throw badRequest(`inputs disagree on the batch size (first dimension): ${batchDims.join(" vs ")}`);
  }

  const binaryOutput = isObject(req.parameters) && req.parameters.binary_data_output === true;
  let outputs: RequestedOutput[] | undefined;
  if (req.outputs !== undefined) {
    if (!Array.isArray(req.outputs)) throw badRequest("'outputs' must be an array of {name}");
    outputs = req.outputs.map((o: unknown, i) => {
      if (!isObject(o) || typeof o.name !== "string") throw badRequest(`outputs[${i}] must be an object with a string 'name'`);
      if (!v.outputNames.has(o.name)) throw badRequest(`unknown output '${o.name}'; the model's outputs are: ${v.outputs.map((m) => m.name).join(", ")}`);
      const p = o.parameters;
      return { name: o.name, binary: binaryOutput || (isObject(p) && p.binary_data === true) };
    });
  }
  // Built field by field: the spread form allocates its temporary objects on every request.
  const parsed: { id?: string; feeds: Feeds; outputs?: readonly RequestedOutput[]; binaryOutput: boolean } = { feeds, binaryOutput };
  if (id !== undefined) parsed.id = id;
  if (outputs) parsed.outputs = outputs;
  return parsed;
}

export interface Encoded {
  readonly body: string | Buffer;
  readonly headerLength?: number;
}

/** Per version (of one deployment): the constant JSON text around each response's tensors. */
interface JsonFragments {
  /** `{"model_name":…,"model_version":…,` */
  readonly head: string;
  /** Output name → `{"name":…,"datatype":…,"shape":` */
  readonly outputs: ReadonlyMap<string, string>;
}
const fragments = new WeakMap<LoadedVersion, JsonFragments>();

function fragmentsOf(deployment: string, v: LoadedVersion): JsonFragments {
  let f = fragments.get(v);
  if (f === undefined) {
    const head = JSON.stringify({ model_name: deployment, model_version: v.versionLabel }).slice(0, -1) + ",";
    const outputs = new Map(v.outputs.map((o) => [o.name, JSON.stringify({ name: o.name, datatype: o.datatype }).slice(0, -1) + ',"shape":']));
    f = { head, outputs };
    fragments.set(v, f);
  }
  return f;
}

export function encodeResponse(deployment: string, v: LoadedVersion, req: ParsedRequest, out: Outputs): Encoded {
  if (req.outputs === undefined && !req.binaryOutput) {
    // The common case, all outputs as JSON: the constant parts are cached text, the same bytes
    // JSON.stringify gives for the object built below (a third of the cost).
    const f = fragmentsOf(deployment, v);
    let body = req.id !== undefined ? `${f.head}"id":${JSON.stringify(req.id)},"outputs":[` : `${f.head}"outputs":[`;
    for (let i = 0; i < v.outputs.length; i++) {
      const name = (v.outputs[i] as TensorMeta).name;
      const t = out[name] as ort.Tensor;
      body += `${i ? "," : ""}${f.outputs.get(name) ?? ""}${JSON.stringify(t.dims)},"data":${jsonDataText(t)}}`;
    }
    return { body: `${body}]}` };
  }
  const wanted = req.outputs ?? v.outputs.map((o) => ({ name: o.name, binary: req.binaryOutput }));
  const tensors: object[] = [];
  const binary: Buffer[] = [];
  for (const w of wanted) {
    const t = out[w.name] as ort.Tensor;
    const meta = v.outputs.find((o) => o.name === w.name);
    const datatype = meta?.datatype ?? "FP32";
    if (w.binary) {
      const b = toBinaryData(t);
      binary.push(b);
      tensors.push({ name: w.name, datatype, shape: t.dims, parameters: { binary_data_size: b.length } });
    } else tensors.push({ name: w.name, datatype, shape: t.dims, data: toJsonData(t) });
  }
  const head = JSON.stringify({ model_name: deployment, model_version: v.versionLabel, ...(req.id !== undefined ? { id: req.id } : {}), outputs: tensors });
  if (!binary.length) return { body: head };
  const h = Buffer.from(head, "utf8");
  return { body: Buffer.concat([h, ...binary]), headerLength: h.length };
}

/**
 * V1 `:predict`: `{"instances": [...]}` (rows for a single-input model, or objects keyed by
 * input name) or `{"inputs": ...}` → feeds stacked along dimension 0.
 */
export function parseV1Request(v: LoadedVersion, json: unknown): { feeds: Feeds; rows: number } {
  if (!isObject(json)) throw badRequest("request body must be a JSON object with 'instances' (or 'inputs')");
  const instances = json.instances ?? json.inputs;
  if (!Array.isArray(instances) || instances.length === 0) throw badRequest("'instances' must be a non-empty array");
  const feeds: Feeds = {};
  for (const plan of v.inputs) {
    const name = plan.meta.name;
    const values = instances.map((inst: unknown, i) => {
      if (v.inputs.length === 1 && !isObject(inst)) return inst;
      if (!isObject(inst)) throw badRequest(`instances[${i}] must be an object keyed by input name (${v.inputs.map((p) => p.meta.name).join(", ")})`);
      if (!(name in inst)) throw badRequest(`instances[${i}] is missing input '${name}'`);
      return inst[name];
    });
    const rowShape = inferShape(values[0]);
    const shape = [values.length, ...rowShape];
    const n = plan.checkShape(shape, `input '${name}' (instances stacked: shape [${shape.join(",")}])`);
    feeds[name] = plan.tensor(plan.fromJson(values, n, `input '${name}'`), shape);
  }
  return { feeds, rows: instances.length };
}

function inferShape(x: unknown): number[] {
  const shape: number[] = [];
  let cur = x;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0];
  }
  return shape;
}

/** V1 predictions: one entry per instance; the output's row, or an object of outputs when there are several. */
export function encodeV1(v: LoadedVersion, out: Outputs, rows: number): string {
  const outs = v.outputs.map((m) => {
    const t = out[m.name] as ort.Tensor;
    const data = toJsonData(t);
    const per = rows ? data.length / rows : 0;
    const rowShape = t.dims.slice(1);
    return { name: m.name, row: (i: number) => (rowShape.length === 0 ? data[i] : nest(data.slice(i * per, (i + 1) * per), rowShape)) };
  });
  const predictions = Array.from({ length: rows }, (_, i) => (outs.length === 1 ? outs[0]?.row(i) : Object.fromEntries(outs.map((o) => [o.name, o.row(i)]))));
  return JSON.stringify({ predictions });
}

function nest(flat: unknown[], shape: readonly number[]): unknown {
  if (shape.length <= 1) return flat;
  const step = flat.length / (shape[0] ?? 1);
  return Array.from({ length: shape[0] ?? 0 }, (_, i) => nest(flat.slice(i * step, (i + 1) * step), shape.slice(1)));
}
