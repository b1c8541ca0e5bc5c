import { describe, expect, it } from "vitest";
import type { Digest } from "../../artifacts/port.ts";
import {
  evaluateWhen,
  executorArgv,
  executorEnv,
  expandForEach,
  nodeId,
  parseNodeId,
  parseWhen,
  renderTemplate,
  resolveParams,
  resolveStep,
  resolveValue,
  validatePipelineDocument,
} from "./index.ts";
import type { StepState, TemplateContext } from "./index.ts";
import { issuesOf, loadExample } from "./test-helpers.ts";

const d = (c: string): Digest => `sha256:${c.repeat(64)}`;
const { pipeline } = validatePipelineDocument(loadExample());
const step = (name: string) => {
  const s = pipeline.byName[name];
  if (!s) throw new Error(`no step ${name}`);
  return s;
};

const steps: Record<string, StepState> = {
  extract: { status: "Succeeded", outputs: { params: { count: 1000 }, artifacts: { data: d("a") } } },
  validate: { status: "Succeeded", outputs: { params: { ok: true, shards: [{ id: 7, files: ["x", "y"] }, { id: 8, files: [] }] } } },
  train: {
    status: "Succeeded",
    iterations: [
      { status: "Succeeded", outputs: { params: { accuracy: 0.91 }, artifacts: { model: d("b") } } },
      { status: "Succeeded", outputs: { params: { accuracy: 0.93 }, artifacts: { model: d("c") } } },
    ],
  },
  grid: {
    status: "Succeeded",
    iterations: [{ outputs: { params: { score: 1 } } }, { outputs: { params: { score: 2.5 } } }],
  },
};

const ctx: TemplateContext = {
  params: resolveParams(pipeline, { rows: "5000", mode: "full" }),
  run: { id: "r-123", name: "etl-7", project: "demo" },
  steps,
  inputsDir: "/w/in",
  outputsDir: "/w/out",
};

describe("renderTemplate", () => {
  it("substitutes params, run info, upstream outputs and statuses", () => {
    expect(renderTemplate("rows={{params.rows}} mode={{ params.mode }} run={{run.id}}/{{run.name}}@{{run.project}}", ctx)).toBe(
      "rows=5000 mode=full run=r-123/etl-7@demo",
    );
    expect(renderTemplate("{{steps.extract.outputs.params.count}} {{steps.validate.outputs.params.ok}} {{steps.extract.status}}", ctx)).toBe(
      "1000 true Succeeded",
    );
    expect(renderTemplate("{{params.shards}}", ctx)).toBe("[1,2,3]");
  });

  it("renders fan-in lists as JSON arrays in index order", () => {
    expect(renderTemplate("{{steps.train.outputs.params.accuracy}}", ctx)).toBe("[0.91,0.93]");
    expect(resolveValue("{{steps.grid.outputs.params.score}}", ctx)).toEqual([1, 2.5]);
  });

  it("renders artifacts and the step's own files as local paths", () => {
    expect(renderTemplate("{{steps.extract.outputs.artifacts.data}}", ctx)).toBe("/w/in/artifacts/extract.data");
    expect(renderTemplate("{{outputs.params.ok}} {{outputs.artifacts.m}} {{inputs.artifacts.raw}}", ctx)).toBe(
      "/w/out/params/ok /w/out/artifacts/m /w/in/artifacts/raw",
    );
    const custom = { ...ctx, artifactPath: (r: { inputName: string; fanIn: boolean }) => `/mnt/${r.inputName}${r.fanIn ? "/" : ""}` };
    expect(renderTemplate("{{steps.train.outputs.artifacts.model}}", custom)).toBe("/mnt/train.model/");
  });

  it("leaves {{ … }} that are not references alone", () => {
    expect(renderTemplate("f'{{x}}' {{ user.name }} {{items}}", ctx)).toBe("f'{{x}}' {{ user.name }} {{items}}");
  });

  it("reports unresolvable references clearly", () => {
    expect(issuesOf(() => renderTemplate("{{params.nope}}", ctx, "spec.steps[0].args[0]"))).toEqual([
      'spec.steps[0].args[0]: parameter "nope" has no value',
    ]);
    expect(issuesOf(() => renderTemplate("{{steps.later.outputs.params.x}}", ctx, "a"))).toEqual(['a: step "later" has not run']);
    const skipped = { ...ctx, steps: { ...steps, extract: { status: "Skipped" as const } } };
    expect(issuesOf(() => renderTemplate("{{steps.extract.outputs.params.count}}", skipped, "a"))).toEqual([
      'a: output parameter "count" of step "extract" is not available (status Skipped)',
    ]);
    const partial = { ...ctx, steps: { ...steps, train: { status: "Failed" as const, iterations: [{ status: "Succeeded" as const, outputs: { params: { accuracy: 1 } } }, { status: "Failed" as const }] } } };
    expect(issuesOf(() => renderTemplate("{{steps.train.outputs.params.accuracy}}", partial, "a"))).toEqual([
      'a: output parameter "accuracy" of iteration train[1] is not available (status Failed)',
    ]);
    expect(issuesOf(() => renderTemplate("{{run.status}}", ctx, "a"))).toEqual(["a: {{run.status}} is only available in finally steps"]);
    expect(issuesOf(() => renderTemplate("{{item}}", ctx, "a"))).toEqual(["a: {{item}} is only available in forEach iterations"]);
    const noDirs = { params: ctx.params, run: ctx.run, steps };
    expect(issuesOf(() => renderTemplate("{{outputs.params.x}}", noDirs, "a"))).toEqual([
      "a: {{outputs.params.x}}: the outputs directory is not known in this context",
    ]);
  });
});

describe("resolveStep", () => {
  it("resolves a plain step: typed inputs, declared and inline artifacts, paths", () => {
    const r = resolveStep(step("validate"), ctx);
    expect(r).toMatchObject({
      name: "validate",
      nodeId: "validate",
      image: "node:20",
      command: ["node", "validate.mjs"],
      args: ["--in", "/w/in/artifacts/raw", "--ok", "/w/out/params/ok", "--threshold", "0.9"],
      env: { LOG_LEVEL: "info", RUN: "r-123" },
      inputs: {
        params: { count: 1000, threshold: 0.9 },
        artifacts: { raw: { step: "extract", output: "data", fanIn: false, digest: d("a") } },
      },
      outputs: { params: { ok: { type: "boolean" }, shards: { type: "array" } }, artifacts: {} },
      retries: { limit: 2 },
      timeoutSeconds: 600,
      cache: true,
    });
    expect(r.script).toBeUndefined();
  });

  it("binds item and index in each iteration; inline artifacts become inputs", () => {
    const its = expandForEach(step("train"), ctx);
    expect(its.map((i) => i.nodeId)).toEqual(["train[0]", "train[1]"]);
    const r = resolveStep(step("train"), ctx, its[1]);
    expect(r.nodeId).toBe("train[1]");
    expect(r.index).toBe(1);
    expect(r.item).toEqual({ id: 8, files: [] });
    expect(r.script).toBe('print("shard {"id":8,"files":[]} of index 1")\n');
    expect(r.scriptFileName).toBe("script.py");
    expect(r.env.SHARD).toBe('{"id":8,"files":[]}');
    expect(r.inputs.params).toEqual({ shard: { id: 8, files: [] }, index: 1 });
    expect(r.args).toEqual(["--data", "/w/in/artifacts/extract.data"]);
    expect(r.inputs.artifacts).toEqual({ "extract.data": { step: "extract", output: "data", fanIn: false, digest: d("a") } });
  });

  it("resolves item fields from static items", () => {
    const its = expandForEach(step("grid"), ctx);
    expect(its).toEqual([
      { index: 0, item: { lr: 0.1, depth: 3 }, nodeId: "grid[0]" },
      { index: 1, item: { lr: 0.01, depth: 5 }, nodeId: "grid[1]" },
    ]);
    expect(resolveStep(step("grid"), ctx, its[0]).args).toEqual(["--lr", "0.1", "--depth", "3"]);
    expect(resolveStep(step("grid"), ctx, its[1]).scriptFileName).toBe("script.mjs");
  });

  it("fans in: lists of values and of artifact digests", () => {
    const r = resolveStep(step("pick"), ctx);
    expect(r.inputs.params).toEqual({ accuracies: [0.91, 0.93], scores: [1, 2.5] });
    expect(r.inputs.artifacts).toEqual({ models: { step: "train", output: "model", fanIn: true, digests: [d("b"), d("c")] } });
    expect(r.cache).toBe(false);
  });

  it("finally steps see the run outcome and statuses", () => {
    const fctx = { ...ctx, run: { ...ctx.run, status: "Failed" as const, failedSteps: ["train"] } };
    const r = resolveStep(step("notify"), fctx);
    expect(r.script).toBe('console.log("run etl-7 ended Failed; failed: ["train"]; train: Succeeded")\n');
    expect(r.env.STATUS).toBe("Failed");
    expect(resolveStep(step("cleanup"), { ...fctx, steps: { ...steps, notify: { status: "Succeeded" } } }).command).toEqual([
      "sh",
      "-c",
      "echo cleanup Succeeded",
    ]);
  });

  it("lists every unresolvable field, and checks input types at run time", () => {
    const bad = { ...ctx, steps: { ...steps, extract: { status: "Succeeded" as const, outputs: { params: { count: "lots" } } } } };
    expect(issuesOf(() => resolveStep(step("validate"), bad))).toEqual([
      'spec.steps[1].inputs.params.count: input must be an integer, got string "lots"',
      'spec.steps[1].inputs.artifacts.raw: output artifact "data" of step "extract" is not available (status Succeeded)',
    ]);
  });

  it("requires an iteration exactly for forEach steps", () => {
    expect(() => resolveStep(step("train"), ctx)).toThrow(/expandForEach/);
    expect(() => resolveStep(step("validate"), ctx, { index: 0, item: 1 })).toThrow(/no forEach/);
  });

  it("expandForEach rejects non-arrays at run time", () => {
    const bad = { ...ctx, steps: { ...steps, validate: { status: "Succeeded" as const, outputs: { params: { shards: "1,2" } } } } };
    expect(issuesOf(() => expandForEach(step("train"), bad))).toEqual(['spec.steps[2].forEach.items: must resolve to an array, got "1,2"']);
    const empty = { ...ctx, steps: { ...steps, validate: { status: "Succeeded" as const, outputs: { params: { shards: [] } } } } };
    expect(expandForEach(step("train"), empty)).toEqual([]);
  });

  it("executor helpers: argv and env", () => {
    const r = resolveStep(step("extract"), ctx);
    expect(executorArgv(r, "/w/script.mjs")).toEqual(["node", "/w/script.mjs"]);
    expect(() => executorArgv(r)).toThrow(/script/);
    expect(executorEnv(r, { inputsDir: "/w/in", outputsDir: "/w/out", runId: "r-123", project: "demo" })).toEqual({
      LOG_LEVEL: "info",
      RUN: "r-123",
      FORJA_INPUTS_DIR: "/w/in",
      FORJA_OUTPUTS_DIR: "/w/out",
      FORJA_NODE_ID: "extract",
      FORJA_RUN_ID: "r-123",
      FORJA_PROJECT: "demo",
      FORJA_PARAM_ROWS: "5000",
    });
    const v = resolveStep(step("validate"), ctx);
    expect(executorArgv(v)).toEqual(["node", "validate.mjs", "--in", "/w/in/artifacts/raw", "--ok", "/w/out/params/ok", "--threshold", "0.9"]);
  });

  it("node ids", () => {
    expect(nodeId("train")).toBe("train");
    expect(nodeId("train", 3)).toBe("train[3]");
    expect(parseNodeId("train[3]")).toEqual({ step: "train", index: 3 });
    expect(parseNodeId("train")).toEqual({ step: "train" });
  });
});

describe("evaluateWhen", () => {
  const when = (src: string, c: TemplateContext = ctx) => evaluateWhen(parseWhen(src), c);

  it("evaluates the step's condition", () => {
    expect(evaluateWhen(step("train").when!.ast, ctx)).toBe(true);
    const notOk = { ...ctx, steps: { ...steps, validate: { status: "Succeeded" as const, outputs: { params: { ok: false } } } } };
    expect(evaluateWhen(step("train").when!.ast, notOk)).toBe(false);
  });

  it("operators, precedence, literals", () => {
    expect(when("1 < 2 && 2 <= 2 && 3 > 2 && 3 >= 3")).toBe(true);
    expect(when("true || false && false")).toBe(true);
    expect(when("(true || false) && false")).toBe(false);
    expect(when("!false && !(1 == 2)")).toBe(true);
    expect(when("{{params.mode}} == 'full' && {{params.mode}} != \"fast\"")).toBe(true);
    expect(when("{{params.rows}} > 4999.5 && {{params.rows}} == 5000")).toBe(true);
    expect(when("'abc' < 'abd'")).toBe(true);
    expect(when("{{params.shards}} == {{params.shards}}")).toBe(true);
    expect(when("-1 < 0")).toBe(true);
    expect(when("1 == '1'")).toBe(false);
  });

  it("statuses and run outcome in finally", () => {
    const fctx = { ...ctx, run: { ...ctx.run, status: "Failed" as const, failedSteps: ["train"] } };
    expect(when("{{run.status}} != 'Succeeded' && {{steps.train.status}} == 'Succeeded'", fctx)).toBe(true);
  });

  it("run-time type errors and unresolvable references are clear", () => {
    expect(issuesOf(() => when("{{params.rows}}"))).toEqual(["when: the expression needs a boolean at column 1, got 5000"]);
    expect(issuesOf(() => when("{{params.mode}} < 1"))).toEqual(['when: "<" at column 17 needs two numbers or two strings, got "full" and 1']);
    expect(issuesOf(() => evaluateWhen(parseWhen("{{steps.x.status}} == 'Failed'"), ctx, "spec.steps[0].when"))).toEqual([
      'spec.steps[0].when: step "x" has not run',
    ]);
  });
});
