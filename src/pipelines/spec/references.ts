/**
 * References (`{{params.rows}}`, `{{steps.extract.outputs.artifacts.data}}`, ...) and the
 * template strings that contain them.
 *
 * Only `{{ … }}` whose content starts with a reference root (`params.`, `run.`, `steps.`,
 * `inputs.`, `outputs.`, `item`, `index`) is a reference; any other `{{ … }}` (Jinja, Python
 * f-strings, Go templates inside scripts) is left as is.
 */

export type RunField = "id" | "name" | "project" | "status" | "failedSteps";
export const runFields: readonly RunField[] = ["id", "name", "project", "status", "failedSteps"];

export type Reference =
  | { readonly kind: "param"; readonly name: string }
  | { readonly kind: "run"; readonly field: RunField }
  | { readonly kind: "stepParam"; readonly step: string; readonly name: string }
  | { readonly kind: "stepArtifact"; readonly step: string; readonly name: string }
  | { readonly kind: "stepStatus"; readonly step: string }
  | { readonly kind: "item"; readonly path: readonly string[] }
  | { readonly kind: "index" }
  /** The step's own inputs/outputs (values for input params; local paths for the others). */
  | { readonly kind: "inputParam"; readonly name: string }
  | { readonly kind: "inputArtifact"; readonly name: string }
  | { readonly kind: "outputParam"; readonly name: string }
  | { readonly kind: "outputArtifact"; readonly name: string };

export type TemplateSegment =
  | { readonly kind: "text"; readonly text: string }
  | {
      readonly kind: "ref";
      readonly ref: Reference;
      /** The reference as written inside the braces, trimmed, e.g. "params.rows". */
      readonly expr: string;
      /** Offset of "{{" in the template. */
      readonly start: number;
      readonly end: number;
    };

export interface ParsedTemplate {
  readonly segments: readonly TemplateSegment[];
  readonly errors: readonly { readonly expr: string; readonly start: number; readonly reason: string }[];
}

const candidateRe = /\{\{([^{}]*)\}\}/g;
const rootRe = /^(?:(?:params|run|steps|inputs|outputs)\s*\.|item\s*(?:\.|$)|index\s*$)/;
const nameSeg = /^[A-Za-z_][A-Za-z0-9_]*$/;
const stepSeg = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const itemSeg = /^[A-Za-z0-9_-]+$/;

/** True when the content of a `{{ … }}` is meant as a reference. */
export function isReferenceExpression(expr: string): boolean {
  return rootRe.test(expr.trim());
}

/** Parse the inside of `{{ … }}`; returns a reason string when malformed. */
export function parseReference(expr: string): Reference | string {
  const text = expr.trim();
  const parts = text.split(".").map((p) => p.trim());
  const [root, ...rest] = parts;
  const bad = (expected: string) => `invalid reference "${text}": expected ${expected}`;
  switch (root) {
    case "params":
      return rest.length === 1 && nameSeg.test(rest[0] ?? "") ? { kind: "param", name: rest[0]! } : bad("params.<name>");
    case "run": {
      const field = rest[0];
      return rest.length === 1 && (runFields as readonly string[]).includes(field ?? "")
        ? { kind: "run", field: field as RunField }
        : bad(`run.${runFields.join(" | run.")}`);
    }
    case "steps": {
      const expected = "steps.<step>.outputs.params.<name>, steps.<step>.outputs.artifacts.<name> or steps.<step>.status";
      const [step, what, io, name] = rest;
      if (!step || !stepSeg.test(step)) return bad(expected);
      if (what === "status" && rest.length === 2) return { kind: "stepStatus", step };
      if (what !== "outputs" || rest.length !== 4 || !nameSeg.test(name ?? "")) return bad(expected);
      if (io === "params") return { kind: "stepParam", step, name: name! };
      if (io === "artifacts") return { kind: "stepArtifact", step, name: name! };
      return bad(expected);
    }
    case "inputs":
    case "outputs": {
      const [io, name] = rest;
      if (rest.length !== 2 || (io !== "params" && io !== "artifacts") || !nameSeg.test(name ?? "")) {
        return bad(`${root}.params.<name> or ${root}.artifacts.<name>`);
      }
      const kind = root === "inputs" ? (io === "params" ? "inputParam" : "inputArtifact") : io === "params" ? "outputParam" : "outputArtifact";
      return { kind, name: name! };
    }
    case "item":
      return rest.every((p) => itemSeg.test(p)) ? { kind: "item", path: rest } : bad("item or item.<field>[.<field>...]");
    case "index":
      return rest.length === 0 ? { kind: "index" } : bad("index");
    case undefined:
    default:
      return `invalid reference "${text}": expected params.*, run.*, steps.*, inputs.*, outputs.*, item or index`;
  }
}

export function parseTemplate(template: string): ParsedTemplate {
  const segments: TemplateSegment[] = [];
  const errors: { expr: string; start: number; reason: string }[] = [];
  let last = 0;
  for (const m of template.matchAll(candidateRe)) {
    const inner = m[1] ?? "";
    if (!isReferenceExpression(inner)) continue;
    const start = m.index;
    if (start > last) segments.push({ kind: "text", text: template.slice(last, start) });
    const parsed = parseReference(inner);
    if (typeof parsed === "string") errors.push({ expr: inner.trim(), start, reason: parsed });
    else segments.push({ kind: "ref", ref: parsed, expr: inner.trim(), start, end: start + m[0].length });
    last = start + m[0].length;
  }
  if (last < template.length) segments.push({ kind: "text", text: template.slice(last) });
  return { segments, errors };
}

/** The reference when the template is exactly one reference (whitespace around it not allowed). */
export function soleReference(template: string): Reference | undefined {
  const { segments, errors } = parseTemplate(template);
  const only = segments[0];
  return errors.length === 0 && segments.length === 1 && only?.kind === "ref" ? only.ref : undefined;
}

export function formatReference(ref: Reference): string {
  switch (ref.kind) {
    case "param":
      return `params.${ref.name}`;
    case "run":
      return `run.${ref.field}`;
    case "stepParam":
      return `steps.${ref.step}.outputs.params.${ref.name}`;
    case "stepArtifact":
      return `steps.${ref.step}.outputs.artifacts.${ref.name}`;
    case "stepStatus":
      return `steps.${ref.step}.status`;
    case "item":
      return ["item", ...ref.path].join(".");
    case "index":
      return "index";
    case "inputParam":
      return `inputs.params.${ref.name}`;
    case "inputArtifact":
      return `inputs.artifacts.${ref.name}`;
    case "outputParam":
      return `outputs.params.${ref.name}`;
    case "outputArtifact":
      return `outputs.artifacts.${ref.name}`;
  }
}

/** The step a reference points at, if any. */
export function referencedStep(ref: Reference): string | undefined {
  return ref.kind === "stepParam" || ref.kind === "stepArtifact" || ref.kind === "stepStatus" ? ref.step : undefined;
}
