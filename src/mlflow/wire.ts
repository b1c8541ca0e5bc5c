/**
 * Request decoding and response encoding with MLflow's JSON conventions (proto3 JSON):
 * GET fields come from the query string (repeated keys → arrays, `x[]` accepted too),
 * other methods from a JSON body; int64 as JSON numbers or numeric strings; doubles as
 * numbers or "NaN" / "Infinity" / "-Infinity"; `run_id` and the legacy `run_uuid` both
 * accepted. Every failure is a 400 INVALID_PARAMETER_VALUE naming the field.
 */
import { MlflowError } from "./errors.ts";

export type MlflowInput = Readonly<Record<string, unknown>>;

const HINT = "See the API docs for more information about request parameters.";

function missing(field: string): MlflowError {
  return MlflowError.invalid(`Missing value for required parameter '${field}'. ${HINT}`);
}

function pyType(v: unknown): string {
  if (typeof v === "string") return "str";
  if (typeof v === "number") return Number.isInteger(v) ? "int" : "float";
  if (typeof v === "boolean") return "bool";
  if (Array.isArray(v)) return "list";
  if (v === null) return "NoneType";
  return "dict";
}

export function invalidValue(field: string, value: unknown, expected: string): MlflowError {
  let shown: string;
  try {
    shown = JSON.stringify(value) ?? String(value);
  } catch {
    shown = String(value);
  }
  if (shown.length > 100) shown = `${shown.slice(0, 100)}...`;
  return MlflowError.invalid(`Invalid value ${shown} for parameter '${field}' supplied: expected ${expected}, got a value of type '${pyType(value)}'. ${HINT}`);
}

/** A GET query value: repeated keys give arrays; a scalar field takes the first. */
function scalar(input: MlflowInput, field: string): unknown {
  const v = Object.hasOwn(input, field) ? input[field] : undefined;
  return Array.isArray(v) && v.every((x) => typeof x === "string") && v.length > 0 && !LIST_FIELDS.has(field) ? v[0] : v;
}
/** Fields that are lists in the protos (never collapsed to their first element). */
const LIST_FIELDS = new Set(["experiment_ids", "order_by", "run_ids", "stages", "metrics", "params", "tags", "datasets", "models", "trace_ids", "request_ids"]);

export function optString(input: MlflowInput, field: string): string | undefined {
  const v = scalar(input, field);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw invalidValue(field, v, "a string");
  return v;
}

/** Required string; empty counts as missing (proto3 cannot tell them apart). */
export function reqString(input: MlflowInput, field: string): string {
  const v = optString(input, field);
  if (v === undefined || v === "") throw missing(field);
  return v;
}

/** Required but may be the empty string (e.g. a tag or param value). */
export function reqStringAllowEmpty(input: MlflowInput, field: string): string {
  const v = optString(input, field);
  if (v === undefined) throw missing(field);
  return v;
}

const INT_RE = /^-?\d+$/;

export function optInt64(input: MlflowInput, field: string): number | undefined {
  const v = scalar(input, field);
  if (v === undefined || v === null || v === "") return undefined;
  let n: number;
  if (typeof v === "number") n = v;
  else if (typeof v === "string" && INT_RE.test(v.trim())) n = Number(v.trim());
  else throw invalidValue(field, v, "an integer");
  if (!Number.isSafeInteger(n)) throw invalidValue(field, v, "an integer");
  return n;
}

export function reqInt64(input: MlflowInput, field: string): number {
  const n = optInt64(input, field);
  if (n === undefined) throw missing(field);
  return n;
}

const SPECIAL: Readonly<Record<string, number>> = { NaN: NaN, Infinity: Infinity, "-Infinity": -Infinity, nan: NaN, inf: Infinity, "-inf": -Infinity };
const FLOAT_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A double: a JSON number, "NaN", "Infinity", "-Infinity" or a numeric string. Booleans are rejected. */
export function optDouble(input: MlflowInput, field: string): number | undefined {
  const v = scalar(input, field);
  if (v === undefined || v === null) return undefined;
  if (typeof v === "number") return v;
  if (typeof v === "string") {
    const s = v.trim();
    if (Object.hasOwn(SPECIAL, s)) return SPECIAL[s];
    if (FLOAT_RE.test(s)) return Number(s);
  }
  throw invalidValue(field, v, "a number (or \"NaN\", \"Infinity\", \"-Infinity\")");
}

export function reqDouble(input: MlflowInput, field: string): number {
  const n = optDouble(input, field);
  if (n === undefined) throw missing(field);
  return n;
}

export function optBool(input: MlflowInput, field: string): boolean | undefined {
  const v = scalar(input, field);
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v === "boolean") return v;
  if (v === "true" || v === "True") return true;
  if (v === "false" || v === "False") return false;
  throw invalidValue(field, v, "a boolean");
}

/** One of `values` (enum names as strings). */
export function optEnum<T extends string>(input: MlflowInput, field: string, values: readonly T[]): T | undefined {
  const v = optString(input, field);
  if (v === undefined || v === "") return undefined;
  if (!(values as readonly string[]).includes(v)) {
    throw MlflowError.invalid(`Invalid value '${v}' for parameter '${field}': must be one of ${values.join(", ")}`);
  }
  return v as T;
}

/** A repeated string field: an array, or one string (a GET query with a single value). */
export function stringList(input: MlflowInput, field: string): string[] {
  const v = Object.hasOwn(input, field) ? input[field] : undefined;
  if (v === undefined || v === null) return [];
  const arr = Array.isArray(v) ? v : [v];
  return arr.map((x, i) => {
    if (typeof x !== "string") throw invalidValue(`${field}[${i}]`, x, "a string");
    return x;
  });
}

/** A repeated message field: an array of objects. */
export function objectList(input: MlflowInput, field: string): MlflowInput[] {
  const v = Object.hasOwn(input, field) ? input[field] : undefined;
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw invalidValue(field, v, "a list");
  return v.map((x, i) => {
    if (typeof x !== "object" || x === null || Array.isArray(x)) throw invalidValue(`${field}[${i}]`, x, "an object");
    return x as MlflowInput;
  });
}

/** A message field: an object (or undefined). */
export function optObject(input: MlflowInput, field: string): MlflowInput | undefined {
  const v = Object.hasOwn(input, field) ? input[field] : undefined;
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "object" || Array.isArray(v)) throw invalidValue(field, v, "an object");
  return v as MlflowInput;
}

/** `run_id`, or the legacy `run_uuid` the client also sends. Required. */
export function runIdOf(input: MlflowInput): string {
  const id = optString(input, "run_id") || optString(input, "run_uuid");
  if (!id) throw missing("run_id");
  return id;
}

/** A double for the wire: NaN and ±Infinity as the strings MLflow emits. */
export function encodeDouble(n: number): number | string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Infinity) return "Infinity";
  if (n === -Infinity) return "-Infinity";
  return n;
}

/** Query string: `experiment_ids[]=1` → `experiment_ids: ["1"]`. */
export function normalizeQuery(query: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (typeof query !== "object" || query === null) return out;
  const asList = (x: unknown): unknown[] => (Array.isArray(x) ? (x as unknown[]) : x === undefined ? [] : [x]);
  for (const [k, v] of Object.entries(query as Record<string, unknown>)) {
    if (k.endsWith("[]")) {
      const key = k.slice(0, -2);
      out[key] = [...asList(out[key]), ...asList(v)];
    } else if (Array.isArray(out[k])) {
      out[k] = [...asList(out[k]), ...asList(v)];
    } else {
      out[k] = v;
    }
  }
  return out;
}
