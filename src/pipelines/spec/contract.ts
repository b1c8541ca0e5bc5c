/**
 * The executor contract: how a step's process receives its inputs and hands back its outputs.
 * The executor (local or Kubernetes) and the docs use these names; do not hard-code them elsewhere.
 *
 *   $FORJA_INPUTS_DIR/params/<name>       input parameter value (text; JSON for non-strings)
 *   $FORJA_INPUTS_DIR/artifacts/<name>    input artifact: a file, or a directory for fan-in
 *   $FORJA_OUTPUTS_DIR/params/<name>      output parameter written by the step
 *   $FORJA_OUTPUTS_DIR/artifacts/<name>   output artifact written by the step (a file)
 *   FORJA_PARAM_<NAME>                    input parameter value as an env var
 */
import { join } from "node:path";
import type { ResolvedStep } from "./model.ts";
import { formatParamValue } from "./values.ts";

export const ENV_INPUTS_DIR = "FORJA_INPUTS_DIR";
export const ENV_OUTPUTS_DIR = "FORJA_OUTPUTS_DIR";
export const ENV_PARAM_PREFIX = "FORJA_PARAM_";
/** Run id, project and node id (`train[2]`) of the execution, for logging/tracking. */
export const ENV_RUN_ID = "FORJA_RUN_ID";
export const ENV_PROJECT = "FORJA_PROJECT";
export const ENV_NODE_ID = "FORJA_NODE_ID";
/** User env vars may not start with this. */
export const ENV_RESERVED_PREFIX = "FORJA_";

export const PARAMS_DIR = "params";
export const ARTIFACTS_DIR = "artifacts";

/** `FORJA_PARAM_<NAME>`: upper-cased, every non-alphanumeric character replaced by "_". */
export function paramEnvName(name: string): string {
  return ENV_PARAM_PREFIX + name.toUpperCase().replace(/[^A-Z0-9]/g, "_");
}

export function inputParamPath(inputsDir: string, name: string): string {
  return join(inputsDir, PARAMS_DIR, name);
}
export function inputArtifactPath(inputsDir: string, name: string): string {
  return join(inputsDir, ARTIFACTS_DIR, name);
}
export function outputParamPath(outputsDir: string, name: string): string {
  return join(outputsDir, PARAMS_DIR, name);
}
export function outputArtifactPath(outputsDir: string, name: string): string {
  return join(outputsDir, ARTIFACTS_DIR, name);
}

/**
 * File name of iteration `index` inside a fan-in artifact directory: the index zero-padded to
 * the width of the largest index, so a lexical listing is in iteration order (`00`…`11`).
 */
export function fanInEntryName(index: number, count: number): string {
  const width = String(Math.max(0, count - 1)).length;
  return String(index).padStart(width, "0");
}

/** File name for a step's script, by interpreter: node → script.mjs (ESM), python → script.py, sh/bash → script.sh. */
export function scriptFileName(command: readonly string[]): string {
  const exe = (command[0] ?? "").split(/[\\/]/).pop() ?? "";
  if (/^(node|nodejs|bun|deno|tsx)$/.test(exe)) return "script.mjs";
  if (/^(python|python3|python3\.[0-9]+|uv|pypy3?)$/.test(exe)) return "script.py";
  if (/^(sh|bash|zsh|dash|ash)$/.test(exe)) return "script.sh";
  if (/^(Rscript|R)$/.test(exe)) return "script.R";
  return "script";
}

/** The process argv: `command + [scriptPath] + args` for script steps, `command + args` otherwise. */
export function executorArgv(step: ResolvedStep, scriptPath?: string): string[] {
  if (step.script !== undefined) {
    if (scriptPath === undefined) throw new Error(`step ${step.nodeId} has a script: pass the path the script was written to`);
    return [...step.command, scriptPath, ...step.args];
  }
  return [...step.command, ...step.args];
}

/**
 * The full environment of the step's process: the step's env, then the contract variables
 * (inputs/outputs dirs, FORJA_PARAM_*, run id, project, node id). Secret env is not included:
 * the executor passes it separately (WorkloadSpec.secretEnv).
 */
export function executorEnv(
  step: ResolvedStep,
  where: { readonly inputsDir: string; readonly outputsDir: string; readonly runId?: string; readonly project?: string },
): Record<string, string> {
  const env: Record<string, string> = { ...step.env, [ENV_INPUTS_DIR]: where.inputsDir, [ENV_OUTPUTS_DIR]: where.outputsDir, [ENV_NODE_ID]: step.nodeId };
  if (where.runId !== undefined) env[ENV_RUN_ID] = where.runId;
  if (where.project !== undefined) env[ENV_PROJECT] = where.project;
  for (const [name, value] of Object.entries(step.inputs.params)) env[paramEnvName(name)] = formatParamValue(value);
  return env;
}
