/** TypeBox schema errors → FieldIssue[] with dotted paths and readable reasons. */
import { Kind } from "@sinclair/typebox";
import type { TSchema } from "@sinclair/typebox";
import { Value, ValueErrorType } from "@sinclair/typebox/value";
import type { ValueError } from "@sinclair/typebox/value";
import type { FieldIssue } from "../../platform/errors.ts";
import { PATTERN_HINTS } from "./schema.ts";
import { didYouMean, isPlainObject, preview } from "./values.ts";

const simpleKey = /^[A-Za-z0-9_-]+$/;

/** Append one segment to a dotted path: `a` + 2 → `a[2]`, `a` + "b" → `a.b`, `a` + "x y" → `a["x y"]`. */
export function joinPath(base: string, segment: string | number): string {
  if (typeof segment === "number") return `${base}[${segment}]`;
  if (!simpleKey.test(segment)) return `${base}[${JSON.stringify(segment)}]`;
  return base ? `${base}.${segment}` : segment;
}

/** Convert a JSON pointer into a dotted path, using the value to tell array indices from keys. */
export function pointerToPath(base: string, pointer: string, root: unknown): string {
  let path = base;
  let cur: unknown = root;
  if (!pointer) return path;
  for (const raw of pointer.split("/").slice(1)) {
    const seg = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(cur) && /^[0-9]+$/.test(seg)) {
      path = joinPath(path, Number(seg));
      cur = cur[Number(seg)];
    } else {
      path = joinPath(path, seg);
      cur = isPlainObject(cur) ? cur[seg] : undefined;
    }
  }
  return path;
}

function schemaOf(e: ValueError): Record<string, unknown> {
  return e.schema;
}

type Reason = (s: Record<string, unknown>, got: string, e: ValueError) => string;
const T = ValueErrorType;
const min: Reason = (s, got) => `must be >= ${String(s.minimum)}${got}`;
const max: Reason = (s, got) => `must be <= ${String(s.maximum)}${got}`;
const xmin: Reason = (s, got) => `must be > ${String(s.exclusiveMinimum)}${got}`;
const xmax: Reason = (s, got) => `must be < ${String(s.exclusiveMaximum)}${got}`;

const reasons: Partial<Record<ValueErrorType, Reason>> = {
  [T.ObjectRequiredProperty]: () => "is required",
  [T.ObjectAdditionalProperties]: (s, _got, e) => {
    const key = e.path.split("/").pop()?.replace(/~1/g, "/").replace(/~0/g, "~") ?? "";
    const patterns = s.patternProperties as Record<string, unknown> | undefined;
    const pattern = patterns ? Object.keys(patterns)[0] : undefined;
    if (pattern !== undefined) return `invalid name ${JSON.stringify(key)}: ${PATTERN_HINTS[pattern] ?? `must match ${pattern}`}`;
    const known = Object.keys((s.properties as Record<string, unknown> | undefined) ?? {});
    return `unknown field ${JSON.stringify(key)}${didYouMean(key, known)}`;
  },
  [T.String]: (_s, got) => `must be a string${got}`,
  [T.Number]: (_s, got) => `must be a number${got}`,
  [T.Integer]: (_s, got) => `must be an integer${got}`,
  [T.Boolean]: (_s, got) => `must be a boolean (true or false)${got}`,
  [T.Object]: (_s, got) => `must be an object${got}`,
  [T.Array]: (_s, got) => `must be a list${got}`,
  [T.Literal]: (s, got) => `must be ${JSON.stringify(s.const)}${got}`,
  [T.StringPattern]: (s, got) =>
    `${(s.patternErrorMessage as string | undefined) ?? PATTERN_HINTS[String(s.pattern)] ?? `must match ${String(s.pattern)}`}${got}`,
  [T.StringMinLength]: (s) => (s.minLength === 1 ? "must not be empty" : `must be at least ${String(s.minLength)} characters long`),
  [T.StringMaxLength]: (s, got) => `must be at most ${String(s.maxLength)} characters long${got}`,
  [T.ArrayMinItems]: (s) => `must have at least ${String(s.minItems)} item${s.minItems === 1 ? "" : "s"}`,
  [T.ArrayMaxItems]: (s) => `must have at most ${String(s.maxItems)} items`,
  [T.NumberMinimum]: min,
  [T.IntegerMinimum]: min,
  [T.NumberMaximum]: max,
  [T.IntegerMaximum]: max,
  [T.NumberExclusiveMinimum]: xmin,
  [T.IntegerExclusiveMinimum]: xmin,
  [T.NumberExclusiveMaximum]: xmax,
  [T.IntegerExclusiveMaximum]: xmax,
  [T.Union]: (s, got) => `${(s.errorMessage as string | undefined) ?? "has an invalid value"}${got}`,
};

function reasonFor(e: ValueError): string {
  const got = e.value === undefined ? "" : ` (got ${preview(e.value)})`;
  const reason = reasons[e.type];
  return reason ? reason(schemaOf(e), got, e) : e.message;
}

/**
 * Every schema problem of `value`, one per path (the first found), with `base` as the path of
 * `value`. For a union whose value is an object matching exactly one object member, the
 * problems inside that member are reported instead of a generic "invalid value".
 */
export function schemaIssues(schema: TSchema, value: unknown, base: string): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const seen = new Set<string>();
  const visit = (s: TSchema, v: unknown, pointerBase: string, root: unknown, rootBase: string) => {
    for (const e of Value.Errors(s, v)) {
      const pointer = pointerBase + e.path;
      const path = pointerToPath(rootBase, pointer, root);
      if (seen.has(path)) continue;
      if (e.type === ValueErrorType.Union && isPlainObject(e.value)) {
        const members = ((e.schema as { anyOf?: TSchema[] }).anyOf ?? []).filter((m) => m[Kind] === "Object");
        const only = members[0];
        if (members.length === 1 && only) {
          const before = issues.length;
          visit(only, e.value, pointer, root, rootBase);
          if (issues.length > before) {
            seen.add(path);
            continue;
          }
        }
      }
      seen.add(path);
      issues.push({ path, reason: reasonFor(e) });
    }
  };
  visit(schema, value, "", value, base);
  return issues;
}

/**
 * The largest part of `value` that satisfies `schema`: invalid optional properties and record
 * entries are dropped (recursively); undefined when the value itself cannot be kept. Lets the
 * semantic checks run on documents that also have schema errors, so every problem is reported.
 */
export function sanitize(schema: TSchema, value: unknown): unknown {
  if (Value.Check(schema, value)) return value;
  const s = schema as TSchema & {
    properties?: Record<string, TSchema>;
    required?: string[];
    patternProperties?: Record<string, TSchema>;
    anyOf?: TSchema[];
  };
  if (!isPlainObject(value)) return undefined;
  if (s[Kind] === "Object" && s.properties) {
    const out: Record<string, unknown> = {};
    for (const [key, propSchema] of Object.entries(s.properties)) {
      if (!Object.hasOwn(value, key)) continue;
      const kept = sanitize(propSchema, value[key]);
      if (kept !== undefined) out[key] = kept;
      else if (s.required?.includes(key)) return undefined;
    }
    return Value.Check(schema, out) ? out : undefined;
  }
  if (s[Kind] === "Record" && s.patternProperties) {
    const [pattern, valueSchema] = Object.entries(s.patternProperties)[0] ?? [];
    if (pattern === undefined || valueSchema === undefined) return undefined;
    const re = new RegExp(pattern);
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      const kept = re.test(key) ? sanitize(valueSchema, v) : undefined;
      if (kept !== undefined) out[key] = kept;
    }
    return out;
  }
  if (s[Kind] === "Union" && s.anyOf) {
    const objects = s.anyOf.filter((m) => m[Kind] === "Object");
    const only = objects[0];
    return objects.length === 1 && only ? sanitize(only, value) : undefined;
  }
  return undefined;
}
