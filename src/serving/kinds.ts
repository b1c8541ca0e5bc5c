/**
 * The Deployment kind: serves versions of a registered model (ONNX, in process) through the
 * Open Inference Protocol. See docs/adr/0010-serving.md and src/serving/README.md.
 */
import { Type, type Static } from "@sinclair/typebox";
import type { FieldIssue } from "../platform/errors.ts";
import type { KindDefinition } from "../resources/kinds.ts";
import { Condition } from "../resources/model.ts";

const ModelName = Type.String({ minLength: 1, maxLength: 256, description: "registered model name (in the deployment's project)" });
const Alias = Type.String({ minLength: 1, maxLength: 256, description: "registry alias, e.g. champion" });
const VersionNumber = Type.Integer({ minimum: 1, description: "model version number" });

export const ModelRef = Type.Object(
  {
    name: ModelName,
    alias: Type.Optional(Alias),
    version: Type.Optional(VersionNumber),
  },
  { additionalProperties: false, description: "the model version to serve: {name, alias} (follows the alias) or {name, version}" },
);
export type ModelRef = Static<typeof ModelRef>;

export const TrafficTarget = Type.Object(
  {
    alias: Type.Optional(Alias),
    version: Type.Optional(VersionNumber),
    percent: Type.Integer({ minimum: 0, maximum: 100 }),
  },
  { additionalProperties: false },
);
export type TrafficTarget = Static<typeof TrafficTarget>;

export const DeploymentSpec = Type.Object(
  {
    model: ModelRef,
    traffic: Type.Optional(
      Type.Array(TrafficTarget, {
        maxItems: 8,
        description: "canary split across versions of spec.model.name (percents sum to 100); default: 100% to spec.model",
      }),
    ),
    shadow: Type.Optional(
      Type.Object(
        { alias: Type.Optional(Alias), version: Type.Optional(VersionNumber), percent: Type.Integer({ minimum: 1, maximum: 100, default: 100 }) },
        { additionalProperties: false, description: "mirror requests to this version; its answers are discarded, latency and disagreement measured" },
      ),
    ),
    batching: Type.Optional(
      Type.Object(
        {
          maxBatchSize: Type.Integer({ minimum: 1, maximum: 4096, default: 32 }),
          maxDelayMs: Type.Number({ minimum: 0, maximum: 1000, default: 2 }),
        },
        {
          additionalProperties: false,
          description: "adaptive batching (off when absent): requests are merged along the first dimension; maxDelayMs 0 merges the requests that arrive together and never waits",
        },
      ),
    ),
    runtime: Type.Optional(
      Type.Object(
        {
          mode: Type.Union([Type.Literal("inline"), Type.Literal("workers")], {
            default: "inline",
            description: "inline: one session on the server thread (best for small models, see bench/serving.ts); workers: a pool of worker threads, one session each",
          }),
          workers: Type.Optional(Type.Integer({ minimum: 1, maximum: 64, description: "workers mode: pool size (default: one less than the cores, at least 1)" })),
          intraOpThreads: Type.Optional(Type.Integer({ minimum: 1, maximum: 64, description: "onnxruntime intra-op threads per session (default 1)" })),
        },
        { additionalProperties: false },
      ),
    ),
    rateLimit: Type.Optional(
      Type.Object(
        { requestsPerSecond: Type.Number({ exclusiveMinimum: 0 }), burst: Type.Optional(Type.Integer({ minimum: 1 })) },
        { additionalProperties: false, description: "token bucket per credential (key or token); 429 when empty" },
      ),
    ),
    monitoring: Type.Optional(
      Type.Object(
        {
          enabled: Type.Boolean({ default: true, description: "log sampled requests (default on)" }),
          sampleRate: Type.Number({ minimum: 0, maximum: 1, default: 1, description: "share of requests logged (0..1)" }),
          maxRows: Type.Integer({ minimum: 100, maximum: 1_000_000, default: 10_000, description: "rows kept in the payload log; the oldest are deleted beyond this" }),
          maxRowsPerSecond: Type.Integer({
            minimum: 1,
            maximum: 1_000_000,
            default: 1000,
            description: "rows logged per second at most; above it requests are sampled out (a log of maxRows rows written faster than that would only hold the last seconds)",
          }),
        },
        { additionalProperties: false, description: "payload logging for drift monitoring (src/monitoring); default: on, every request up to 1,000 rows/s, 10,000 rows" },
      ),
    ),
  },
  { additionalProperties: false },
);
export type DeploymentSpec = Static<typeof DeploymentSpec>;

export const DeploymentPhase = Type.Union([Type.Literal("Progressing"), Type.Literal("Ready"), Type.Literal("Failed")]);
export type DeploymentPhase = Static<typeof DeploymentPhase>;

export const ServedVersion = Type.Object({
  version: Type.Integer(),
  percent: Type.Integer(),
  role: Type.Union([Type.Literal("primary"), Type.Literal("canary"), Type.Literal("shadow")]),
  digest: Type.Optional(Type.String()),
  loadSeconds: Type.Optional(Type.Number()),
});

export const DeploymentStatus = Type.Object({
  phase: DeploymentPhase,
  reason: Type.Optional(Type.String()),
  message: Type.Optional(Type.String()),
  observedGeneration: Type.Optional(Type.Integer()),
  /** What is serving now (after a switch completes). */
  serving: Type.Optional(Type.Array(ServedVersion)),
  /** The primary version before the current one: the target of `rollback`. */
  previousVersion: Type.Optional(Type.Integer()),
  url: Type.Optional(Type.String({ description: "OIP v2 inference URL (relative to the server)" })),
  inputs: Type.Optional(Type.Array(Type.Object({ name: Type.String(), datatype: Type.String(), shape: Type.Array(Type.Integer()) }))),
  outputs: Type.Optional(Type.Array(Type.Object({ name: Type.String(), datatype: Type.String(), shape: Type.Array(Type.Integer()) }))),
  shadow: Type.Optional(
    Type.Object({
      version: Type.Integer(),
      requests: Type.Integer(),
      disagreements: Type.Integer(),
      errors: Type.Integer(),
      disagreementRate: Type.Number(),
      meanLatencyMs: Type.Number(),
    }),
  ),
  conditions: Type.Optional(Type.Array(Condition)),
});
export type DeploymentStatus = Static<typeof DeploymentStatus>;

function refIssues(ref: { alias?: string | undefined; version?: number | undefined }, path: string): FieldIssue[] {
  const n = (ref.alias !== undefined ? 1 : 0) + (ref.version !== undefined ? 1 : 0);
  return n === 1 ? [] : [{ path, reason: "set exactly one of alias and version" }];
}

export const DeploymentKind: KindDefinition<typeof DeploymentSpec, typeof DeploymentStatus> = {
  kind: "Deployment",
  plural: "deployments",
  singular: "deployment",
  shortNames: ["deploy", "dep"],
  scope: "Project",
  description: "Serves versions of a registered ONNX model over the Open Inference Protocol, with canary, shadow, batching and rate limits.",
  spec: DeploymentSpec,
  status: DeploymentStatus,
  initialStatus: () => ({ phase: "Progressing", reason: "Pending" }),
  validate(m) {
    const issues: FieldIssue[] = [...refIssues(m.spec.model, "spec.model")];
    const traffic = m.spec.traffic;
    if (traffic) {
      if (traffic.length === 0) issues.push({ path: "spec.traffic", reason: "must not be empty (omit it for 100% to spec.model)" });
      traffic.forEach((t, i) => issues.push(...refIssues(t, `spec.traffic[${i}]`)));
      const seen = new Map<string, number>();
      traffic.forEach((t, i) => {
        const k = t.alias !== undefined ? `alias ${JSON.stringify(t.alias)}` : `version ${t.version}`;
        const first = seen.get(k);
        if (first !== undefined) issues.push({ path: `spec.traffic[${i}]`, reason: `${k} is already listed at spec.traffic[${first}]; give each version one entry` });
        else seen.set(k, i);
      });
      const sum = traffic.reduce((s, t) => s + t.percent, 0);
      if (traffic.length && sum !== 100) issues.push({ path: "spec.traffic", reason: `percents must sum to 100 (they sum to ${sum})` });
    }
    if (m.spec.shadow) issues.push(...refIssues(m.spec.shadow, "spec.shadow"));
    return issues;
  },
  columns: [
    { header: "MODEL", path: "spec.model.name" },
    { header: "PHASE", path: "status.phase" },
    { header: "REASON", path: "status.reason" },
    { header: "AGE", path: "metadata.createdAt", format: "age" },
  ],
};
