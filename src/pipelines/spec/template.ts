/**
 * The template engine: substitutes references at run time, evaluates `when`, expands forEach.
 * Pure: everything it needs (params, run info, upstream outputs and statuses, local paths)
 * comes in the context.
 */
import type { Digest } from "../../artifacts/port.ts";
import { InvalidInputError } from "../../platform/errors.ts";
import type { FieldIssue } from "../../platform/errors.ts";
import { inputArtifactPath, outputArtifactPath, outputParamPath, scriptFileName } from "./contract.ts";
import { evaluateExpression } from "./expression.ts";
import type { WhenExpr } from "./expression.ts";
import type { ResolvedArtifactInput, ResolvedStep, RunOutcome, StepOutcome, ValidatedStep } from "./model.ts";
import { formatReference, parseTemplate } from "./references.ts";
import type { Reference } from "./references.ts";
import { joinPath } from "./schema-issues.ts";
import { checkValue, formatParamValue, isPlainObject, preview } from "./values.ts";

/** What a step (or one iteration) produced. */
export interface StepOutputs {
  readonly params?: Readonly<Record<string, unknown>>;
  readonly artifacts?: Readonly<Record<string, Digest>>;
}

export interface StepIterationState {
  readonly status?: StepOutcome;
  readonly outputs?: StepOutputs;
}

export interface StepState {
  /** Terminal outcome; for a forEach step, the aggregate (Failed if any iteration failed). */
  readonly status?: StepOutcome;
  /** Outputs of a plain step. */
  readonly outputs?: StepOutputs;
  /** For a forEach step: every iteration in index order. References then yield lists (fan-in). */
  readonly iterations?: readonly StepIterationState[];
}

export interface RunInfo {
  readonly id: string;
  readonly name: string;
  readonly project: string;
  /** Outcome of the main steps; set for finally steps. */
  readonly status?: RunOutcome;
  /** Names of the main steps that failed; set for finally steps. */
  readonly failedSteps?: readonly string[];
}

/** An inline reference to an upstream artifact, with the input name it is materialised under. */
export interface ArtifactPathRequest {
  readonly step: string;
  readonly output: string;
  readonly fanIn: boolean;
  readonly inputName: string;
}

export interface TemplateContext {
  /** Resolved run parameters (see resolveParams). */
  readonly params: Readonly<Record<string, unknown>>;
  readonly run: RunInfo;
  /** State of the steps that ran so far, by name. */
  readonly steps?: Readonly<Record<string, StepState>>;
  /** Where the executor materialises this step's inputs / collects its outputs (paths as the process sees them). */
  readonly inputsDir?: string;
  readonly outputsDir?: string;
  /**
   * Local path of an upstream artifact referenced inline (args, env, script, command).
   * Default: `inputArtifactPath(inputsDir, inputName)`.
   */
  readonly artifactPath?: (request: ArtifactPathRequest) => string;
  /** Bound by resolveStep for forEach iterations. */
  readonly item?: unknown;
  readonly index?: number;
  /** Bound by resolveStep: the step's own resolved input params (for {{inputs.params.X}}). */
  readonly inputParams?: Readonly<Record<string, unknown>>;
}

class Unresolvable extends Error {}

function stepState(ctx: TemplateContext, step: string): StepState {
  const state = ctx.steps?.[step];
  if (!state) throw new Unresolvable(`step "${step}" has not run`);
  return state;
}

function missingOutput(kind: string, name: string, step: string, status: StepOutcome | undefined, iteration?: number): Unresolvable {
  const where = iteration === undefined ? `step "${step}"` : `iteration ${step}[${iteration}]`;
  return new Unresolvable(`${kind} "${name}" of ${where} is not available${status ? ` (status ${status})` : ""}`);
}

/** The digest(s) of an upstream artifact: one, or one per iteration for a forEach producer. */
function artifactDigests(ctx: TemplateContext, step: string, output: string): { fanIn: false; digest: Digest } | { fanIn: true; digests: Digest[] } {
  const state = stepState(ctx, step);
  if (state.iterations) {
    const digests = state.iterations.map((it, i) => {
      const d = it.outputs?.artifacts?.[output];
      if (d === undefined) throw missingOutput("output artifact", output, step, it.status, i);
      return d;
    });
    return { fanIn: true, digests };
  }
  const digest = state.outputs?.artifacts?.[output];
  if (digest === undefined) throw missingOutput("output artifact", output, step, state.status);
  return { fanIn: false, digest };
}

function walkItem(item: unknown, path: readonly string[]): unknown {
  let cur = item;
  for (const [i, seg] of path.entries()) {
    if (Array.isArray(cur) && /^[0-9]+$/.test(seg) && Number(seg) < cur.length) cur = cur[Number(seg)];
    else if (isPlainObject(cur) && Object.hasOwn(cur, seg)) cur = cur[seg];
    else throw new Unresolvable(`{{item.${path.slice(0, i + 1).join(".")}}}: item ${preview(item)} has no field "${seg}"`);
  }
  return cur;
}

function implicitInputName(step: string, output: string): string {
  return `${step}.${output}`;
}

/** The value of one reference. Artifacts and the step's own input/output files yield local paths. */
function referenceValue(ref: Reference, ctx: TemplateContext): unknown {
  const needDir = (dir: string | undefined, what: string): string => {
    if (dir === undefined) throw new Unresolvable(`{{${formatReference(ref)}}}: ${what} is not known in this context`);
    return dir;
  };
  switch (ref.kind) {
    case "param":
      if (!Object.hasOwn(ctx.params, ref.name)) throw new Unresolvable(`parameter "${ref.name}" has no value`);
      return ctx.params[ref.name];
    case "run": {
      const v = ctx.run[ref.field];
      if (v === undefined) throw new Unresolvable(`{{run.${ref.field}}} is only available in finally steps`);
      return v;
    }
    case "stepStatus": {
      const status = stepState(ctx, ref.step).status;
      if (status === undefined) throw new Unresolvable(`step "${ref.step}" has not finished`);
      return status;
    }
    case "stepParam": {
      const state = stepState(ctx, ref.step);
      if (state.iterations) {
        return state.iterations.map((it, i) => {
          const params = it.outputs?.params;
          if (!params || !Object.hasOwn(params, ref.name)) throw missingOutput("output parameter", ref.name, ref.step, it.status, i);
          return params[ref.name];
        });
      }
      const params = state.outputs?.params;
      if (!params || !Object.hasOwn(params, ref.name)) throw missingOutput("output parameter", ref.name, ref.step, state.status);
      return params[ref.name];
    }
    case "stepArtifact": {
      const bound = artifactDigests(ctx, ref.step, ref.name);
      const request: ArtifactPathRequest = { step: ref.step, output: ref.name, fanIn: bound.fanIn, inputName: implicitInputName(ref.step, ref.name) };
      return ctx.artifactPath ? ctx.artifactPath(request) : inputArtifactPath(needDir(ctx.inputsDir, "the inputs directory"), request.inputName);
    }
    case "item":
      if (ctx.index === undefined) throw new Unresolvable(`{{${formatReference(ref)}}} is only available in forEach iterations`);
      return walkItem(ctx.item, ref.path);
    case "index":
      if (ctx.index === undefined) throw new Unresolvable(`{{index}} is only available in forEach iterations`);
      return ctx.index;
    case "inputParam": {
      const params = ctx.inputParams;
      if (!params || !Object.hasOwn(params, ref.name)) throw new Unresolvable(`input parameter "${ref.name}" is not known in this context`);
      return params[ref.name];
    }
    case "inputArtifact":
      return inputArtifactPath(needDir(ctx.inputsDir, "the inputs directory"), ref.name);
    case "outputParam":
      return outputParamPath(needDir(ctx.outputsDir, "the outputs directory"), ref.name);
    case "outputArtifact":
      return outputArtifactPath(needDir(ctx.outputsDir, "the outputs directory"), ref.name);
  }
}

function toText(value: unknown, ref: Reference): string {
  if (value === undefined || value === null) throw new Unresolvable(`{{${formatReference(ref)}}} has no value`);
  return formatParamValue(value);
}

function rethrow(e: unknown, path: string): never {
  if (e instanceof Unresolvable) throw InvalidInputError.field(path, e.message);
  throw e;
}

/**
 * Substitute every reference in `template`. Values render as text: strings as is, other values
 * as JSON (fan-in lists as JSON arrays), artifacts as local paths. `path` names the field in errors.
 */
export function renderTemplate(template: string, ctx: TemplateContext, path = ""): string {
  try {
    return render(template, ctx);
  } catch (e) {
    rethrow(e, path);
  }
}

function render(template: string, ctx: TemplateContext): string {
  const parsed = parseTemplate(template);
  const first = parsed.errors[0];
  if (first) throw new Unresolvable(first.reason);
  return parsed.segments.map((s) => (s.kind === "text" ? s.text : toText(referenceValue(s.ref, ctx), s.ref))).join("");
}

/**
 * A value with its type preserved: a string that is exactly one reference yields the referenced
 * value (number, list, ...); other strings are rendered; other literals are returned as is.
 */
export function resolveValue(source: unknown, ctx: TemplateContext, path = ""): unknown {
  try {
    if (typeof source !== "string") return source;
    const parsed = parseTemplate(source);
    const only = parsed.segments[0];
    if (parsed.errors.length === 0 && parsed.segments.length === 1 && only?.kind === "ref") {
      const v = referenceValue(only.ref, ctx);
      if (v === undefined || v === null) throw new Unresolvable(`{{${only.expr}}} has no value`);
      return v;
    }
    return render(source, ctx);
  } catch (e) {
    rethrow(e, path);
  }
}

/** Evaluate a parsed `when`. Throws InvalidInputError when a reference cannot be resolved or types clash. */
export function evaluateWhen(ast: WhenExpr, ctx: TemplateContext, path = "when"): boolean {
  try {
    return evaluateExpression(ast, (ref) => referenceValue(ref, ctx));
  } catch (e) {
    if (e instanceof Unresolvable) throw InvalidInputError.field(path, e.message);
    if (e instanceof Error) throw InvalidInputError.field(path, e.message);
    throw e;
  }
}

/** Node id of a step or of one of its iterations: `train`, `train[0]`. */
export function nodeId(step: string, index?: number): string {
  return index === undefined ? step : `${step}[${index}]`;
}

export function parseNodeId(id: string): { step: string; index?: number } {
  const m = /^(.*)\[([0-9]+)\]$/.exec(id);
  return m ? { step: m[1] ?? "", index: Number(m[2]) } : { step: id };
}

export interface ForEachIteration {
  readonly index: number;
  readonly item: unknown;
  readonly nodeId: string;
}

/** The iterations of a forEach step (its items resolved against ctx). */
export function expandForEach(step: ValidatedStep, ctx: TemplateContext): ForEachIteration[] {
  const forEach = step.forEach;
  if (!forEach) throw new Error(`step "${step.name}" has no forEach`);
  const path = joinPath(joinPath(step.path, "forEach"), "items");
  let items: unknown;
  if (forEach.items.kind === "static") items = forEach.items.values;
  else {
    try {
      items = referenceValue(forEach.items.ref, ctx);
    } catch (e) {
      rethrow(e, path);
    }
  }
  if (!Array.isArray(items)) throw InvalidInputError.field(path, `must resolve to an array, got ${preview(items)}`);
  return items.map((item: unknown, index) => ({ index, item, nodeId: nodeId(step.name, index) }));
}

/**
 * Substitute everything in a step (or one forEach iteration, given `iteration`): image,
 * command, args, script, env, input params (typed, checked against declared types) and input
 * artifacts (bound to upstream digests). Throws InvalidInputError listing every unresolvable field.
 */
export function resolveStep(step: ValidatedStep, ctx: TemplateContext, iteration?: Pick<ForEachIteration, "index" | "item">): ResolvedStep {
  if (step.forEach && !iteration) throw new Error(`step "${step.name}" has forEach: resolve each iteration from expandForEach()`);
  if (!step.forEach && iteration) throw new Error(`step "${step.name}" has no forEach`);
  const issues: FieldIssue[] = [];
  const attempt = <T>(path: string, f: () => T): T | undefined => {
    try {
      return f();
    } catch (e) {
      if (e instanceof InvalidInputError) {
        issues.push(...e.details);
        return undefined;
      }
      if (e instanceof Unresolvable) {
        issues.push({ path, reason: e.message });
        return undefined;
      }
      throw e;
    }
  };
  const base: TemplateContext = iteration ? { ...ctx, item: iteration.item, index: iteration.index } : { ...ctx, item: undefined, index: undefined };

  // Input params, typed.
  const params: Record<string, unknown> = {};
  const paramsPath = joinPath(joinPath(step.path, "inputs"), "params");
  for (const [name, input] of Object.entries(step.inputs.params)) {
    const path = joinPath(paramsPath, name);
    const value = attempt(path, () => resolveValue(input.source, base, path));
    if (value === undefined) continue;
    const err = checkValue(value, input.type);
    if (err) issues.push({ path, reason: `input ${err}` });
    else params[name] = value;
  }

  // Input artifacts: declared ones, then those referenced inline.
  const artifacts: Record<string, ResolvedArtifactInput> = {};
  const bySource = new Map<string, string>();
  const artifactsPath = joinPath(joinPath(step.path, "inputs"), "artifacts");
  for (const [name, input] of Object.entries(step.inputs.artifacts)) {
    const bound = attempt(joinPath(artifactsPath, name), () => artifactDigests(base, input.step, input.output));
    if (bound) artifacts[name] = { step: input.step, output: input.output, ...bound };
    bySource.set(`${input.step}\0${input.output}`, name);
  }
  const ctxFor: TemplateContext = {
    ...base,
    inputParams: params,
    artifactPath: (request) => {
      const key = `${request.step}\0${request.output}`;
      const inputName = bySource.get(key) ?? request.inputName;
      if (!artifacts[inputName]) artifacts[inputName] = { step: request.step, output: request.output, ...artifactDigests(base, request.step, request.output) };
      const req = { ...request, inputName };
      if (ctx.artifactPath) return ctx.artifactPath(req);
      if (ctx.inputsDir === undefined) throw new Unresolvable(`{{steps.${request.step}.outputs.artifacts.${request.output}}}: the inputs directory is not known in this context`);
      return inputArtifactPath(ctx.inputsDir, inputName);
    },
  };

  const text = (path: string, template: string) => attempt(path, () => renderTemplate(template, ctxFor, path));
  const image = step.image !== undefined ? text(joinPath(step.path, "image"), step.image) : undefined;
  const command = step.command.map((c, i) => text(joinPath(joinPath(step.path, "command"), i), c) ?? "");
  const args = step.args.map((a, i) => text(joinPath(joinPath(step.path, "args"), i), a) ?? "");
  const script = step.script !== undefined ? text(joinPath(step.path, "script"), step.script) : undefined;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(step.env)) env[k] = text(joinPath(joinPath(step.path, "env"), k), v) ?? "";

  if (issues.length > 0) throw InvalidInputError.of(issues, `cannot resolve step ${nodeId(step.name, iteration?.index)}`);
  return {
    name: step.name,
    nodeId: nodeId(step.name, iteration?.index),
    phase: step.phase,
    ...(iteration ? { index: iteration.index, item: iteration.item } : {}),
    ...(image !== undefined ? { image } : {}),
    command,
    args,
    ...(script !== undefined ? { script, scriptFileName: scriptFileName(command) } : {}),
    env,
    secretEnv: step.secretEnv,
    inputs: { params, artifacts },
    outputs: step.outputs,
    retries: step.retries,
    ...(step.timeoutSeconds !== undefined ? { timeoutSeconds: step.timeoutSeconds } : {}),
    cache: step.cache,
    resources: step.resources,
    dirs: {
      ...(ctx.inputsDir !== undefined ? { inputsDir: ctx.inputsDir } : {}),
      ...(ctx.outputsDir !== undefined ? { outputsDir: ctx.outputsDir } : {}),
    },
  };
}
