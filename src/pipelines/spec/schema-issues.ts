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

function schemaOf(e: ValueError): TSchema & Record<string, unknown> {
  return e.schema as TSchema & Record<string, unknown>;
}

function reasonFor(e: ValueError): string {
  const s = schemaOf(e);
  const got = e.value === undefined ? "" : ` (got ${preview(e.value)})`;
  switch (e.type) {
    case ValueErrorType.ObjectRequiredProperty:
      return "is required";
    case ValueErrorType.ObjectAdditionalProperties: {
      const key = e.path.split("/").pop()?.replace(/~1/g, "/").replace(/~0/g, "~") ?? "";
      const patterns = s.patternProperties as Record<string, unknown> | undefined;
      const pattern = patterns ? Object.keys(patterns)[0] : undefined;
      if (pattern !== undefined) return `invalid name ${JSON.stringify(key)}: ${PATTERN_HINTS[pattern] ?? `must match ${pattern}`}`;
      const known = Object.keys((s.properties as Record<string, unknown> | undefined) ?? {});
      return `unknown field ${JSON.stringify(key)}${didYouMean(key, known)}`;
    }
    case ValueErrorType.String:
      return `must be a string${got}`;
    case ValueErrorType.Number:
      return `must be a number${got}`;
    case ValueErrorType.Integer:
      return `must be an integer${got}`;
    case ValueErrorType.Boolean:
      return `must be a boolean (true or false)${got}`;
    case ValueErrorType.Object:
      return `must be an object${got}`;
    case ValueErrorType.Array:
      return `must be a list${got}`;
    case ValueErrorType.Literal:
      return `must be ${JSON.stringify(s.const)}${got}`;
    case ValueErrorType.StringPattern:
      return `${(s.patternErrorMessage as string | undefined) ?? PATTERN_HINTS[String(s.pattern)] ?? `must match ${String(s.pattern)}`}${got}`;
    case ValueErrorType.StringMinLength:
      return s.minLength === 1 ? "must not be empty" : `must be at least ${String(s.minLength)} characters long`;
    case ValueErrorType.StringMaxLength:
      return `must be at most ${String(s.maxLength)} characters long${got}`;
    case ValueErrorType.ArrayMinItems:
      return `must have at least ${String(s.minItems)} item${s.minItems === 1 ? "" : "s"}`;
    case ValueErrorType.ArrayMaxItems:
      return `must have at most ${String(s.maxItems)} items`;
    case ValueErrorType.NumberMinimum:
    case ValueErrorType.IntegerMinimum:
      return `must be >= ${String(s.minimum)}${got}`;
    case ValueErrorType.NumberMaximum:
    case ValueErrorType.IntegerMaximum:
      return `must be <= ${String(s.maximum)}${got}`;
    case ValueErrorType.NumberExclusiveMinimum:
    case ValueErrorType.IntegerExclusiveMinimum:
      return `must be > ${String(s.exclusiveMinimum)}${got}`;
    case ValueErrorType.NumberExclusiveMaximum:
    case ValueErrorType.IntegerExclusiveMaximum:
      return `must be < ${String(s.exclusiveMaximum)}${got}`;
    case ValueErrorType.Union:
      return `${(s.errorMessage as string | undefined) ?? "has an invalid value"}${got}`;
    default:
      return e.message;
  }
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
