import { describe, expect, it } from "vitest";
import type { Digest } from "../../artifacts/port.ts";
import { canonicalJson, expandForEach, resolveParams, resolveStep, stepCacheKey, validatePipeline } from "./index.ts";
import type { ResolvedStep, TemplateContext } from "./index.ts";

const d = (c: string): Digest => `sha256:${c.repeat(64)}`;

const spec = {
  params: { rows: { type: "integer", default: 10 }, tag: { type: "string", default: "x" } },
  steps: [
    { name: "extract", command: ["x"], outputs: { artifacts: { data: {} } } },
    {
      name: "train",
      image: "python:3.12",
      command: ["python", "train.py"],
      args: ["--rows", "{{params.rows}}"],
      env: { MODE: "fast", TOKEN: { secret: "hf", key: "token" } },
      inputs: { params: { rows: "{{params.rows}}", lr: 0.1 }, artifacts: { data: "{{steps.extract.outputs.artifacts.data}}" } },
      outputs: { params: { acc: { type: "number" } }, artifacts: { model: {} } },
      retries: 3,
      timeoutSeconds: 60,
    },
    { name: "fan", command: ["x"], forEach: { items: [1, 2] }, args: ["{{item}}"] },
    { name: "log", command: ["echo", "{{run.id}}"] },
  ],
};

function resolve(overrides: { spec?: unknown; supplied?: Record<string, string>; run?: Partial<TemplateContext["run"]>; digest?: Digest } = {}): ResolvedStep {
  const pipeline = validatePipeline(overrides.spec ?? spec);
  const ctx: TemplateContext = {
    params: resolveParams(pipeline, overrides.supplied ?? {}),
    run: { id: "run-1", name: "n1", project: "p", ...overrides.run },
    steps: { extract: { status: "Succeeded", outputs: { artifacts: { data: overrides.digest ?? d("a") } } } },
    inputsDir: "/in",
    outputsDir: "/out",
  };
  return resolveStep(pipeline.byName.train!, ctx);
}

function withTrain(patch: Record<string, unknown>): unknown {
  return { ...spec, steps: spec.steps.map((s) => (s.name === "train" ? { ...s, ...patch } : s)) };
}

describe("stepCacheKey", () => {
  const base = stepCacheKey(resolve());

  it("is a sha256 hex digest, stable for the same input", () => {
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    expect(stepCacheKey(resolve())).toBe(base);
  });

  it("does not depend on key order", () => {
    const r = resolve();
    const reordered: ResolvedStep = {
      ...r,
      env: Object.fromEntries(Object.entries(r.env).reverse()),
      inputs: { artifacts: r.inputs.artifacts, params: Object.fromEntries(Object.entries(r.inputs.params).reverse()) },
      outputs: { artifacts: r.outputs.artifacts, params: r.outputs.params },
    };
    expect(Object.keys(reordered.inputs.params)).toEqual(["lr", "rows"]);
    expect(stepCacheKey(reordered)).toBe(base);
    expect(canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: null } })).toBe('{"a":{"c":null,"d":[2,{"e":0,"f":1}]},"b":1}');
  });

  it("ignores run id/name, step name, retries, timeouts, resources, secrets", () => {
    expect(stepCacheKey(resolve({ run: { id: "run-2", name: "n2" } }))).toBe(base);
    expect(stepCacheKey(resolve({ spec: withTrain({ retries: 0, timeoutSeconds: 5, resources: { limits: { cpu: 4 } } }) }))).toBe(base);
    expect(stepCacheKey(resolve({ spec: withTrain({ env: { MODE: "fast", TOKEN: { secret: "other", key: "k" } } }) }))).toBe(base);
    expect(stepCacheKey({ ...resolve(), name: "other", nodeId: "other" })).toBe(base);
  });

  it("changes when command, args, image, env, params, input digests or outputs change", () => {
    const keys = [
      resolve({ spec: withTrain({ command: ["python3", "train.py"] }) }),
      resolve({ supplied: { rows: "11" } }),
      resolve({ spec: withTrain({ image: "python:3.13" }) }),
      resolve({ spec: withTrain({ env: { MODE: "slow" } }) }),
      resolve({ digest: d("b") }),
      resolve({ spec: withTrain({ outputs: { params: { acc: { type: "string" } }, artifacts: { model: {} } } }) }),
      resolve({ spec: withTrain({ outputs: { params: { acc: { type: "number" } }, artifacts: { model: {}, extra: {} } } }) }),
      resolve({ spec: withTrain({ inputs: { params: { rows: "{{params.rows}}", lr: 0.2 }, artifacts: { data: "{{steps.extract.outputs.artifacts.data}}" } } }) }),
    ].map((r) => stepCacheKey(r));
    for (const k of keys) expect(k).not.toBe(base);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it("does not depend on where the inputs/outputs directories are", () => {
    const pipeline = validatePipeline(withTrain({ args: ["--data", "{{inputs.artifacts.data}}", "--out", "{{outputs.artifacts.model}}", "{{steps.extract.outputs.artifacts.data}}"] }));
    const key = (inputsDir: string, outputsDir: string) =>
      stepCacheKey(
        resolveStep(pipeline.byName.train!, {
          params: resolveParams(pipeline, {}),
          run: { id: "r", name: "n", project: "p" },
          steps: { extract: { status: "Succeeded", outputs: { artifacts: { data: d("a") } } } },
          inputsDir,
          outputsDir,
        }),
      );
    expect(key("/runs/1/train/in", "/runs/1/train/out")).toBe(key("/runs/2/train/in", "/runs/2/train/out"));
    expect(key("/runs/1/train/in", "/runs/1/train/out")).not.toBe(base);
  });

  it("uses explicitly given input digests", () => {
    expect(stepCacheKey(resolve(), { data: d("a") })).toBe(base);
    expect(stepCacheKey(resolve(), { data: d("c") })).not.toBe(base);
  });

  it("changes when the run id is part of the step's content", () => {
    const pipeline = validatePipeline(spec);
    const key = (id: string) =>
      stepCacheKey(resolveStep(pipeline.byName.log!, { params: resolveParams(pipeline, {}), run: { id, name: "n", project: "p" } }));
    expect(key("a")).not.toBe(key("b"));
  });

  it("differs between forEach iterations with different items", () => {
    const pipeline = validatePipeline(spec);
    const ctx: TemplateContext = { params: resolveParams(pipeline, {}), run: { id: "r", name: "n", project: "p" } };
    const [i0, i1] = expandForEach(pipeline.byName.fan!, ctx);
    expect(stepCacheKey(resolveStep(pipeline.byName.fan!, ctx, i0))).not.toBe(stepCacheKey(resolveStep(pipeline.byName.fan!, ctx, i1)));
  });
});
