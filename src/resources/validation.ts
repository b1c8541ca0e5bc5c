/**
 * One JSON-Schema validator for the whole platform (ajv, strict, all errors), whose
 * errors become FieldIssues with readable paths: `spec.members[0].role: must be one of …`.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import addFormatsImport from "ajv-formats";
import type { TSchema } from "@sinclair/typebox";
import { InvalidInputError, type FieldIssue } from "../platform/errors.ts";

// ajv-formats ships CJS; under NodeNext its default export is the module object.
const addFormats = addFormatsImport as unknown as (ajv: Ajv) => Ajv;

export function createAjv(options: { coerceTypes?: boolean } = {}): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    coerceTypes: options.coerceTypes ?? false,
    useDefaults: true,
    removeAdditional: false,
    strict: false,
    // `strict: false` also turns this off: NaN and Infinity (JSON 1e999, YAML .inf) are not
    // numbers a spec can hold — they would be stored as null.
    strictNumbers: true,
    // Errors carry their parentSchema, whose description makes pattern errors readable.
    verbose: true,
  });
  addFormats(ajv);
  return ajv;
}

/** "/spec/members/0/role" → "spec.members[0].role" */
export function pointerToPath(pointer: string, prefix = ""): string {
  const parts = pointer.split("/").slice(1).map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
  let out = prefix;
  for (const p of parts) {
    if (/^\d+$/.test(p)) out += `[${p}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(p)) out += out ? `.${p}` : p;
    else out += `[${JSON.stringify(p)}]`;
  }
  return out;
}

function joinPath(base: string, key: string): string {
  return /^[A-Za-z_$][\w$-]*$/.test(key) ? (base ? `${base}.${key}` : key) : `${base}[${JSON.stringify(key)}]`;
}

export function ajvErrorsToIssues(errors: readonly ErrorObject[] | null | undefined, prefix = ""): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const seen = new Set<string>();
  for (const e of errors ?? []) {
    let path = pointerToPath(e.instancePath, prefix);
    let reason: string;
    switch (e.keyword) {
      case "required":
        path = joinPath(path, String((e.params as { missingProperty: string }).missingProperty));
        reason = "is required";
        break;
      case "additionalProperties":
        path = joinPath(path, String((e.params as { additionalProperty: string }).additionalProperty));
        reason = "is not a known field";
        break;
      case "enum":
        reason = `must be one of ${((e.params as { allowedValues: unknown[] }).allowedValues ?? []).map((v) => JSON.stringify(v)).join(", ")}`;
        break;
      case "const":
        reason = `must be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}`;
        break;
      case "pattern":
        reason = e.parentSchema && typeof (e.parentSchema as { description?: unknown }).description === "string"
          ? `must be ${(e.parentSchema as { description: string }).description}`
          : `must match ${(e.params as { pattern: string }).pattern}`;
        break;
      case "anyOf":
      case "oneOf":
        // Sub-schema errors say more; keep this one only if nothing else is reported for the path.
        reason = "does not match any allowed form";
        break;
      default:
        reason = e.message ?? "is invalid";
    }
    const key = `${path}\u0000${reason}`;
    if (!seen.has(key)) {
      seen.add(key);
      issues.push({ path, reason });
    }
  }
  // Drop the generic anyOf line when more specific issues exist under the same path.
  return issues.filter(
    (i) => i.reason !== "does not match any allowed form" || !issues.some((o) => o !== i && o.path.startsWith(i.path) && o.reason !== i.reason),
  );
}

export class SchemaValidator<T = unknown> {
  private readonly fn: ValidateFunction;
  constructor(ajv: Ajv, schema: TSchema) {
    this.fn = ajv.compile(schema);
  }
  issues(value: unknown, prefix = ""): FieldIssue[] {
    return this.fn(value) ? [] : ajvErrorsToIssues(this.fn.errors, prefix);
  }
  /** Validates in place (applying schema defaults) or throws InvalidInputError naming every bad field. */
  assert(value: unknown, prefix = ""): asserts value is T {
    const issues = this.issues(value, prefix);
    if (issues.length) throw InvalidInputError.of(issues);
  }
}
