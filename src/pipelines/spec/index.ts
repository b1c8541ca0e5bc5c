/**
 * The Pipeline format: schema, validation, parameters, templates, fan-out, cache keys and the
 * executor contract. Pure functions, no I/O. Reference: docs/pipelines.md.
 */
export * from "./schema.ts";
export type * from "./model.ts";
export { DEFAULT_RETRY_POLICY, DEFAULT_SCRIPT_COMMAND, retryDelaySeconds, runOutcomes, stepOutcomes } from "./model.ts";
export { validatePipeline, validatePipelineDocument, pipelineIssues } from "./validate.ts";
export type { ValidateOptions } from "./validate.ts";
export { resolveParams } from "./params.ts";
export type { ResolveParamsOptions } from "./params.ts";
export { renderTemplate, resolveValue, resolveStep, evaluateWhen, expandForEach, nodeId, parseNodeId } from "./template.ts";
export type { ArtifactPathRequest, ForEachIteration, RunInfo, StepIterationState, StepOutputs, StepState, TemplateContext } from "./template.ts";
export { parseWhen, WhenSyntaxError } from "./expression.ts";
export type { CompareOp, LiteralValue, WhenExpr } from "./expression.ts";
export { parseTemplate, parseReference, formatReference } from "./references.ts";
export type { Reference, RunField, TemplateSegment } from "./references.ts";
export { canonicalJson, cacheKeyMaterial, inputArtifactDigests, stepCacheKey, CACHE_KEY_VERSION } from "./cache-key.ts";
export type { InputArtifactDigests } from "./cache-key.ts";
export * from "./contract.ts";
export { parseCpu, parseDuration, parseMemory } from "./quantity.ts";
export { coerceString, formatParamValue, parseParamValue } from "./values.ts";
export { pipelineJsonSchema, renderPipelineJsonSchema, PIPELINE_JSON_SCHEMA_FILE, PIPELINE_JSON_SCHEMA_ID } from "./json-schema.ts";
