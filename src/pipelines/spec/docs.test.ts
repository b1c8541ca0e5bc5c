import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { pipelineIssues, validatePipelineDocument } from "./index.ts";

const docs = readFileSync(new URL("../../../docs/pipelines.md", import.meta.url), "utf8");
const examples = [...docs.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] ?? "").filter((y) => y.includes("kind: Pipeline"));

describe("docs/pipelines.md", () => {
  it("has complete examples", () => {
    expect(examples.length).toBeGreaterThanOrEqual(2);
  });
  it.each(examples.map((y, i) => [i, y] as const))("example %i is a valid pipeline", (_i, yaml) => {
    const doc = parse(yaml) as { spec: unknown };
    expect(pipelineIssues(doc.spec)).toEqual([]);
    expect(() => validatePipelineDocument(doc)).not.toThrow();
  });
});
