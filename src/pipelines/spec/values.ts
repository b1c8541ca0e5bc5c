/** Typed values: type checks, coercion of strings (CLI, output files) and text rendering. */
import type { ValueType } from "./model.ts";
import type { ParamType } from "./schema.ts";

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The value type of a JSON value ("number" for non-integers); undefined for null/undefined/functions. */
export function typeOfValue(v: unknown): ParamType | undefined {
  if (typeof v === "string") return "string";
  if (typeof v === "boolean") return "boolean";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : Number.isFinite(v) ? "number" : undefined;
  if (typeof v === "object" && v !== null) return Array.isArray(v) ? "array" : "object";
  return undefined;
}

/** Does a value of type `actual` fit where `expected` is wanted (integer fits number; "any" fits all)? */
export function typeFits(actual: ValueType, expected: ValueType): boolean {
  return actual === "any" || expected === "any" || actual === expected || (actual === "integer" && expected === "number");
}

/** Does `value` have `type`? */
export function valueHasType(value: unknown, type: ValueType): boolean {
  if (type === "any") return value !== undefined;
  const actual = typeOfValue(value);
  return actual !== undefined && typeFits(actual, type);
}

export function preview(value: unknown, max = 60): string {
  let s: string;
  try {
    s = JSON.stringify(value) ?? String(value);
  } catch {
    s = String(value);
  }
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/**
 * Coerce a string (from the CLI, or the text of an output file) to `type`:
 * integers must be integers, numbers finite, booleans true/false, arrays/objects JSON.
 * Strings are taken as is. Returns `{ value }` or `{ error }`.
 */
export function coerceString(text: string, type: ParamType): { value: unknown } | { error: string } {
  const t = type === "string" ? text : text.trim();
  switch (type) {
    case "string":
      return { value: text };
    case "integer": {
      if (!/^[+-]?[0-9]+$/.test(t)) return { error: `must be an integer, got ${preview(text)}` };
      const n = Number(t);
      return Number.isSafeInteger(n) ? { value: n } : { error: `integer out of range: ${preview(text)}` };
    }
    case "number": {
      const n = Number(t);
      if (t === "" || !/^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/.test(t) || !Number.isFinite(n)) {
        return { error: `must be a number, got ${preview(text)}` };
      }
      return { value: n };
    }
    case "boolean":
      if (t === "true") return { value: true };
      if (t === "false") return { value: false };
      return { error: `must be true or false, got ${preview(text)}` };
    case "array":
    case "object": {
      let parsed: unknown;
      try {
        parsed = JSON.parse(t);
      } catch {
        return { error: `must be ${article(type)} in JSON, e.g. ${type === "array" ? "[1,2]" : '{"a":1}'}; got ${preview(text)}` };
      }
      const ok = type === "array" ? Array.isArray(parsed) : isPlainObject(parsed);
      return ok ? { value: parsed } : { error: `must be ${article(type)} in JSON, got ${preview(text)}` };
    }
  }
}

/** Check (not coerce) a JSON value against `type`. */
export function checkValue(value: unknown, type: ValueType): string | undefined {
  if (valueHasType(value, type)) return undefined;
  const actual = typeOfValue(value) ?? (value === null ? "null" : typeof value);
  return `must be ${article(type)}, got ${actual} ${preview(value)}`;
}

/**
 * How a parameter value is written to a file or an env var: strings as is, everything else
 * as JSON (numbers and booleans therefore as `5`, `true`).
 */
export function formatParamValue(value: unknown): string {
  if (typeof value === "string") return value;
  const s = JSON.stringify(value);
  if (s === undefined) throw new Error(`cannot format ${String(value)} as a parameter value`);
  return s;
}

/**
 * Parse the text of an output parameter file according to its declared type. Strings lose
 * one trailing newline (so `echo ok > file` gives "ok"); other types are trimmed then coerced.
 */
export function parseParamValue(text: string, type: ParamType): { value: unknown } | { error: string } {
  return coerceString(type === "string" ? text.replace(/\r?\n$/, "") : text, type);
}

export function levenshtein(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] ?? 0;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j] ?? 0;
      prev[j] = Math.min(up + 1, (prev[j - 1] ?? 0) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length] ?? 0;
}

/** ` (did you mean "x"?)` when a candidate is close enough, else "". */
export function didYouMean(name: string, candidates: Iterable<string>): string {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = levenshtein(name.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(name.length / 3)) ? ` (did you mean "${best}"?)` : "";
}
