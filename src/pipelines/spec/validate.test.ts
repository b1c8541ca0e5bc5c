import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../platform/errors.ts";
import { pipelineIssues, validatePipeline, validatePipelineDocument } from "./index.ts";
import { issuesOf, loadExample, yamlSpec } from "./test-helpers.ts";

/** Issues of a spec given as YAML, as "path: reason" lines. */
function problems(yaml: string): string[] {
  return issuesOf(() => validatePipeline(yamlSpec(yaml)));
}

describe("validatePipeline: a valid complex pipeline", () => {
  const doc = loadExample();
  const { metadata, pipeline } = validatePipelineDocument(doc);

  it("passes and keeps metadata", () => {
    expect(metadata).toMatchObject({ name: "etl", project: "demo" });
    expect(pipelineIssues(doc.spec)).toEqual([]);
  });

  it("orders steps topologically with full dependency sets", () => {
    expect(pipeline.steps.map((s) => s.name)).toEqual(["extract", "validate", "train", "grid", "pick"]);
    expect(pipeline.finally.map((s) => s.name)).toEqual(["notify", "cleanup"]);
    const deps = Object.fromEntries([...pipeline.steps, ...pipeline.finally].map((s) => [s.name, s.dependencies]));
    expect(deps).toEqual({
      extract: [],
      validate: ["extract"],
      train: ["extract", "validate"],
      grid: [],
      pick: ["validate", "train", "grid"],
      notify: ["train"],
      cleanup: ["notify"],
    });
    // Status-only references just wait; the others must succeed.
    expect(pipeline.byName.notify?.requiresSuccess).toEqual([]);
    expect(pipeline.byName.cleanup?.requiresSuccess).toEqual(["notify"]);
    expect(pipeline.byName.pick?.requiresSuccess).toEqual(["validate", "train", "grid"]);
    expect(pipeline.byName.pick?.dependsOn).toEqual(["validate"]);
  });

  it("normalises defaults, quantities, durations and retries", () => {
    const train = pipeline.byName.train!;
    expect(train.resources).toEqual({ requests: { cpu: 0.5, memoryBytes: 512 * 2 ** 20 }, limits: { cpu: 2, memoryBytes: 2 * 2 ** 30 } });
    expect(train.retries).toEqual({ limit: 3, backoffSeconds: 1, factor: 2, maxBackoffSeconds: 60 });
    expect(train.timeoutSeconds).toBe(120);
    expect(train.image).toBe("python:3.12");
    expect(train.command).toEqual(["python3"]);
    expect(train.env).toEqual({ LOG_LEVEL: "info", RUN: "{{run.id}}", SHARD: "{{item}}" });
    const extract = pipeline.byName.extract!;
    expect(extract.image).toBe("node:20");
    expect(extract.command).toEqual(["node"]);
    expect(extract.timeoutSeconds).toBe(600);
    expect(extract.resources).toEqual({ requests: { cpu: 0.5, memoryBytes: 256 * 2 ** 20 }, limits: { cpu: 1, memoryBytes: 2 ** 30 } });
    expect(pipeline.byName.pick?.cache).toBe(false);
    expect(extract.cache).toBe(true);
    expect(pipeline.timeoutSeconds).toBe(3600);
  });

  it("parses when and forEach, and types inputs", () => {
    const train = pipeline.byName.train!;
    expect(train.when?.ast.kind).toBe("logical");
    expect(train.forEach).toMatchObject({ parallelism: 2, items: { kind: "ref", ref: { kind: "stepParam", step: "validate", name: "shards" } } });
    expect(pipeline.byName.grid?.forEach?.items).toEqual({ kind: "static", values: [{ lr: 0.1, depth: 3 }, { lr: 0.01, depth: 5 }] });
    expect(pipeline.byName.validate?.inputs.params).toEqual({
      count: { source: "{{steps.extract.outputs.params.count}}", type: "integer", declared: true },
      threshold: { source: 0.9, type: "number", declared: false },
    });
    expect(pipeline.byName.pick?.inputs.params.scores).toMatchObject({ type: "array", declared: false });
    expect(pipeline.byName.pick?.inputs.artifacts.models).toEqual({ source: "{{steps.train.outputs.artifacts.model}}", step: "train", output: "model", fanIn: true });
    expect(pipeline.byName.validate?.inputs.artifacts.raw?.fanIn).toBe(false);
  });

  it("honours fieldPrefix", () => {
    const lines = issuesOf(() => validatePipeline({ steps: [{ name: "a" }] }, { fieldPrefix: "" }));
    expect(lines).toEqual(['steps[0]: step "a" needs either a script or a command']);
  });

  it("throws one InvalidInputError listing every issue", () => {
    try {
      validatePipeline({ steps: [{ name: "a" }, { name: "b", command: ["x"], dependsOn: ["zzz"] }] });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(InvalidInputError);
      const err = e as InvalidInputError;
      expect(err.details).toHaveLength(2);
      expect(err.message).toBe('spec.steps[0]: step "a" needs either a script or a command (and 1 more)');
    }
  });
});

describe("validatePipeline: errors", () => {
  it("schema errors, with paths and readable reasons", () => {
    expect(
      problems(`
steps:
  - name: Train
    command: x
    bogus: 1
    env: { "a-b": x, OK: { secret: s } }
    retries: { limit: -1 }
    forEach: { items: 5 }
  - { name: b, script: x, cache: "yes", inputs: { params: { p: { valu: 1 } } } }
finally: {}
`),
    ).toEqual([
      'spec.steps[0].bogus: unknown field "bogus"',
      `spec.steps[0].name: must be a lowercase DNS label: a-z, 0-9 and '-', starting and ending with a letter or digit, at most 63 characters (got "Train")`,
      "spec.steps[0].env.OK.key: is required",
      'spec.steps[0].env.a-b: invalid name "a-b": must be an identifier: letters, digits and \'_\', not starting with a digit',
      "spec.steps[0].retries.limit: must be >= 0 (got -1)",
      'spec.steps[0].command: must be a list (got "x")',
      'spec.steps[0].forEach.items: must be a list or a reference to an array ("{{params.X}}", "{{steps.S.outputs.params.P}}") (got 5)',
      'spec.steps[1].cache: must be a boolean (true or false) (got "yes")',
      "spec.steps[1].inputs.params.p.value: is required",
      'spec.steps[1].inputs.params.p.valu: unknown field "valu" (did you mean "value"?)',
      "spec.finally: must be a list (got {})",
    ]);
  });

  it("a spec that is not an object, or without steps", () => {
    expect(problems(`[]`)).toEqual(["spec: must be an object (got [])"]);
    expect(problems(`{ description: x }`)).toEqual(["spec.steps: is required"]);
    expect(problems(`{ steps: [] }`)).toEqual(["spec.steps: must have at least 1 item"]);
  });

  it("duplicate step names across steps and finally", () => {
    expect(
      problems(`
steps:
  - { name: a, command: [x] }
  - { name: a, command: [x] }
finally:
  - { name: a, command: [x] }
`),
    ).toEqual([
      'spec.steps[1].name: duplicate step name "a" (also spec.steps[0].name)',
      'spec.finally[0].name: duplicate step name "a" (also spec.steps[0].name)',
    ]);
  });

  it("unknown steps, outputs and params", () => {
    expect(
      problems(`
params: { rows: { type: integer, default: 1 } }
steps:
  - name: extract
    command: [x]
    outputs: { params: { count: { type: integer } }, artifacts: { data: {} } }
  - name: load
    command: [x]
    args: ["{{params.rws}}", "{{steps.extract.outputs.params.cnt}}", "{{steps.extract.outputs.artifacts.model}}"]
    inputs:
      artifacts: { raw: "{{steps.extrakt.outputs.artifacts.data}}" }
    dependsOn: [nope]
  - name: other
    command: [x]
    args: ["{{steps.load.outputs.params.x}}"]
`),
    ).toEqual([
      'spec.steps[1].inputs.artifacts.raw: unknown step "extrakt" (did you mean "extract"?)',
      'spec.steps[1].args[0]: unknown parameter "rws" (did you mean "rows"?)',
      'spec.steps[1].args[1]: step "extract" has no output parameter "cnt" (declared: count)',
      'spec.steps[1].args[2]: step "extract" has no output artifact "model" (declared: data)',
      'spec.steps[1].dependsOn[0]: unknown step "nope"',
      'spec.steps[2].args[0]: step "load" has no output parameter "x" (it declares none)',
    ]);
  });

  it("malformed references", () => {
    expect(
      problems(`
steps:
  - name: a
    command: [x]
    args: ["{{steps.a.output.params.x}}", "{{params.}}", "{{run.uid}}", "{{ something else }}", "{{inputs.params.nope}}"]
`),
    ).toEqual([
      'spec.steps[0].args[0]: invalid reference "steps.a.output.params.x": expected steps.<step>.outputs.params.<name>, steps.<step>.outputs.artifacts.<name> or steps.<step>.status',
      'spec.steps[0].args[1]: invalid reference "params.": expected params.<name>',
      'spec.steps[0].args[2]: invalid reference "run.uid": expected run.id | run.name | run.project | run.status | run.failedSteps',
      'spec.steps[0].args[4]: unknown input parameter "nope" (it declares none)',
    ]);
  });

  it("cycles, named", () => {
    expect(
      problems(`
steps:
  - { name: a, command: [x], args: ["{{steps.c.outputs.params.p}}"], outputs: { params: { p: {} } } }
  - { name: b, command: [x], dependsOn: [a], outputs: { params: { p: {} } } }
  - { name: c, command: [x], env: { X: "{{steps.b.outputs.params.p}}" }, outputs: { params: { p: {} } } }
  - { name: d, command: [x], dependsOn: [d] }
`),
    ).toEqual(["spec.steps[0].args[0]: dependency cycle: a → c → b → a", "spec.steps[3].dependsOn[0]: dependency cycle: d → d"]);
  });

  it("type mismatches", () => {
    expect(
      problems(`
params:
  rows: { type: integer, default: "many" }
  mode: { type: string, enum: [fast, 2], default: slow }
  name: { type: string, default: x }
steps:
  - name: a
    command: [x]
    outputs: { params: { label: { type: string }, n: { type: integer } }, artifacts: { data: {} } }
  - name: b
    command: [x]
    inputs:
      params:
        n1: { value: "100", type: integer }
        n2: { value: "{{steps.a.outputs.params.label}}", type: integer }
        n3: { value: "n={{params.rows}}", type: integer }
        n4: { value: "{{steps.a.outputs.params.n}}", type: number }
        art: "{{steps.a.outputs.artifacts.data}}"
        flag: { value: 1, type: boolean }
    forEach: { items: "{{params.name}}" }
  - name: c
    command: [x]
    forEach: { items: "shards: {{params.name}}" }
`),
    ).toEqual([
      'spec.params.rows.default: must be an integer, got string "many"',
      "spec.params.mode.enum[1]: must be a string, got integer 2",
      'spec.params.mode.default: "slow" is not one of the enum values ["fast",2]',
      "spec.steps[1].forEach.items: must be an array, but {{params.name}} is string",
      'spec.steps[1].inputs.params.n1.value: expected integer, got string "100"',
      "spec.steps[1].inputs.params.n2.value: expected integer, {{steps.a.outputs.params.label}} is string",
      "spec.steps[1].inputs.params.n3.value: expected integer, a template mixing text and references renders a string",
      "spec.steps[1].inputs.params.art: {{steps.a.outputs.artifacts.data}} is an artifact, not a parameter value; declare it under inputs.artifacts",
      "spec.steps[1].inputs.params.flag.value: expected boolean, got integer 1",
      'spec.steps[2].forEach.items: must be a list or a single reference to an array, like "{{params.shards}}" (got "shards: {{params.name}}")',
    ]);
  });

  it("fan-in turns a forEach output into an array", () => {
    expect(
      problems(`
steps:
  - { name: t, command: [x], forEach: { items: [1, 2] }, outputs: { params: { n: { type: integer } } } }
  - name: u
    command: [x]
    inputs: { params: { n: { value: "{{steps.t.outputs.params.n}}", type: integer }, all: { value: "{{steps.t.outputs.params.n}}", type: array } } }
`),
    ).toEqual(["spec.steps[1].inputs.params.n.value: expected integer, {{steps.t.outputs.params.n}} is array"]);
  });

  it("a step with neither script nor command", () => {
    expect(problems(`{ steps: [{ name: a, args: [x] }] }`)).toEqual(['spec.steps[0]: step "a" needs either a script or a command']);
  });

  it("finally steps referenced by normal steps", () => {
    expect(
      problems(`
steps:
  - { name: a, command: [x], args: ["{{steps.notify.outputs.params.x}}"], dependsOn: [notify], when: "{{steps.notify.status}} == 'Failed'" }
finally:
  - { name: notify, command: [x], outputs: { params: { x: {} } } }
  - { name: after, command: [x], args: ["{{steps.notify.outputs.params.x}}", "{{steps.a.status}}"] }
`),
    ).toEqual([
      'spec.steps[0].args[0]: step "notify" is a finally step; steps cannot depend on finally steps',
      'spec.steps[0].dependsOn[0]: step "notify" is a finally step; steps cannot depend on finally steps',
      'spec.steps[0].when: step "notify" is a finally step; steps cannot depend on finally steps',
    ]);
  });

  it("{{item}}, {{index}}, statuses and run outcome where they are not available", () => {
    expect(
      problems(`
steps:
  - { name: a, command: [x], args: ["{{item}}", "{{index}}", "{{run.status}}"], outputs: { params: { p: {} } } }
  - { name: b, command: [x], args: ["{{steps.a.status}}", "{{item.x}}"], forEach: { items: [{ x: 1 }, { y: 2 }] }, when: "{{item}} == 1" }
  - { name: c, command: [x], forEach: { items: "{{item}}" } }
  - { name: d, image: "{{steps.a.outputs.artifacts.z}}", command: [x] }
`),
    ).toEqual([
      "spec.steps[0].args[0]: {{item}} can only be used in a step with forEach",
      "spec.steps[0].args[1]: {{index}} can only be used in a step with forEach",
      "spec.steps[0].args[2]: {{run.status}} is only available in finally steps",
      "spec.steps[1].args[0]: {{steps.a.status}} can only be used in when or in finally steps",
      'spec.steps[1].args[1]: {{item.x}}: forEach.items[1] ({"y":2}) has no field "x"',
      "spec.steps[1].when: {{item}} cannot be used in when: when is evaluated once for the whole step, before fan-out",
      "spec.steps[2].forEach.items: {{item}} cannot be used in forEach.items",
      "spec.steps[3].image: {{steps.a.outputs.artifacts.z}} is an artifact and cannot be used in image",
    ]);
  });

  it("bad when expressions: syntax errors with their column, type errors", () => {
    expect(
      problems(`
params: { rows: { type: integer, default: 1 }, mode: { type: string, default: a } }
steps:
  - { name: a, command: [x], outputs: { params: { ok: { type: boolean } } } }
  - { name: b, command: [x], when: "{{steps.a.outputs.params.ok}} == true &&" }
  - { name: c, command: [x], when: "({{params.rows}} > 1" }
  - { name: d, command: [x], when: "{{params.mode}} = 'x'" }
  - { name: e, command: [x], when: "{{params.mode}} == full" }
  - { name: f, command: [x], when: "{{params.rows}} == 'x' || {{params.rows}}" }
  - { name: g, command: [x], when: "{{steps.a.status}} == 'Succeded'" }
  - { name: h, command: [x], when: "1 < 2 < 3" }
  - { name: i, command: [x], when: "{{params.rows}} > 1 'x'" }
`),
    ).toEqual([
      'spec.steps[1].when: syntax error at column 41: expected a value, a reference or "(" after "&&", found end of expression',
      'spec.steps[2].when: syntax error at column 21: expected ")" to close the "(" at column 1, found end of expression',
      'spec.steps[3].when: syntax error at column 17: unexpected "=": use "==" to compare',
      "spec.steps[4].when: syntax error at column 20: unexpected \"full\": strings need quotes ('full') and references braces ({{…}})",
      'spec.steps[5].when: type error at column 17: cannot compare {{params.rows}} (integer) with "x" (string): the result would always be false',
      'spec.steps[5].when: type error at column 27: "||" needs booleans, {{params.rows}} is integer',
      'spec.steps[6].when: type error at column 23: {{steps.a.status}} is never "Succeded"; expected one of Succeeded, Failed, Skipped, Cancelled',
      "spec.steps[7].when: syntax error at column 7: comparisons cannot be chained; use parentheses and && / ||",
      'spec.steps[8].when: syntax error at column 21: unexpected "\'x\'"; expected an operator (==, !=, <, <=, >, >=, &&, ||) or the end',
    ]);
  });

  it("invalid durations and quantities", () => {
    expect(
      problems(`
defaults: { timeoutSeconds: 0 }
timeoutSeconds: 1 hour
steps:
  - name: a
    command: [x]
    timeoutSeconds: "5 minutes"
    retries: { backoffSeconds: 10s, maxBackoffSeconds: 5s }
    resources:
      requests: { cpu: "0.5 cores", memory: 512MB }
      limits: { cpu: 0, memory: -1 }
  - name: b
    command: [x]
    resources:
      requests: { cpu: 2, memory: 2Gi }
      limits: { cpu: 1500m, memory: "1G" }
`),
    ).toEqual([
      'spec.timeoutSeconds: must be a number of seconds or a duration like "90s", "10m", "1h30m" (got "1 hour")',
      'spec.steps[0].timeoutSeconds: must be a number of seconds or a duration like "90s", "10m", "1h30m" (got "5 minutes")',
      'spec.steps[0].resources.requests.cpu: must be cores (0.5, 2) or millicores ("500m") (got "0.5 cores")',
      'spec.steps[0].resources.requests.memory: must be bytes or a quantity like "512Mi", "1Gi", "1G" (got "512MB")',
      'spec.steps[0].resources.limits.cpu: must be cores (0.5, 2) or millicores ("500m") (got 0)',
      'spec.steps[0].resources.limits.memory: must be bytes or a quantity like "512Mi", "1Gi", "1G" (got -1)',
      "spec.defaults.timeoutSeconds: must be more than 0 seconds (got 0)",
      "spec.steps[0].retries.maxBackoffSeconds: must not be less than backoffSeconds (10s)",
      "spec.steps[1].resources.requests.cpu: request (2 cores) exceeds the limit (1.5 cores)",
      "spec.steps[1].resources.requests.memory: request (2Gi) exceeds the limit (1G)",
    ]);
  });

  it("reserved env names, env clashes of input params, defaults that reference steps", () => {
    expect(
      problems(`
defaults: { env: { A: "{{steps.a.outputs.params.x}}", forja_x: "1" } }
steps:
  - name: a
    command: [x]
    env: { FORJA_PARAM_X: "1" }
    inputs: { params: { my_param: 1, MY_PARAM: 2 } }
`),
    ).toEqual([
      "spec.defaults.env.A: {{steps.a.outputs.params.x}} cannot be used in defaults, which only see {{params.*}}, {{run.id}}, {{run.name}} and {{run.project}}",
      "spec.defaults.env.forja_x: names starting with FORJA_ are reserved",
      'spec.steps[0].inputs.params.MY_PARAM: "MY_PARAM" and "my_param" both map to the env var FORJA_PARAM_MY_PARAM',
      "spec.steps[0].env.FORJA_PARAM_X: names starting with FORJA_ are reserved",
    ]);
  });

  it("keeps checking the valid parts of a step that has schema errors", () => {
    expect(
      problems(`
steps:
  - name: a
    command: [x]
    cache: maybe
    args: ["{{params.nope}}"]
    outputs: { params: { "bad name": {} } }
  - { name: b, command: [x], args: ["{{steps.a.outputs.params.whatever}}"] }
`),
    ).toEqual([
      'spec.steps[0].cache: must be a boolean (true or false) (got "maybe")',
      'spec.steps[0].outputs.params["bad name"]: invalid name "bad name": must be an identifier: letters, digits and \'_\', not starting with a digit',
      'spec.steps[0].args[0]: unknown parameter "nope" (the pipeline declares no params)',
    ]);
  });

  it("validates whole documents", () => {
    const lines = issuesOf(() => validatePipelineDocument({ apiVersion: "forja.dev/v2", kind: "Pipeline", metadata: {}, spec: { steps: [{ name: "a" }] } }));
    expect(lines).toEqual([
      'apiVersion: must be "forja.dev/v1" (got "forja.dev/v2")',
      "metadata.name: is required",
      'spec.steps[0]: step "a" needs either a script or a command',
    ]);
  });
});
