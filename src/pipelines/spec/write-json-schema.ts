/**
 * Regenerates schemas/pipeline.schema.json from the TypeBox schema:
 *
 *   npx tsx src/pipelines/spec/write-json-schema.ts
 *
 * json-schema.test.ts fails when the committed file is out of date.
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { PIPELINE_JSON_SCHEMA_FILE, renderPipelineJsonSchema } from "./json-schema.ts";

const target = fileURLToPath(new URL(`../../../${PIPELINE_JSON_SCHEMA_FILE}`, import.meta.url));
writeFileSync(target, renderPipelineJsonSchema());
console.log(`wrote ${target}`);
