import { readFileSync } from "node:fs";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import { PIPELINE_JSON_SCHEMA_FILE, pipelineJsonSchema, renderPipelineJsonSchema } from "./index.ts";
import { loadExample } from "./test-helpers.ts";

const committed = readFileSync(new URL(`../../../${PIPELINE_JSON_SCHEMA_FILE}`, import.meta.url), "utf8");

describe("schemas/pipeline.schema.json", () => {
  it("is up to date (regenerate: npx tsx src/pipelines/spec/write-json-schema.ts)", () => {
    expect(committed).toBe(renderPipelineJsonSchema());
  });

  it("compiles with ajv and accepts the example, rejects a broken one", () => {
    const ajv = new Ajv({ allErrors: true, keywords: ["errorMessage", "patternErrorMessage"] });
    const validate = ajv.compile(pipelineJsonSchema());
    expect(validate(loadExample()), JSON.stringify(validate.errors)).toBe(true);
    const broken = loadExample() as { spec: { finally: Record<string, unknown>[] } };
    broken.spec.finally[0]!.bogus = 1;
    expect(validate(broken)).toBe(false);
    expect(validate.errors?.map((e) => e.instancePath)).toContain("/spec/finally/0");
  });
});
