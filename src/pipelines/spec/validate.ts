/**
 * validatePipeline: structural (schema) and semantic checks of a pipeline spec, reporting every
 * problem at once with its field path, and producing the normalised ValidatedPipeline.
 */
import { Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { InvalidInputError } from "../../platform/errors.ts";
import type { FieldIssue } from "../../platform/errors.ts";
import { ENV_RESERVED_PREFIX, paramEnvName } from "./contract.ts";
import { WhenSyntaxError, checkWhenTypes, jsonEqual, parseWhen, whenReferences } from "./expression.ts";
import type { ExprType, WhenExpr } from "./expression.ts";
import { DEFAULT_RETRY_POLICY, DEFAULT_SCRIPT_COMMAND, runOutcomes, stepOutcomes } from "./model.ts";
import type {
  ForEachItems,
  ResourceQuantities,
  Resources,
  RetryPolicy,
  StepPhase,
  ValidatedForEach,
  ValidatedInputArtifact,
  ValidatedInputParam,
  ValidatedPipeline,
  ValidatedStep,
  ValueType,
} from "./model.ts";
import { formatBytes, parseCpu, parseDuration, parseMemory } from "./quantity.ts";
import { formatReference, parseTemplate } from "./references.ts";
import type { Reference } from "./references.ts";
import {
  IDENTIFIER_PATTERN,
  ParamSpecSchema,
  PipelineMetadataSchema,
  PipelineSpecSchema,
  PIPELINE_API_VERSION,
  PIPELINE_KIND,
  StepDefaultsSchema,
  StepSchema,
} from "./schema.ts";
import type { ParamSpec, PipelineMetadata, PipelineSpec, ResourcesSpec, RetriesSpec, SecretRef, StepDefaultsSpec, StepSpec } from "./schema.ts";
import { joinPath, sanitize, schemaIssues } from "./schema-issues.ts";
import { checkValue, didYouMean, isPlainObject, preview, typeFits, typeOfValue } from "./values.ts";

export interface ValidateOptions {
  /** Path of the spec in the document, prefixed to every issue path. Default "spec". */
  readonly fieldPrefix?: string;
}

/** Validate a pipeline spec; throws InvalidInputError listing every problem. */
export function validatePipeline(spec: unknown, options: ValidateOptions = {}): ValidatedPipeline {
  const { issues, pipeline } = analyzePipeline(spec, options.fieldPrefix ?? "spec");
  if (issues.length > 0 || !pipeline) throw InvalidInputError.of(issues, "invalid pipeline");
  return pipeline;
}

/** All problems of a pipeline spec; empty when valid. */
export function pipelineIssues(spec: unknown, options: ValidateOptions = {}): FieldIssue[] {
  return analyzePipeline(spec, options.fieldPrefix ?? "spec").issues;
}

const EnvelopeSchema = Type.Object(
  {
    apiVersion: Type.Literal(PIPELINE_API_VERSION),
    kind: Type.Literal(PIPELINE_KIND),
    metadata: PipelineMetadataSchema,
    spec: Type.Unknown(),
  },
  { additionalProperties: false },
);

/** Validate a whole `{apiVersion, kind, metadata, spec}` document (paths from the document root). */
export function validatePipelineDocument(doc: unknown): { metadata: PipelineMetadata; pipeline: ValidatedPipeline } {
  const issues = schemaIssues(EnvelopeSchema, doc, "");
  let pipeline: ValidatedPipeline | undefined;
  if (isPlainObject(doc) && doc.spec !== undefined) {
    const result = analyzePipeline(doc.spec, "spec");
    issues.push(...result.issues);
    pipeline = result.pipeline;
  }
  if (issues.length > 0 || !pipeline || !isPlainObject(doc)) throw InvalidInputError.of(issues, "invalid pipeline");
  return { metadata: doc.metadata as PipelineMetadata, pipeline };
}

// ---------------------------------------------------------------------------------------------

type FieldKind = "image" | "command" | "args" | "env" | "script" | "inputParam" | "inputArtifact" | "forEachItems" | "when" | "defaults";

/** Fields whose strings run in the step's process, where local paths make sense. */
const pathFields: ReadonlySet<FieldKind> = new Set(["command", "args", "env", "script"]);

const fieldNames: Record<FieldKind, string> = {
  image: "image",
  command: "command",
  args: "args",
  env: "env",
  script: "script",
  inputParam: "inputs.params",
  inputArtifact: "inputs.artifacts",
  forEachItems: "forEach.items",
  when: "when",
  defaults: "defaults",
};

interface RefInfo {
  readonly type: ValueType;
  /** Renders as a local path (artifact or the step's own input/output files). */
  readonly isPath?: boolean;
  readonly artifact?: "single" | "list";
  readonly values?: readonly string[];
}

interface Entry {
  readonly name: string | undefined;
  readonly phase: StepPhase;
  readonly index: number;
  readonly path: string;
  /** The schema-valid part of the step (see sanitize); undefined when unusable. */
  readonly spec: StepSpec | undefined;
  /** The step had schema errors: some fields were dropped, so checks that depend on them are skipped. */
  readonly partial: boolean;
  readonly raw: Record<string, unknown>;
}

interface Edge {
  path: string;
  gating: boolean;
}

interface StepScope {
  readonly entry: Entry & { readonly name: string; readonly spec: StepSpec };
  readonly isForEach: boolean;
  staticItems?: readonly unknown[];
  readonly inputParamTypes: Map<string, ValueType>;
  readonly edges: Map<string, Edge>;
}

const identifierRe = new RegExp(IDENTIFIER_PATTERN);

function describeType(info: RefInfo): string {
  return info.artifact === "list" ? "a list of artifacts" : info.artifact === "single" ? "an artifact" : info.type;
}

function declaredList(names: string[]): string {
  return names.length ? ` (declared: ${names.join(", ")})` : " (it declares none)";
}

interface Analysis {
  issues: FieldIssue[];
  pipeline?: ValidatedPipeline;
}

function analyzePipeline(input: unknown, prefix: string): Analysis {
  const issues: FieldIssue[] = schemaIssues(PipelineSpecSchema, input, prefix);
  const add = (path: string, reason: string) => issues.push({ path, reason });
  const at = (...segments: (string | number)[]) => segments.reduce<string>((p, s) => joinPath(p, s), prefix);
  if (!isPlainObject(input)) return { issues };

  // --- params ---------------------------------------------------------------------------------
  const params: Record<string, ParamSpec> = {};
  const paramTypes = new Map<string, ValueType>();
  if (isPlainObject(input.params)) {
    for (const [name, p] of Object.entries(input.params)) {
      paramTypes.set(name, "any");
      if (!identifierRe.test(name) || !Value.Check(ParamSpecSchema, p)) continue;
      params[name] = p;
      paramTypes.set(name, p.type);
      const path = at("params", name);
      if (p.default !== undefined) {
        const err = checkValue(p.default, p.type);
        if (err) add(joinPath(path, "default"), err);
      }
      p.enum?.forEach((v, i) => {
        const err = checkValue(v, p.type);
        if (err) add(joinPath(joinPath(path, "enum"), i), err);
      });
      if (p.enum && p.default !== undefined && !p.enum.some((v) => jsonEqual(v, p.default))) {
        add(joinPath(path, "default"), `${preview(p.default)} is not one of the enum values ${preview(p.enum)}`);
      }
    }
  }

  // --- steps: names -----------------------------------------------------------------------------
  const entries: Entry[] = [];
  for (const phase of ["main", "finally"] as const) {
    const list = phase === "main" ? input.steps : input.finally;
    if (!Array.isArray(list)) continue;
    list.forEach((raw: unknown, index) => {
      if (!isPlainObject(raw)) return;
      const name = typeof raw.name === "string" ? raw.name : undefined;
      const partial = !Value.Check(StepSchema, raw);
      let spec: StepSpec | undefined;
      if (!partial) spec = raw;
      else if (name !== undefined) {
        const kept = sanitize(StepSchema, { ...raw, name: "x" }) as StepSpec | undefined;
        spec = kept ? { ...kept, name } : undefined;
      }
      entries.push({ name, phase, index, path: at(phase === "main" ? "steps" : "finally", index), spec, partial, raw });
    });
  }
  const byName = new Map<string, Entry>();
  for (const e of entries) {
    if (e.name === undefined) continue;
    const first = byName.get(e.name);
    if (first) add(joinPath(e.path, "name"), `duplicate step name "${e.name}" (also ${joinPath(first.path, "name")})`);
    else byName.set(e.name, e);
  }
  const stepNames = [...byName.keys()];

  // --- defaults ---------------------------------------------------------------------------------
  const defaultsPath = at("defaults");
  const defaults = (sanitize(StepDefaultsSchema, input.defaults) ?? {}) as StepDefaultsSpec;
  const defaultRetries = normaliseRetries(defaults.retries, joinPath(defaultsPath, "retries"), add);
  const defaultTimeout = normaliseTimeout(defaults.timeoutSeconds, joinPath(defaultsPath, "timeoutSeconds"), add);
  const defaultResources = parseResources(defaults.resources, joinPath(defaultsPath, "resources"), add);
  checkResourceOrder(defaultResources, joinPath(defaultsPath, "resources"), add);

  // --- reference checking -----------------------------------------------------------------------
  const checkRef = (ref: Reference, path: string, field: FieldKind, scope: StepScope | undefined): RefInfo | undefined => {
    const shown = `{{${formatReference(ref)}}}`;
    const fail = (reason: string): undefined => {
      add(path, reason);
      return undefined;
    };
    const phase = scope?.entry.phase ?? "main";
    if (field === "inputArtifact" && ref.kind !== "stepArtifact") {
      return fail(`${shown} is not an artifact; expected {{steps.<step>.outputs.artifacts.<name>}}`);
    }
    if (field === "defaults" && ref.kind !== "param" && !(ref.kind === "run" && ["id", "name", "project"].includes(ref.field))) {
      return fail(`${shown} cannot be used in defaults, which only see {{params.*}}, {{run.id}}, {{run.name}} and {{run.project}}`);
    }
    switch (ref.kind) {
      case "param": {
        const type = paramTypes.get(ref.name);
        if (type === undefined) {
          const known = [...paramTypes.keys()];
          return fail(`unknown parameter "${ref.name}"${didYouMean(ref.name, known) || (known.length ? "" : " (the pipeline declares no params)")}`);
        }
        return { type };
      }
      case "run":
        if ((ref.field === "status" || ref.field === "failedSteps") && phase !== "finally") {
          return fail(`${shown} is only available in finally steps`);
        }
        if (ref.field === "failedSteps") return { type: "array" };
        return ref.field === "status" ? { type: "string", values: runOutcomes } : { type: "string" };
      case "stepParam":
      case "stepArtifact":
      case "stepStatus": {
        if (!scope) return fail(`${shown} cannot be used here`);
        const target = byName.get(ref.step);
        if (!target) return fail(`unknown step "${ref.step}"${didYouMean(ref.step, stepNames)}`);
        if (target.phase === "finally" && phase === "main") {
          return fail(`step "${ref.step}" is a finally step; steps cannot depend on finally steps`);
        }
        if (ref.kind === "stepStatus") {
          if (phase === "main" && field !== "when") return fail(`${shown} can only be used in when or in finally steps`);
          addEdge(scope, ref.step, path, false);
          return { type: "string", values: stepOutcomes };
        }
        const fanIn = target.spec?.forEach !== undefined || target.raw.forEach !== undefined;
        if (ref.kind === "stepArtifact") {
          if (field === "inputParam") return fail(`${shown} is an artifact, not a parameter value; declare it under inputs.artifacts`);
          if (field !== "inputArtifact" && !pathFields.has(field)) return fail(`${shown} is an artifact and cannot be used in ${fieldNames[field]}`);
        }
        addEdge(scope, ref.step, path, true);
        if (!target.spec) return { type: "any" };
        if (ref.kind === "stepParam") {
          const outputs = target.spec.outputs?.params ?? {};
          const out = outputs[ref.name];
          if (!out && target.partial && target.raw.outputs !== undefined) return { type: "any" };
          if (!out) return fail(`step "${ref.step}" has no output parameter "${ref.name}"${didYouMean(ref.name, Object.keys(outputs)) || declaredList(Object.keys(outputs))}`);
          return { type: fanIn ? "array" : (out.type ?? "string") };
        }
        const outputs = target.spec.outputs?.artifacts ?? {};
        if (!outputs[ref.name] && target.partial && target.raw.outputs !== undefined) return { type: "string", isPath: true };
        if (!outputs[ref.name]) {
          return fail(`step "${ref.step}" has no output artifact "${ref.name}"${didYouMean(ref.name, Object.keys(outputs)) || declaredList(Object.keys(outputs))}`);
        }
        return { type: "string", isPath: true, artifact: fanIn ? "list" : "single" };
      }
      case "item":
      case "index": {
        if (!scope?.isForEach) return fail(`${shown} can only be used in a step with forEach`);
        if (field === "when") return fail(`${shown} cannot be used in when: when is evaluated once for the whole step, before fan-out`);
        if (field === "forEachItems") return fail(`${shown} cannot be used in forEach.items`);
        if (ref.kind === "index") return { type: "integer" };
        return itemInfo(ref.path, scope.staticItems, path, shown, add);
      }
      case "inputParam": {
        if (!scope) return fail(`${shown} cannot be used here`);
        if (!pathFields.has(field) && field !== "image") return fail(`${shown} cannot be used in ${fieldNames[field]}`);
        const type = scope.inputParamTypes.get(ref.name);
        if (type === undefined && scope.entry.partial && scope.entry.raw.inputs !== undefined) return { type: "any" };
        if (type === undefined) {
          const known = [...scope.inputParamTypes.keys()];
          return fail(`unknown input parameter "${ref.name}"${didYouMean(ref.name, known) || declaredList(known)}`);
        }
        return { type };
      }
      case "inputArtifact":
      case "outputParam":
      case "outputArtifact": {
        if (!scope) return fail(`${shown} cannot be used here`);
        if (!pathFields.has(field)) return fail(`${shown} is a local path and can only be used in command, args, env or script`);
        const spec = scope.entry.spec;
        const declared = Object.keys(
          (ref.kind === "inputArtifact" ? spec.inputs?.artifacts : ref.kind === "outputParam" ? spec.outputs?.params : spec.outputs?.artifacts) ?? {},
        );
        const rawOwner = ref.kind === "inputArtifact" ? scope.entry.raw.inputs : scope.entry.raw.outputs;
        if (!declared.includes(ref.name) && scope.entry.partial && rawOwner !== undefined) return { type: "string", isPath: true };
        if (!declared.includes(ref.name)) {
          const what = ref.kind === "inputArtifact" ? "input artifact" : ref.kind === "outputParam" ? "output parameter" : "output artifact";
          return fail(`unknown ${what} "${ref.name}"${didYouMean(ref.name, declared) || declaredList(declared)}`);
        }
        return { type: "string", isPath: true };
      }
    }
  };

  /** Check a template string; returns the reference info when it is exactly one reference, "string" otherwise. */
  const checkTemplate = (
    template: string,
    path: string,
    field: FieldKind,
    scope: StepScope | undefined,
  ): { sole?: { ref: Reference; info: RefInfo | undefined }; hasRefs: boolean } => {
    const parsed = parseTemplate(template);
    for (const e of parsed.errors) add(path, e.reason);
    const refs = parsed.segments.filter((s) => s.kind === "ref");
    const infos = refs.map((s) => ({ ref: s.ref, info: checkRef(s.ref, path, field, scope) }));
    const first = infos[0];
    if (parsed.errors.length === 0 && parsed.segments.length === 1 && first) return { sole: first, hasRefs: true };
    return { hasRefs: refs.length > 0 || parsed.errors.length > 0 };
  };

  const addEdge = (scope: StepScope, target: string, path: string, gating: boolean) => {
    const edge = scope.edges.get(target);
    if (edge) edge.gating ||= gating;
    else scope.edges.set(target, { path, gating });
  };

  // defaults templates (once, not per step)
  if (defaults.image !== undefined) checkTemplate(defaults.image, joinPath(defaultsPath, "image"), "defaults", undefined);
  for (const [k, v] of Object.entries(defaults.env ?? {})) {
    const path = joinPath(joinPath(defaultsPath, "env"), k);
    if (k.toUpperCase().startsWith(ENV_RESERVED_PREFIX)) add(path, `names starting with ${ENV_RESERVED_PREFIX} are reserved`);
    if (typeof v === "string") checkTemplate(v, path, "defaults", undefined);
  }

  // --- per step -------------------------------------------------------------------------------
  const built = new Map<string, { step: Omit<ValidatedStep, "dependencies" | "requiresSuccess">; edges: Map<string, Edge>; entry: Entry }>();

  for (const entry of entries) {
    const spec = entry.spec;
    const name = entry.name;
    if (!spec || name === undefined || byName.get(name) !== entry) continue;
    const path = entry.path;
    const scope: StepScope = {
      entry: { ...entry, name, spec },
      isForEach: spec.forEach !== undefined || (entry.partial && entry.raw.forEach !== undefined),
      inputParamTypes: new Map(),
      edges: new Map(),
    };

    // forEach
    let forEach: ValidatedForEach | undefined;
    if (spec.forEach) {
      const itemsPath = joinPath(joinPath(path, "forEach"), "items");
      const items = spec.forEach.items;
      let validItems: ForEachItems | undefined;
      let itemType: ValueType = "any";
      if (Array.isArray(items)) {
        scope.staticItems = items;
        validItems = { kind: "static", values: items };
        itemType = commonType(items);
      } else {
        const { sole } = checkTemplate(items, itemsPath, "forEachItems", scope);
        if (!sole) {
          add(itemsPath, `must be a list or a single reference to an array, like "{{params.shards}}" (got ${preview(items)})`);
        } else if (sole.info) {
          if (!typeFits(sole.info.type, "array")) {
            add(itemsPath, `must be an array, but {{${formatReference(sole.ref)}}} is ${describeType(sole.info)}`);
          } else validItems = { kind: "ref", source: items, ref: sole.ref };
        }
      }
      if (validItems) {
        forEach = { items: validItems, itemType, ...(spec.forEach.parallelism !== undefined ? { parallelism: spec.forEach.parallelism } : {}) };
      }
    }

    // inputs.params
    const inputParams: Record<string, ValidatedInputParam> = {};
    const envNames = new Map<string, string>();
    for (const [pname, raw] of Object.entries(spec.inputs?.params ?? {})) {
      const long = isPlainObject(raw);
      const source: unknown = long ? raw.value : raw;
      const declaredType = long ? raw.type : undefined;
      const ppath = joinPath(joinPath(joinPath(path, "inputs"), "params"), pname);
      const vpath = long ? joinPath(ppath, "value") : ppath;
      let actual: ValueType | undefined;
      let what = "";
      if (typeof source === "string") {
        const { sole, hasRefs } = checkTemplate(source, vpath, "inputParam", scope);
        if (sole) {
          actual = sole.info?.type;
          what = `{{${formatReference(sole.ref)}}} is ${sole.info ? describeType(sole.info) : "?"}`;
        } else {
          actual = "string";
          what = hasRefs ? "a template mixing text and references renders a string" : `got string ${preview(source)}`;
        }
      } else {
        actual = typeOfValue(source);
        what = `got ${actual ?? "null"} ${preview(source)}`;
        if (actual === undefined) add(vpath, `must not be null`);
      }
      if (declaredType && actual !== undefined && !typeFits(actual, declaredType)) add(vpath, `expected ${declaredType}, ${what}`);
      const type: ValueType = declaredType ?? actual ?? "any";
      scope.inputParamTypes.set(pname, type);
      inputParams[pname] = { source, type, declared: declaredType !== undefined };
      const envName = paramEnvName(pname);
      const clash = envNames.get(envName);
      if (clash !== undefined) add(ppath, `"${pname}" and "${clash}" both map to the env var ${envName}`);
      else envNames.set(envName, pname);
    }

    // inputs.artifacts
    const inputArtifacts: Record<string, ValidatedInputArtifact> = {};
    for (const [aname, source] of Object.entries(spec.inputs?.artifacts ?? {})) {
      const apath = joinPath(joinPath(joinPath(path, "inputs"), "artifacts"), aname);
      const { sole } = checkTemplate(source, apath, "inputArtifact", scope);
      if (!sole) {
        add(apath, `must be a single reference to a step's output artifact, like "{{steps.<step>.outputs.artifacts.<name>}}" (got ${preview(source)})`);
      } else if (sole.ref.kind === "stepArtifact" && sole.info) {
        inputArtifacts[aname] = { source, step: sole.ref.step, output: sole.ref.name, fanIn: sole.info.artifact === "list" };
      }
    }

    // image, command, args, script, env
    if (spec.image !== undefined) checkTemplate(spec.image, joinPath(path, "image"), "image", scope);
    spec.command?.forEach((c, i) => checkTemplate(c, joinPath(joinPath(path, "command"), i), "command", scope));
    spec.args?.forEach((a, i) => checkTemplate(a, joinPath(joinPath(path, "args"), i), "args", scope));
    if (spec.script !== undefined) checkTemplate(spec.script, joinPath(path, "script"), "script", scope);
    for (const [k, v] of Object.entries(spec.env ?? {})) {
      const epath = joinPath(joinPath(path, "env"), k);
      if (k.toUpperCase().startsWith(ENV_RESERVED_PREFIX)) add(epath, `names starting with ${ENV_RESERVED_PREFIX} are reserved`);
      if (typeof v === "string") checkTemplate(v, epath, "env", scope);
    }
    if (spec.script === undefined && spec.command === undefined && !(entry.partial && (entry.raw.script !== undefined || entry.raw.command !== undefined))) {
      add(path, `step "${name}" needs either a script or a command`);
    }

    // dependsOn
    const dependsOn: string[] = [];
    spec.dependsOn?.forEach((dep, i) => {
      const dpath = joinPath(joinPath(path, "dependsOn"), i);
      const target = byName.get(dep);
      if (!target) add(dpath, `unknown step "${dep}"${didYouMean(dep, stepNames)}`);
      else if (target.phase === "finally" && entry.phase === "main") add(dpath, `step "${dep}" is a finally step; steps cannot depend on finally steps`);
      else {
        if (!dependsOn.includes(dep)) dependsOn.push(dep);
        addEdge(scope, dep, dpath, true);
      }
    });

    // when
    let when: { source: string; ast: WhenExpr } | undefined;
    if (spec.when !== undefined) {
      const wpath = joinPath(path, "when");
      try {
        const ast = parseWhen(spec.when);
        const infos = new Map<string, RefInfo | undefined>();
        for (const { ref } of whenReferences(ast)) {
          const key = formatReference(ref);
          if (!infos.has(key)) infos.set(key, checkRef(ref, wpath, "when", scope));
        }
        const refType = (ref: Reference): { type: ExprType; values?: readonly string[] } => {
          const info = infos.get(formatReference(ref));
          if (!info) return { type: "any" };
          if (info.artifact) return { type: "string" };
          return info.values ? { type: info.type, values: info.values } : { type: info.type };
        };
        for (const issue of checkWhenTypes(ast, refType)) add(wpath, `type error at column ${issue.column}: ${issue.reason}`);
        when = { source: spec.when, ast };
      } catch (e) {
        if (!(e instanceof WhenSyntaxError)) throw e;
        add(wpath, e.message);
      }
    }

    // env merge, retries, timeout, resources
    const env: Record<string, string> = {};
    const secretEnv: Record<string, SecretRef> = {};
    for (const [k, v] of Object.entries({ ...defaults.env, ...spec.env })) {
      if (typeof v === "object") secretEnv[k] = v;
      else env[k] = String(v);
    }
    const retries: RetryPolicy = {
      ...DEFAULT_RETRY_POLICY,
      ...defaultRetries,
      ...normaliseRetries(spec.retries, joinPath(path, "retries"), add),
    };
    const timeoutSeconds = normaliseTimeout(spec.timeoutSeconds, joinPath(path, "timeoutSeconds"), add) ?? defaultTimeout;
    const stepResources = parseResources(spec.resources, joinPath(path, "resources"), add);
    const resources: Resources = {
      requests: { ...defaultResources.requests, ...stepResources.requests },
      limits: { ...defaultResources.limits, ...stepResources.limits },
    };
    if (spec.resources) checkResourceOrder(resources, joinPath(path, "resources"), add);

    const outputs = {
      params: Object.fromEntries(
        Object.entries(spec.outputs?.params ?? {}).map(([k, o]) => [k, { type: o.type ?? "string", ...(o.description !== undefined ? { description: o.description } : {}) }]),
      ),
      artifacts: Object.fromEntries(
        Object.entries(spec.outputs?.artifacts ?? {}).map(([k, o]) => [k, o.description !== undefined ? { description: o.description } : {}]),
      ),
    };

    const image = spec.image ?? defaults.image;
    built.set(name, {
      entry,
      edges: scope.edges,
      step: {
        name,
        phase: entry.phase,
        path,
        spec,
        ...(image !== undefined ? { image } : {}),
        command: spec.command ?? (spec.script !== undefined ? DEFAULT_SCRIPT_COMMAND : []),
        args: spec.args ?? [],
        ...(spec.script !== undefined ? { script: spec.script } : {}),
        env,
        secretEnv,
        inputs: { params: inputParams, artifacts: inputArtifacts },
        outputs,
        dependsOn,
        ...(when ? { when } : {}),
        ...(forEach ? { forEach } : {}),
        retries,
        ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}),
        cache: spec.cache ?? defaults.cache ?? true,
        resources,
      },
    });
  }

  // --- graph: cycles and topological order ------------------------------------------------------
  const order: Record<StepPhase, string[]> = { main: [], finally: [] };
  for (const phase of ["main", "finally"] as const) {
    const nodes = entries.filter((e) => e.phase === phase && e.name !== undefined && byName.get(e.name) === e).map((e) => e.name as string);
    const inPhase = new Set(nodes);
    const edgesOf = (n: string): [string, Edge][] => [...(built.get(n)?.edges ?? new Map<string, Edge>())].filter(([t]) => inPhase.has(t));
    for (const cycle of findCycles(nodes, (n) => edgesOf(n).map(([t]) => t))) {
      const [from, to] = cycle;
      const edge = from !== undefined && to !== undefined ? built.get(from)?.edges.get(to) : undefined;
      add(edge?.path ?? byName.get(cycle[0] ?? "")?.path ?? prefix, `dependency cycle: ${cycle.join(" → ")}`);
    }
    order[phase] = topologicalOrder(nodes, (n) => edgesOf(n).map(([t]) => t));
  }

  const pipelineTimeout = normaliseTimeout(input.timeoutSeconds, at("timeoutSeconds"), add);
  if (issues.length > 0) return { issues };

  const position = new Map([...order.main, ...order.finally].map((n, i) => [n, i]));
  const finish = (n: string): ValidatedStep => {
    const b = built.get(n);
    if (!b) throw new Error(`internal: step ${n} not built`);
    const deps = [...b.edges.keys()].sort((x, y) => (position.get(x) ?? 0) - (position.get(y) ?? 0));
    return { ...b.step, dependencies: deps, requiresSuccess: deps.filter((d) => b.edges.get(d)?.gating) };
  };
  const steps = order.main.map(finish);
  const fin = order.finally.map(finish);
  const spec = input as PipelineSpec;
  return {
    issues,
    pipeline: {
      spec,
      params,
      ...(pipelineTimeout !== undefined ? { timeoutSeconds: pipelineTimeout } : {}),
      steps,
      finally: fin,
      byName: Object.fromEntries([...steps, ...fin].map((s) => [s.name, s])),
    },
  };
}

// ---------------------------------------------------------------------------------------------

type Add = (path: string, reason: string) => void;

function commonType(values: readonly unknown[]): ValueType {
  const types = new Set(values.map((v) => typeOfValue(v) ?? "any"));
  if (types.size === 1) return [...types][0] ?? "any";
  if (types.size === 2 && types.has("integer") && types.has("number")) return "number";
  return "any";
}

function itemInfo(path: readonly string[], staticItems: readonly unknown[] | undefined, fieldPath: string, shown: string, add: Add): RefInfo | undefined {
  if (!staticItems) return { type: "any" };
  const values: unknown[] = [];
  for (const [i, item] of staticItems.entries()) {
    let cur: unknown = item;
    for (const seg of path) {
      if (Array.isArray(cur) && /^[0-9]+$/.test(seg)) cur = cur[Number(seg)];
      else if (isPlainObject(cur) && Object.hasOwn(cur, seg)) cur = cur[seg];
      else {
        add(fieldPath, `${shown}: forEach.items[${i}] (${preview(item)}) has no field "${path.join(".")}"`);
        return undefined;
      }
    }
    values.push(cur);
  }
  return { type: commonType(values) };
}

function normaliseTimeout(value: unknown, path: string, add: Add): number | undefined {
  if (value === undefined) return undefined;
  const seconds = parseDuration(value);
  if (seconds === undefined) return undefined; // reported by the schema
  if (seconds <= 0) {
    add(path, `must be more than 0 seconds (got ${preview(value)})`);
    return undefined;
  }
  return seconds;
}

function normaliseRetries(spec: RetriesSpec | undefined, path: string, add: Add): Partial<RetryPolicy> {
  if (spec === undefined) return {};
  if (typeof spec === "number") return { limit: spec };
  const out: { -readonly [K in keyof RetryPolicy]?: RetryPolicy[K] } = {};
  if (spec.limit !== undefined) out.limit = spec.limit;
  if (spec.factor !== undefined) out.factor = spec.factor;
  const backoff = parseDuration(spec.backoffSeconds);
  if (backoff !== undefined) out.backoffSeconds = backoff;
  const max = parseDuration(spec.maxBackoffSeconds);
  if (max !== undefined) out.maxBackoffSeconds = max;
  if (backoff !== undefined && max !== undefined && max < backoff) {
    add(joinPath(path, "maxBackoffSeconds"), `must not be less than backoffSeconds (${backoff}s)`);
  }
  return out;
}

function parseResources(spec: ResourcesSpec | undefined, path: string, add: Add): Resources {
  const side = (s: { cpu?: unknown; memory?: unknown } | undefined, sidePath: string): ResourceQuantities => {
    const out: { cpu?: number; memoryBytes?: number } = {};
    if (s?.cpu !== undefined) {
      const cpu = parseCpu(s.cpu);
      if (cpu === undefined) add(joinPath(sidePath, "cpu"), `invalid cpu quantity ${preview(s.cpu)}: must be cores (0.5, 2) or millicores ("500m")`);
      else out.cpu = cpu;
    }
    if (s?.memory !== undefined) {
      const mem = parseMemory(s.memory);
      if (mem === undefined) add(joinPath(sidePath, "memory"), `invalid memory quantity ${preview(s.memory)}: must be bytes or like "512Mi", "1Gi", "1G"`);
      else out.memoryBytes = mem;
    }
    return out;
  };
  return { requests: side(spec?.requests, joinPath(path, "requests")), limits: side(spec?.limits, joinPath(path, "limits")) };
}

function checkResourceOrder(r: Resources, path: string, add: Add): void {
  const req = joinPath(path, "requests");
  if (r.requests.cpu !== undefined && r.limits.cpu !== undefined && r.requests.cpu > r.limits.cpu) {
    add(joinPath(req, "cpu"), `request (${r.requests.cpu} cores) exceeds the limit (${r.limits.cpu} cores)`);
  }
  if (r.requests.memoryBytes !== undefined && r.limits.memoryBytes !== undefined && r.requests.memoryBytes > r.limits.memoryBytes) {
    add(joinPath(req, "memory"), `request (${formatBytes(r.requests.memoryBytes)}) exceeds the limit (${formatBytes(r.limits.memoryBytes)})`);
  }
}

/** One cycle per strongly connected component with a cycle, as [a, b, ..., a], starting at its earliest node. */
export function findCycles(nodes: readonly string[], next: (n: string) => readonly string[]): string[][] {
  const rank = new Map(nodes.map((n, i) => [n, i]));
  const state = new Map<string, "active" | "done">();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const seen = new Set<string>();
  const visit = (n: string) => {
    state.set(n, "active");
    stack.push(n);
    for (const t of next(n)) {
      if (!rank.has(t)) continue;
      const s = state.get(t);
      if (s === "active") {
        const loop = stack.slice(stack.indexOf(t));
        const startAt = loop.reduce((best, x, i) => ((rank.get(x) ?? 0) < (rank.get(loop[best] ?? "") ?? 0) ? i : best), 0);
        const rotated = [...loop.slice(startAt), ...loop.slice(0, startAt)];
        const key = [...rotated].sort().join("\0");
        if (!seen.has(key)) {
          seen.add(key);
          cycles.push([...rotated, rotated[0] ?? t]);
        }
      } else if (s === undefined) visit(t);
    }
    stack.pop();
    state.set(n, "done");
  };
  for (const n of nodes) if (!state.has(n)) visit(n);
  return cycles;
}

/** Kahn's algorithm; ties broken by the order of `nodes`. Nodes on cycles are appended last. */
export function topologicalOrder(nodes: readonly string[], deps: (n: string) => readonly string[]): string[] {
  const remaining = new Set(nodes);
  const out: string[] = [];
  while (remaining.size > 0) {
    const ready = nodes.find((n) => remaining.has(n) && deps(n).every((d) => !remaining.has(d)));
    const pick = ready ?? nodes.find((n) => remaining.has(n));
    if (pick === undefined) break;
    remaining.delete(pick);
    out.push(pick);
  }
  return out;
}
