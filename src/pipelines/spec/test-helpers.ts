/** Shared helpers for the pipeline spec tests. */
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { InvalidInputError } from "../../platform/errors.ts";
import type { FieldIssue } from "../../platform/errors.ts";

export function loadExample(): Record<string, unknown> {
  return parse(readFileSync(new URL("./testdata/etl.pipeline.yaml", import.meta.url), "utf8")) as Record<string, unknown>;
}

export function yamlSpec(text: string): unknown {
  return parse(text) as unknown;
}

/** The issues an InvalidInputError thrown by `f` carries, as "path: reason" lines. */
export function issuesOf(f: () => unknown): string[] {
  try {
    f();
  } catch (e) {
    if (e instanceof InvalidInputError) return e.details.map((d: FieldIssue) => `${d.path}: ${d.reason}`);
    throw e;
  }
  throw new Error("expected an InvalidInputError");
}
