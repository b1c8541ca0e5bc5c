/** MLflow's server-side limits and key rules (reference §4). All failures: 400 INVALID_PARAMETER_VALUE. */
import { MlflowError } from "../mlflow/index.ts";

export const MAX_KEY_LENGTH = 250;
export const MAX_PARAM_VALUE_LENGTH = 6000;
export const MAX_TAG_VALUE_LENGTH = 8000;
export const MAX_EXPERIMENT_TAG_VALUE_LENGTH = 5000;
export const MAX_EXPERIMENT_NAME_LENGTH = 500;
export const MAX_BATCH_METRICS = 1000;
export const MAX_BATCH_PARAMS = 100;
export const MAX_BATCH_TAGS = 100;
export const MAX_BATCH_TOTAL = 1000;
/** SQL store: ±Inf are clamped to ±MAX_VALUE. */
export const CLAMP = 1.7976931348623157e308;

const KEY_RE = /^[/\w.\- :]*$/;
/** A leading "/", "//", or a path segment "." or "..": a name that normalises to another. */
const UNSAFE_PATH_RE = /^\/|\/\/|(^|\/)\.\.?(\/|$)/;

/** Metric / param / tag keys: ≤250 chars, `[/\w.\- :]`, and not a path that normalises elsewhere. */
export function validateKey(kind: "metric" | "param" | "tag", key: string): void {
  const what = kind === "param" ? "parameter" : kind;
  if (key === "") throw MlflowError.invalid(`Invalid ${what} name: ''. Names may not be empty.`);
  if (key.length > MAX_KEY_LENGTH) {
    throw MlflowError.invalid(`'${key.slice(0, 50)}...' exceeds the maximum length of ${MAX_KEY_LENGTH} characters for a ${what} key`);
  }
  if (!KEY_RE.test(key)) {
    throw MlflowError.invalid(
      `Invalid ${what} name: '${key}'. Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/).`,
    );
  }
  if (UNSAFE_PATH_RE.test(key)) {
    throw MlflowError.invalid(`Invalid ${what} name: '${key}'. Names may be treated as files in certain cases, and must not resolve to other names when treated as such.`);
  }
}

export function truncate(value: string, max: number): string {
  return value.length > max ? value.slice(0, max) : value;
}

export function validateExperimentName(name: string | undefined, field = "name"): string {
  if (name === undefined || name.trim() === "") throw MlflowError.invalid(`Invalid experiment name: '${name ?? ""}'. ${field} must be a non-empty string.`);
  if (name.length > MAX_EXPERIMENT_NAME_LENGTH) throw MlflowError.invalid(`Experiment name exceeds the maximum length of ${MAX_EXPERIMENT_NAME_LENGTH} characters`);
  return name;
}
