/** The editor-facing JSON Schema of a Pipeline document (schemas/pipeline.schema.json). */
import { PipelineSchema } from "./schema.ts";

export const PIPELINE_JSON_SCHEMA_ID = "https://forja.dev/schemas/pipeline.schema.json";
/** Path of the committed file, relative to the repository root. */
export const PIPELINE_JSON_SCHEMA_FILE = "schemas/pipeline.schema.json";

/** The JSON Schema (draft-07) of `{apiVersion, kind, metadata, spec}`, as a plain object. */
export function pipelineJsonSchema(): Record<string, unknown> {
  // JSON round trip drops TypeBox's symbol keys.
  const body = JSON.parse(JSON.stringify(PipelineSchema)) as Record<string, unknown>;
  // `finally` items are the same step schema as `steps` items: point at it instead of repeating it.
  const spec = (body.properties as Record<string, { properties: Record<string, Record<string, unknown>> }>).spec;
  const fin = spec?.properties.finally;
  if (fin) fin.items = { $ref: "#/properties/spec/properties/steps/items" };
  return {
    $schema: "http://json-schema.org/draft-07/schema#",
    $id: PIPELINE_JSON_SCHEMA_ID,
    title: "Forja Pipeline",
    description: "A Forja pipeline (apiVersion forja.dev/v1, kind Pipeline). Reference: docs/pipelines.md.",
    ...body,
  };
}

/** The exact text of schemas/pipeline.schema.json. */
export function renderPipelineJsonSchema(): string {
  return `${JSON.stringify(pipelineJsonSchema(), null, 2)}\n`;
}
