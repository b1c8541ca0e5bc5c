/** Content-addressed cache keys for step executions. */
import { createHash } from "node:crypto";
import type { Digest } from "../../artifacts/port.ts";
import { ENV_INPUTS_DIR, ENV_OUTPUTS_DIR } from "./contract.ts";
import type { ResolvedStep } from "./model.ts";

/** Bump when the meaning of the key material changes: every old key then misses. */
export const CACHE_KEY_VERSION = 1;

/** JSON with object keys sorted at every level, no whitespace; undefined members dropped. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value)) throw new Error(`cannot canonicalise ${value}`);
    return JSON.stringify(Object.is(value, -0) ? 0 : value) ?? "null";
  }
  if (Array.isArray(value)) return `[${value.map((v: unknown) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

export type InputArtifactDigests = Readonly<Record<string, Digest | readonly Digest[]>>;

/** The digests bound to a resolved step's input artifacts (lists for fan-in). */
export function inputArtifactDigests(step: ResolvedStep): Record<string, Digest | readonly Digest[]> {
  return Object.fromEntries(Object.entries(step.inputs.artifacts).map(([name, a]) => [name, a.fanIn ? a.digests : a.digest]));
}

/** The exact material hashed by stepCacheKey (useful to explain a cache miss). */
export function cacheKeyMaterial(step: ResolvedStep, inputArtifacts: InputArtifactDigests = inputArtifactDigests(step)): Record<string, unknown> {
  // Paths rendered into the step differ between executions: key them by role, not location.
  const replacements: [string, string][] = [];
  if (step.dirs.inputsDir) replacements.push([step.dirs.inputsDir, `$${ENV_INPUTS_DIR}`]);
  if (step.dirs.outputsDir) replacements.push([step.dirs.outputsDir, `$${ENV_OUTPUTS_DIR}`]);
  replacements.sort((a, b) => b[0].length - a[0].length);
  const norm = (s: string) => replacements.reduce((acc, [from, to]) => acc.split(from).join(to), s);
  return {
    v: CACHE_KEY_VERSION,
    image: step.image ?? null,
    command: step.command.map(norm),
    args: step.args.map(norm),
    script: step.script === undefined ? null : norm(step.script),
    env: Object.fromEntries(Object.entries(step.env).map(([k, v]) => [k, norm(v)])),
    inputs: { params: step.inputs.params, artifacts: inputArtifacts },
    outputs: {
      params: Object.fromEntries(Object.entries(step.outputs.params).map(([name, o]) => [name, o.type])),
      artifacts: Object.keys(step.outputs.artifacts).sort(),
    },
  };
}

/**
 * sha256 (64 hex chars) of the canonical JSON of what determines a step's outputs: image,
 * command, args, script, plain env, input param values, input artifact digests (by input name),
 * declared outputs (names; param types). Not in the key: step/node names, run id/name, secret
 * env, retries, timeouts, resources, cache flag, descriptions, and where the inputs/outputs
 * directories are (rendered paths are keyed as $FORJA_INPUTS_DIR/…). Key order never matters.
 */
export function stepCacheKey(step: ResolvedStep, inputArtifacts: InputArtifactDigests = inputArtifactDigests(step)): string {
  return createHash("sha256").update(canonicalJson(cacheKeyMaterial(step, inputArtifacts))).digest("hex");
}
