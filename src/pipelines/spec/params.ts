/** resolveParams: the values of a run's parameters, from user input and declared defaults. */
import { InvalidInputError } from "../../platform/errors.ts";
import type { FieldIssue } from "../../platform/errors.ts";
import { jsonEqual } from "./expression.ts";
import type { ValidatedPipeline } from "./model.ts";
import { checkValue, coerceString, didYouMean, preview } from "./values.ts";

export interface ResolveParamsOptions {
  /** Prefix of issue paths. Default "params" (→ `params.rows`). */
  readonly fieldPrefix?: string;
}

/**
 * Typed values for every declared parameter. Strings (CLI `--param rows=5000`) are coerced by
 * the declared type (integers must be integers, booleans true/false, arrays/objects JSON); other
 * values (API JSON) must already have the type. Missing parameters take their default; missing
 * required ones, unknown names and enum violations are errors (all reported at once).
 */
export function resolveParams(
  pipeline: Pick<ValidatedPipeline, "params">,
  supplied: Readonly<Record<string, unknown>>,
  options: ResolveParamsOptions = {},
): Record<string, unknown> {
  const prefix = options.fieldPrefix ?? "params";
  const path = (name: string) => (prefix ? `${prefix}.${name}` : name);
  const issues: FieldIssue[] = [];
  const out: Record<string, unknown> = {};
  const declared = Object.keys(pipeline.params);
  for (const name of Object.keys(supplied)) {
    if (!Object.hasOwn(pipeline.params, name)) {
      issues.push({ path: path(name), reason: `unknown parameter${didYouMean(name, declared) || (declared.length ? ` (declared: ${declared.join(", ")})` : " (the pipeline declares none)")}` });
    }
  }
  for (const [name, spec] of Object.entries(pipeline.params)) {
    const raw = Object.hasOwn(supplied, name) ? supplied[name] : undefined;
    let value: unknown;
    if (raw === undefined) {
      if (spec.default === undefined) {
        issues.push({ path: path(name), reason: `required: the parameter has no default (type ${spec.type})` });
        continue;
      }
      value = structuredClone(spec.default);
    } else if (typeof raw === "string") {
      const coerced = coerceString(raw, spec.type);
      if ("error" in coerced) {
        issues.push({ path: path(name), reason: coerced.error });
        continue;
      }
      value = coerced.value;
    } else {
      const err = checkValue(raw, spec.type);
      if (err) {
        issues.push({ path: path(name), reason: err });
        continue;
      }
      value = raw;
    }
    if (spec.enum && !spec.enum.some((v) => jsonEqual(v, value))) {
      issues.push({ path: path(name), reason: `${preview(value)} is not one of ${spec.enum.map((v) => preview(v)).join(", ")}` });
      continue;
    }
    out[name] = value;
  }
  if (issues.length > 0) throw InvalidInputError.of(issues, "invalid parameters");
  return out;
}
