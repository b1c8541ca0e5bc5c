/**
 * Label selectors, with Kubernetes' syntax:
 *   env=prod, tier!=cache, region in (eu,us), team notin (x), gpu, !legacy
 */
import { InvalidInputError } from "../platform/errors.ts";

export type Requirement =
  | { readonly op: "eq"; readonly key: string; readonly value: string }
  | { readonly op: "neq"; readonly key: string; readonly value: string }
  | { readonly op: "in"; readonly key: string; readonly values: readonly string[] }
  | { readonly op: "notin"; readonly key: string; readonly values: readonly string[] }
  | { readonly op: "exists"; readonly key: string }
  | { readonly op: "notexists"; readonly key: string };

const KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

export function parseSelector(input: string, field = "labelSelector"): Requirement[] {
  const reqs: Requirement[] = [];
  const bad = (why: string): never => {
    throw InvalidInputError.field(field, `${why} in "${input}"`);
  };
  // Split on commas that are not inside parentheses.
  const parts: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of input) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (depth < 0) bad("unbalanced ')'");
    if (ch === "," && depth === 0) {
      parts.push(cur);
      cur = "";
    } else cur += ch;
  }
  if (depth !== 0) bad("unbalanced '('");
  parts.push(cur);
  for (const raw of parts) {
    const part = raw.trim();
    if (!part) {
      if (parts.length === 1) continue;
      bad("empty requirement");
    }
    const checkKey = (k: string) => (KEY.test(k) ? k : bad(`invalid label key "${k}"`));
    const checkVal = (v: string) => (VALUE.test(v) ? v : bad(`invalid label value "${v}"`));
    let m: RegExpMatchArray | null;
    if ((m = part.match(/^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/))) {
      const values = m[3]!.split(",").map((v) => checkVal(v.trim()));
      reqs.push({ op: m[2] === "in" ? "in" : "notin", key: checkKey(m[1]!), values });
    } else if ((m = part.match(/^([^!=\s]+)\s*!=\s*(\S*)$/))) {
      reqs.push({ op: "neq", key: checkKey(m[1]!), value: checkVal(m[2]!) });
    } else if ((m = part.match(/^([^!=\s]+)\s*==?\s*(\S*)$/))) {
      reqs.push({ op: "eq", key: checkKey(m[1]!), value: checkVal(m[2]!) });
    } else if ((m = part.match(/^!\s*(\S+)$/))) {
      reqs.push({ op: "notexists", key: checkKey(m[1]!) });
    } else if ((m = part.match(/^(\S+)$/))) {
      reqs.push({ op: "exists", key: checkKey(m[1]!) });
    } else bad(`cannot parse "${part}"`);
  }
  return reqs;
}

export function matchesSelector(labels: Readonly<Record<string, string>>, reqs: readonly Requirement[]): boolean {
  return reqs.every((r) => {
    const v = Object.hasOwn(labels, r.key) ? labels[r.key] : undefined;
    switch (r.op) {
      case "eq":
        return v === r.value;
      case "neq":
        return v !== r.value;
      case "in":
        return v !== undefined && r.values.includes(v);
      case "notin":
        return v === undefined || !r.values.includes(v);
      case "exists":
        return v !== undefined;
      case "notexists":
        return v === undefined;
    }
  });
}
