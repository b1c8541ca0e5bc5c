/**
 * Input validation for workload specs. Shared by the local adapter; written against the port only,
 * so other adapters may reuse it.
 */
import { InvalidInputError, type FieldIssue } from "../../platform/errors.ts";
import type { WorkloadSpec } from "../port.ts";

/** Workload ids double as directory names: this pattern makes path traversal impossible. */
export const WORKLOAD_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,127}$/;
const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function isValidWorkloadId(id: unknown): id is string {
  return typeof id === "string" && WORKLOAD_ID_PATTERN.test(id);
}

export function assertValidWorkloadId(id: unknown, field = "id"): asserts id is string {
  if (!isValidWorkloadId(id)) {
    throw InvalidInputError.field(field, "must match [a-z0-9][a-z0-9-]{0,127}");
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function hasNul(s: string): boolean {
  return s.includes("\0");
}

function checkStringArray(value: unknown, field: string, issues: FieldIssue[], nonEmpty: boolean): void {
  if (!Array.isArray(value)) {
    issues.push({ path: field, reason: "must be an array of strings" });
    return;
  }
  if (nonEmpty && value.length === 0) issues.push({ path: field, reason: "must not be empty" });
  value.forEach((item: unknown, i) => {
    if (typeof item !== "string") issues.push({ path: `${field}[${i}]`, reason: "must be a string" });
    else if (hasNul(item)) issues.push({ path: `${field}[${i}]`, reason: "must not contain NUL characters" });
  });
}

/** Checks names and values; never echoes a value (they may be secrets). */
function checkEnv(value: unknown, field: string, issues: FieldIssue[]): void {
  if (value === undefined) return;
  if (!isRecord(value)) {
    issues.push({ path: field, reason: "must be an object of string values" });
    return;
  }
  for (const [name, v] of Object.entries(value)) {
    if (!ENV_NAME_PATTERN.test(name)) issues.push({ path: `${field}.${name}`, reason: "is not a valid variable name" });
    if (typeof v !== "string") issues.push({ path: `${field}.${name}`, reason: "must be a string" });
    else if (hasNul(v)) issues.push({ path: `${field}.${name}`, reason: "must not contain NUL characters" });
  }
}

function checkNumber(value: unknown, field: string, issues: FieldIssue[], min: number, exclusive: boolean): void {
  if (value === undefined) return;
  if (typeof value !== "number" || !Number.isFinite(value) || (exclusive ? value <= min : value < min)) {
    issues.push({ path: field, reason: `must be a number ${exclusive ? ">" : ">="} ${min}` });
  }
}

function checkQuantities(value: unknown, field: string, issues: FieldIssue[]): void {
  if (value === undefined) return;
  if (!isRecord(value)) {
    issues.push({ path: field, reason: "must be an object" });
    return;
  }
  checkNumber(value.cpu, `${field}.cpu`, issues, 0, true);
  const mem = value.memoryBytes;
  if (mem !== undefined && (typeof mem !== "number" || !Number.isSafeInteger(mem) || mem <= 0)) {
    issues.push({ path: `${field}.memoryBytes`, reason: "must be a positive integer" });
  }
}

/** Throws InvalidInputError listing every problem of the spec. */
export function validateWorkloadSpec(spec: WorkloadSpec): void {
  const issues: FieldIssue[] = [];
  const s: unknown = spec;
  if (!isRecord(s)) throw InvalidInputError.field("", "workload spec must be an object");
  if (!isValidWorkloadId(s.id)) issues.push({ path: "id", reason: "must match [a-z0-9][a-z0-9-]{0,127}" });
  checkStringArray(s.command, "command", issues, true);
  if (Array.isArray(s.command) && s.command[0] === "") issues.push({ path: "command[0]", reason: "must not be empty" });
  if (s.args !== undefined) checkStringArray(s.args, "args", issues, false);
  if (s.image !== undefined && typeof s.image !== "string") issues.push({ path: "image", reason: "must be a string" });
  checkEnv(s.env, "env", issues);
  checkEnv(s.secretEnv, "secretEnv", issues);
  if (isRecord(s.env) && isRecord(s.secretEnv)) {
    for (const name of Object.keys(s.secretEnv)) {
      if (Object.hasOwn(s.env, name)) issues.push({ path: `secretEnv.${name}`, reason: "is also set in env" });
    }
  }
  if (s.workingDir !== undefined && (typeof s.workingDir !== "string" || s.workingDir === "" || hasNul(s.workingDir))) {
    issues.push({ path: "workingDir", reason: "must be a non-empty path" });
  }
  if (s.volumes !== undefined) {
    if (!Array.isArray(s.volumes)) issues.push({ path: "volumes", reason: "must be an array" });
    else {
      s.volumes.forEach((v: unknown, i) => {
        const field = `volumes[${i}]`;
        if (!isRecord(v)) {
          issues.push({ path: field, reason: "must be an object" });
          return;
        }
        if (typeof v.source !== "string" || v.source === "" || hasNul(v.source)) {
          issues.push({ path: `${field}.source`, reason: "must be a non-empty string" });
        }
        const mp = v.mountPath;
        if (typeof mp !== "string" || mp.replace(/\/+/g, "") === "" || hasNul(mp)) {
          issues.push({ path: `${field}.mountPath`, reason: "must be a non-empty path" });
        } else if (mp.split("/").some((seg) => seg === "..")) {
          issues.push({ path: `${field}.mountPath`, reason: "must not contain '..' segments" });
        }
        if (v.readOnly !== undefined && typeof v.readOnly !== "boolean") {
          issues.push({ path: `${field}.readOnly`, reason: "must be a boolean" });
        }
      });
    }
  }
  if (s.resources !== undefined) {
    if (!isRecord(s.resources)) issues.push({ path: "resources", reason: "must be an object" });
    else {
      checkQuantities(s.resources.requests, "resources.requests", issues);
      checkQuantities(s.resources.limits, "resources.limits", issues);
    }
  }
  if (s.labels !== undefined) {
    if (!isRecord(s.labels)) issues.push({ path: "labels", reason: "must be an object of string values" });
    else {
      for (const [k, v] of Object.entries(s.labels)) {
        if (k === "") issues.push({ path: "labels", reason: "keys must not be empty" });
        if (typeof v !== "string") issues.push({ path: `labels.${k}`, reason: "must be a string" });
      }
    }
  }
  checkNumber(s.timeoutSeconds, "timeoutSeconds", issues, 0, true);
  checkNumber(s.gracePeriodSeconds, "gracePeriodSeconds", issues, 0, false);
  if (issues.length > 0) throw InvalidInputError.of(issues, "invalid workload spec");
}

export function validateGracePeriod(value: unknown, field = "gracePeriodSeconds"): void {
  if (value === undefined) return;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw InvalidInputError.field(field, "must be a number >= 0");
  }
}
