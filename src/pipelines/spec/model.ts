/** The validated, normalised form of a pipeline: what the controller executes. */
import type { Digest } from "../../artifacts/port.ts";
import type { WhenExpr } from "./expression.ts";
import type { Reference } from "./references.ts";
import type { ParamSpec, ParamType, PipelineSpec, SecretRef, StepSpec } from "./schema.ts";

/** A static value type; "any" when unknown until run time (e.g. {{item}} over a referenced list). */
export type ValueType = ParamType | "any";

export interface ResourceQuantities {
  /** Cores, e.g. 0.5. */
  readonly cpu?: number;
  readonly memoryBytes?: number;
}

export interface Resources {
  readonly requests: ResourceQuantities;
  readonly limits: ResourceQuantities;
}

export interface RetryPolicy {
  /** Retries after the first attempt; 0 = none. */
  readonly limit: number;
  readonly backoffSeconds: number;
  readonly factor: number;
  readonly maxBackoffSeconds: number;
}

export interface ValidatedInputParam {
  /** The literal or template as written (`value` of the long form). */
  readonly source: unknown;
  /** Declared type, or the type inferred from the source ("any" when unknown). */
  readonly type: ValueType;
  /** Whether `type` was declared (long form) rather than inferred. */
  readonly declared: boolean;
}

export interface ValidatedInputArtifact {
  readonly source: string;
  readonly step: string;
  readonly output: string;
  /** The producer is a forEach step: the input is the list of all iterations' artifacts (a directory). */
  readonly fanIn: boolean;
}

export type ForEachItems =
  | { readonly kind: "static"; readonly values: readonly unknown[] }
  | { readonly kind: "ref"; readonly source: string; readonly ref: Reference };

export interface ValidatedForEach {
  readonly items: ForEachItems;
  readonly parallelism?: number;
  /** Type of {{item}} when known from a static list. */
  readonly itemType: ValueType;
}

export type StepPhase = "main" | "finally";

export interface ValidatedStep {
  readonly name: string;
  readonly phase: StepPhase;
  /** Field path of the step in the document, e.g. "spec.steps[2]"; prefix of runtime error paths. */
  readonly path: string;
  /** The step as written. */
  readonly spec: StepSpec;
  /** Image after defaults (template, unrendered). */
  readonly image?: string;
  /** For script steps: the interpreter (default ["node"]). Templates, unrendered. */
  readonly command: readonly string[];
  readonly args: readonly string[];
  readonly script?: string;
  /** Plain env after defaults (templates, unrendered); numbers/booleans stringified. */
  readonly env: Readonly<Record<string, string>>;
  /** Env vars whose values come from secrets (after defaults). */
  readonly secretEnv: Readonly<Record<string, SecretRef>>;
  readonly inputs: {
    readonly params: Readonly<Record<string, ValidatedInputParam>>;
    readonly artifacts: Readonly<Record<string, ValidatedInputArtifact>>;
  };
  readonly outputs: {
    readonly params: Readonly<Record<string, { readonly type: ParamType; readonly description?: string }>>;
    readonly artifacts: Readonly<Record<string, { readonly description?: string }>>;
  };
  /** Explicit `dependsOn`. */
  readonly dependsOn: readonly string[];
  /**
   * Every step this one waits for (inferred from references ∪ dependsOn), in pipeline order.
   * Finally steps also wait for every main step, implicitly (not listed unless referenced).
   */
  readonly dependencies: readonly string[];
  /**
   * The dependencies that must have Succeeded for this step to run; if one did not, this
   * step is Skipped. The others (referenced only through `{{steps.S.status}}`) only need to
   * have ended.
   */
  readonly requiresSuccess: readonly string[];
  readonly when?: { readonly source: string; readonly ast: WhenExpr };
  readonly forEach?: ValidatedForEach;
  readonly retries: RetryPolicy;
  /** Per attempt (and per iteration). Undefined: no limit. */
  readonly timeoutSeconds?: number;
  readonly cache: boolean;
  readonly resources: Resources;
}

export interface ValidatedPipeline {
  /** The spec as written (schema-valid). */
  readonly spec: PipelineSpec;
  readonly params: Readonly<Record<string, ParamSpec>>;
  readonly timeoutSeconds?: number;
  /** Main steps in a topological order (ties broken by declaration order). */
  readonly steps: readonly ValidatedStep[];
  /** Finally steps in a topological order; they start after every main step ended. */
  readonly finally: readonly ValidatedStep[];
  /** Every step (main and finally) by name. */
  readonly byName: Readonly<Record<string, ValidatedStep>>;
}

/** Terminal outcome of a step (or iteration). A cache hit is Succeeded. */
export type StepOutcome = "Succeeded" | "Failed" | "Skipped" | "Cancelled";
export const stepOutcomes: readonly StepOutcome[] = ["Succeeded", "Failed", "Skipped", "Cancelled"];
/** `{{run.status}}` as seen by finally steps. */
export type RunOutcome = "Succeeded" | "Failed" | "Cancelled";
export const runOutcomes: readonly RunOutcome[] = ["Succeeded", "Failed", "Cancelled"];

export const DEFAULT_SCRIPT_COMMAND: readonly string[] = ["node"];
export const DEFAULT_RETRY_POLICY: RetryPolicy = { limit: 0, backoffSeconds: 1, factor: 2, maxBackoffSeconds: 300 };

/** Delay before retry number `retry` (1-based): backoff · factor^(retry-1), capped. */
export function retryDelaySeconds(policy: RetryPolicy, retry: number): number {
  const delay = policy.backoffSeconds * policy.factor ** Math.max(0, retry - 1);
  return Math.min(delay, policy.maxBackoffSeconds);
}

// --- run-time view ------------------------------------------------------------------------------

/** An input artifact bound to the digest(s) of what an upstream step produced. */
export type ResolvedArtifactInput =
  | { readonly step: string; readonly output: string; readonly fanIn: false; readonly digest: Digest }
  /** Fan-in: one digest per iteration, in index order; materialised as a directory. */
  | { readonly step: string; readonly output: string; readonly fanIn: true; readonly digests: readonly Digest[] };

/** A step (or one iteration of a forEach step) with every template substituted: what the executor runs. */
export interface ResolvedStep {
  readonly name: string;
  /** `train` or, for an iteration, `train[2]`. */
  readonly nodeId: string;
  readonly phase: StepPhase;
  /** Iteration index and item (forEach steps only). */
  readonly index?: number;
  readonly item?: unknown;
  readonly image?: string;
  /** The interpreter for script steps. */
  readonly command: readonly string[];
  readonly args: readonly string[];
  readonly script?: string;
  /** File name to write the script to (see scriptFileName); set when `script` is. */
  readonly scriptFileName?: string;
  readonly env: Readonly<Record<string, string>>;
  readonly secretEnv: Readonly<Record<string, SecretRef>>;
  readonly inputs: {
    /** Typed values; written to files/env with formatParamValue. */
    readonly params: Readonly<Record<string, unknown>>;
    /**
     * Declared input artifacts plus the ones referenced inline in command/args/env/script,
     * which get the name `<step>.<output>` (unless a declared input has the same source).
     */
    readonly artifacts: Readonly<Record<string, ResolvedArtifactInput>>;
  };
  readonly outputs: {
    readonly params: Readonly<Record<string, { readonly type: ParamType }>>;
    readonly artifacts: Readonly<Record<string, { readonly description?: string }>>;
  };
  readonly retries: RetryPolicy;
  readonly timeoutSeconds?: number;
  readonly cache: boolean;
  readonly resources: Resources;
  /**
   * The inputs/outputs directories the paths in command/args/env/script were rendered with;
   * the cache key replaces them with placeholders so it does not change between executions.
   */
  readonly dirs: { readonly inputsDir?: string; readonly outputsDir?: string };
}
