/**
 * The Pipeline resource format, as TypeBox schemas. The same schemas validate API requests,
 * feed OpenAPI, and generate schemas/pipeline.schema.json for editors (see write-json-schema.ts).
 *
 * Structural rules only live here; everything that needs the whole document (references,
 * cycles, types flowing between steps) is checked by validatePipeline (validate.ts).
 *
 * Non-standard keywords: `errorMessage` (on unions) and `patternErrorMessage` (on patterned
 * strings) are understood by VS Code and yaml-language-server and reused by our own error
 * formatter. An ajv instance compiling these schemas in strict mode must declare them
 * (`ajv.addKeyword("errorMessage"); ajv.addKeyword("patternErrorMessage")`).
 */
import { CloneType, Type } from "@sinclair/typebox";
import type { Static, TSchema } from "@sinclair/typebox";

export const PIPELINE_API_VERSION = "forja.dev/v1";
export const PIPELINE_KIND = "Pipeline";

/** Step names: lowercase DNS labels (they end up in workload ids and Kubernetes labels). */
export const STEP_NAME_PATTERN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
/** Parameter, input and output names: identifiers (they become file names and env var suffixes). */
export const IDENTIFIER_PATTERN = "^[A-Za-z_][A-Za-z0-9_]*$";
export const ENV_NAME_PATTERN = "^[A-Za-z_][A-Za-z0-9_]*$";
export const DNS_LABEL_PATTERN = STEP_NAME_PATTERN;
/** A duration: "500ms", "90s", "10m", "1h30m", "1.5h", "2d". */
export const DURATION_PATTERN = "^([0-9]+(\\.[0-9]+)?(ms|s|m|h|d))+$";
/** Memory: bytes, or a number with a binary (Ki, Mi, Gi, Ti, Pi, Ei) or decimal (k, K, M, G, T, P, E) suffix. */
export const MEMORY_PATTERN = "^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|K|M|G|T|P|E)?$";
/** CPU as a string: cores ("0.5", "2") or millicores ("500m"). */
export const CPU_PATTERN = "^([0-9]+(\\.[0-9]+)?|[0-9]+m)$";

/** Human descriptions of the patterns above, for error messages (keys of records included). */
export const PATTERN_HINTS: Readonly<Record<string, string>> = {
  [STEP_NAME_PATTERN]: "must be a lowercase DNS label: a-z, 0-9 and '-', starting and ending with a letter or digit, at most 63 characters",
  [IDENTIFIER_PATTERN]: "must be an identifier: letters, digits and '_', not starting with a digit",
  [DURATION_PATTERN]: 'must be a number of seconds or a duration like "90s", "10m", "1h30m"',
  [MEMORY_PATTERN]: 'must be bytes or a quantity like "512Mi", "1Gi", "1G"',
  [CPU_PATTERN]: 'must be cores (0.5, 2) or millicores ("500m")',
};

const PARAM_TYPES = ["string", "integer", "number", "boolean", "array", "object"] as const;
export type ParamType = (typeof PARAM_TYPES)[number];
export const paramTypes: readonly ParamType[] = PARAM_TYPES;

function str(pattern: string, options: Record<string, unknown> = {}) {
  return Type.String({ pattern, patternErrorMessage: PATTERN_HINTS[pattern], ...options });
}
function record<T extends TSchema>(keyPattern: string, value: T, options: Record<string, unknown> = {}) {
  return Type.Record(Type.String({ pattern: keyPattern }), value, { additionalProperties: false, ...options });
}

export const ParamTypeSchema = Type.Union(
  PARAM_TYPES.map((t) => Type.Literal(t)),
  { description: "Value type.", errorMessage: `must be one of ${PARAM_TYPES.join(", ")}` },
);

export const DurationSchema = Type.Union([Type.Number({ minimum: 0 }), str(DURATION_PATTERN)], {
  description: 'Seconds (a number) or a duration string: "90s", "10m", "1h30m", "500ms", "1d".',
  errorMessage: PATTERN_HINTS[DURATION_PATTERN],
});

export const CpuSchema = Type.Union([Type.Number({ exclusiveMinimum: 0 }), str(CPU_PATTERN)], {
  description: 'CPU cores: 0.5, 2, or millicores "500m".',
  errorMessage: PATTERN_HINTS[CPU_PATTERN],
});

export const MemorySchema = Type.Union([Type.Integer({ minimum: 1 }), str(MEMORY_PATTERN)], {
  description: 'Memory: bytes, or "512Mi", "1Gi" (binary) / "500M", "1G" (decimal).',
  errorMessage: PATTERN_HINTS[MEMORY_PATTERN],
});

export const ResourceListSchema = Type.Object(
  { cpu: Type.Optional(CpuSchema), memory: Type.Optional(MemorySchema) },
  { additionalProperties: false },
);

export const ResourcesSchema = Type.Object(
  {
    requests: Type.Optional(CloneType(ResourceListSchema, { description: "What the step needs to be scheduled." })),
    limits: Type.Optional(CloneType(ResourceListSchema, { description: "Hard limits (memory over the limit kills the step)." })),
  },
  { additionalProperties: false, description: "CPU and memory requests/limits. The local runtime records them; Kubernetes enforces them." },
);

export const RetriesObjectSchema = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 0, maximum: 100, description: "Retries after the first attempt (0 = no retry). Default 0." })),
    backoffSeconds: Type.Optional(CloneType(DurationSchema, { description: "Delay before the first retry. Default 1s." })),
    factor: Type.Optional(Type.Number({ minimum: 1, maximum: 100, description: "Multiplier applied to the delay after each retry. Default 2." })),
    maxBackoffSeconds: Type.Optional(CloneType(DurationSchema, { description: "Upper bound of the delay. Default 300s." })),
  },
  { additionalProperties: false },
);

export const RetriesSchema = Type.Union([Type.Integer({ minimum: 0, maximum: 100 }), RetriesObjectSchema], {
  description: "Retry policy: a number (the limit) or {limit, backoffSeconds, factor, maxBackoffSeconds}.",
  errorMessage: "must be a retry count (0-100) or {limit, backoffSeconds, factor, maxBackoffSeconds}",
});

export const SecretRefSchema = Type.Object(
  {
    secret: str(DNS_LABEL_PATTERN, { description: "Name of a Forja secret in the pipeline's project." }),
    key: Type.String({ minLength: 1, description: "Key inside the secret." }),
  },
  { additionalProperties: false, description: "The value comes from a secret; never logged nor part of the cache key." },
);

export const EnvValueSchema = Type.Union([Type.String(), Type.Number(), Type.Boolean(), SecretRefSchema], {
  errorMessage: "must be a string (templates allowed), a number, a boolean, or {secret, key}",
});

export const EnvSchema = record(ENV_NAME_PATTERN, EnvValueSchema, {
  description: "Environment variables. Values are templates; {secret, key} takes the value from a secret.",
});

export const ParamSpecSchema = Type.Object(
  {
    type: ParamTypeSchema,
    default: Type.Optional(Type.Unknown({ description: "Default value; without one the parameter is required." })),
    description: Type.Optional(Type.String()),
    enum: Type.Optional(Type.Array(Type.Unknown(), { minItems: 1, description: "Allowed values." })),
  },
  { additionalProperties: false },
);

export const InputParamObjectSchema = Type.Object(
  {
    value: Type.Unknown({ description: "A literal or a template (\"{{params.rows}}\")." }),
    type: Type.Optional(ParamTypeSchema),
    description: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

export const InputParamSchema = Type.Union(
  [Type.String(), Type.Number(), Type.Boolean(), Type.Array(Type.Unknown()), InputParamObjectSchema],
  {
    description: 'A literal, a template ("{{params.rows}}"), or {value, type, description} to declare its type.',
    errorMessage: "must be a literal (string, number, boolean, list), a template, or {value, type, description}",
  },
);

export const InputsSchema = Type.Object(
  {
    params: Type.Optional(
      record(IDENTIFIER_PATTERN, InputParamSchema, {
        description: "Input parameters: files $FORJA_INPUTS_DIR/params/<name> and env FORJA_PARAM_<NAME>.",
      }),
    ),
    artifacts: Type.Optional(
      record(IDENTIFIER_PATTERN, Type.String({ description: 'A reference: "{{steps.S.outputs.artifacts.A}}".' }), {
        description: "Input artifacts, materialised at $FORJA_INPUTS_DIR/artifacts/<name>.",
      }),
    ),
  },
  { additionalProperties: false },
);

export const OutputParamSchema = Type.Object(
  {
    type: Type.Optional(CloneType(ParamTypeSchema, { description: "Value type. Default string." })),
    description: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

export const OutputArtifactSchema = Type.Object(
  { description: Type.Optional(Type.String()) },
  { additionalProperties: false },
);

export const OutputsSchema = Type.Object(
  {
    params: Type.Optional(
      record(IDENTIFIER_PATTERN, OutputParamSchema, {
        description: "Output parameters, written by the step to $FORJA_OUTPUTS_DIR/params/<name>.",
      }),
    ),
    artifacts: Type.Optional(
      record(IDENTIFIER_PATTERN, OutputArtifactSchema, {
        description: "Output artifacts, written by the step to $FORJA_OUTPUTS_DIR/artifacts/<name>.",
      }),
    ),
  },
  { additionalProperties: false },
);

export const ForEachSchema = Type.Object(
  {
    items: Type.Union([Type.Array(Type.Unknown()), Type.String()], {
      description: 'A list, or a reference to an array: "{{params.shards}}", "{{steps.S.outputs.params.P}}".',
      errorMessage: 'must be a list or a reference to an array ("{{params.X}}", "{{steps.S.outputs.params.P}}")',
    }),
    parallelism: Type.Optional(Type.Integer({ minimum: 1, description: "Maximum iterations running at once. Default: unlimited." })),
  },
  { additionalProperties: false, description: "Run the step once per item; {{item}}, {{item.field}} and {{index}} are available." },
);

const stepFields = {
  image: Type.Optional(Type.String({ minLength: 1, description: "Container image. Recorded by the local runtime, used by Kubernetes." })),
  env: Type.Optional(EnvSchema),
  retries: Type.Optional(RetriesSchema),
  timeoutSeconds: Type.Optional(CloneType(DurationSchema, { description: "Per attempt. Seconds or a duration string." })),
  cache: Type.Optional(Type.Boolean({ description: "Reuse the outputs of an identical earlier execution. Default true." })),
  resources: Type.Optional(ResourcesSchema),
};

export const StepDefaultsSchema = Type.Object(stepFields, {
  additionalProperties: false,
  description: "Defaults for every step (steps and finally). Objects (env, retries, resources) merge key by key.",
});

export const StepSchema = Type.Object(
  {
    name: str(STEP_NAME_PATTERN, { maxLength: 63, description: "Unique across steps and finally." }),
    description: Type.Optional(Type.String()),
    ...stepFields,
    script: Type.Optional(Type.String({ description: "Source written to a file and run with `command` as interpreter (default [node])." })),
    command: Type.Optional(Type.Array(Type.String(), { minItems: 1, description: "Executable and leading arguments; the interpreter when `script` is set." })),
    args: Type.Optional(Type.Array(Type.String(), { description: "Arguments (templates allowed)." })),
    inputs: Type.Optional(InputsSchema),
    outputs: Type.Optional(OutputsSchema),
    dependsOn: Type.Optional(Type.Array(Type.String(), { description: "Steps to wait for, in addition to those referenced." })),
    when: Type.Optional(Type.String({ minLength: 1, description: "Run only if this expression is true, e.g. \"{{steps.check.outputs.params.ok}} == true\"." })),
    forEach: Type.Optional(ForEachSchema),
  },
  { additionalProperties: false },
);

export const PipelineSpecSchema = Type.Object(
  {
    description: Type.Optional(Type.String()),
    params: Type.Optional(record(IDENTIFIER_PATTERN, ParamSpecSchema, { description: "Run parameters: {{params.<name>}}." })),
    defaults: Type.Optional(StepDefaultsSchema),
    timeoutSeconds: Type.Optional(CloneType(DurationSchema, { description: "Limit for the whole run." })),
    steps: Type.Array(StepSchema, { minItems: 1, description: "The steps; they run as soon as their dependencies allow." }),
    finally: Type.Optional(
      Type.Array(StepSchema, { description: "Exit handlers: run after all steps ended, whatever the outcome ({{run.status}})." }),
    ),
  },
  { additionalProperties: false },
);

export const PipelineMetadataSchema = Type.Object(
  {
    name: str(DNS_LABEL_PATTERN, { maxLength: 63 }),
    project: Type.Optional(str(DNS_LABEL_PATTERN, { maxLength: 63 })),
    labels: Type.Optional(Type.Record(Type.String(), Type.String())),
    annotations: Type.Optional(Type.Record(Type.String(), Type.String())),
  },
  // Server-managed fields (uid, resourceVersion, timestamps, ...) are owned by the resource layer.
  { additionalProperties: true },
);

export const PipelineSchema = Type.Object(
  {
    apiVersion: Type.Literal(PIPELINE_API_VERSION),
    kind: Type.Literal(PIPELINE_KIND),
    metadata: PipelineMetadataSchema,
    spec: PipelineSpecSchema,
  },
  { additionalProperties: false },
);

export type PipelineSpec = Static<typeof PipelineSpecSchema>;
export type PipelineDocument = Static<typeof PipelineSchema>;
export type PipelineMetadata = Static<typeof PipelineMetadataSchema>;
export type StepSpec = Static<typeof StepSchema>;
export type StepDefaultsSpec = Static<typeof StepDefaultsSchema>;
export type ParamSpec = Static<typeof ParamSpecSchema>;
export type InputParamSpec = Static<typeof InputParamSchema>;
export type InputParamObjectSpec = Static<typeof InputParamObjectSchema>;
export type OutputParamSpec = Static<typeof OutputParamSchema>;
export type OutputArtifactSpec = Static<typeof OutputArtifactSchema>;
export type ForEachSpec = Static<typeof ForEachSchema>;
export type RetriesSpec = Static<typeof RetriesSchema>;
export type ResourcesSpec = Static<typeof ResourcesSchema>;
export type SecretRef = Static<typeof SecretRefSchema>;
export type EnvValueSpec = Static<typeof EnvValueSchema>;
