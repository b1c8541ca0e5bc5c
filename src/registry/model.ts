/**
 * The model registry's domain: registered models, their numbered versions, aliases, the
 * deprecated-but-served stages, and MLflow 3.x logged models. The objects are already in
 * MLflow's wire shape (snake_case, `version` a string of an integer, empty fields omitted):
 * both the MLflow API and Forja's native API hand them out unchanged.
 *
 * The rules (names, aliases, stages, tag limits) follow MLflow 3.x; every violation is an
 * InvalidInputError naming the field, which the MLflow layer turns into 400
 * INVALID_PARAMETER_VALUE (never a 5xx: the MLflow client retries those).
 */
import { InvalidInputError } from "../platform/errors.ts";

// ---------------------------------------------------------------------------------------------
// Stages (deprecated since MLflow 2.9, still required by transition-stage / get-latest-versions)
// ---------------------------------------------------------------------------------------------

export const STAGES = ["None", "Staging", "Production", "Archived"] as const;
export type Stage = (typeof STAGES)[number];
/** Stages whose other versions `archive_existing_versions` may archive. */
export const ACTIVE_STAGES: readonly Stage[] = ["Staging", "Production"];

/** Case-insensitive stage name → canonical stage; 400 otherwise. */
export function canonicalStage(stage: string, field = "stage"): Stage {
  const found = STAGES.find((s) => s.toLowerCase() === stage.trim().toLowerCase());
  if (!found) {
    throw invalid(field, `Invalid Model Version stage: ${stage}. Value must be one of ${STAGES.join(", ")}.`);
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// Wire shapes
// ---------------------------------------------------------------------------------------------

export interface KeyValue {
  readonly key: string;
  readonly value: string;
}

export interface ModelVersion {
  readonly name: string;
  /** A string of an integer, as MLflow sends it. */
  readonly version: string;
  readonly creation_timestamp: number;
  readonly last_updated_timestamp: number;
  readonly user_id?: string;
  readonly current_stage: Stage;
  readonly description: string;
  readonly source: string;
  readonly run_id?: string;
  readonly status: "READY";
  readonly status_message?: string;
  readonly tags?: KeyValue[];
  readonly run_link: string;
  readonly aliases?: string[];
  readonly model_id?: string;
}

export interface RegisteredModelAlias {
  readonly alias: string;
  readonly version: string;
}

export interface RegisteredModel {
  readonly name: string;
  readonly creation_timestamp: number;
  readonly last_updated_timestamp: number;
  readonly user_id?: string;
  readonly description?: string;
  readonly latest_versions?: ModelVersion[];
  readonly tags?: KeyValue[];
  readonly aliases?: RegisteredModelAlias[];
  readonly deployment_job_id?: string;
}

export const LOGGED_MODEL_STATUSES = [
  "LOGGED_MODEL_STATUS_UNSPECIFIED",
  "LOGGED_MODEL_PENDING",
  "LOGGED_MODEL_READY",
  "LOGGED_MODEL_UPLOAD_FAILED",
] as const;
export type LoggedModelStatus = (typeof LOGGED_MODEL_STATUSES)[number];

export interface LoggedModelInfo {
  readonly model_id: string;
  readonly experiment_id: string;
  readonly name: string;
  readonly creation_timestamp_ms: number;
  readonly last_updated_timestamp_ms: number;
  readonly artifact_uri: string;
  readonly status: LoggedModelStatus;
  readonly model_type?: string;
  readonly source_run_id?: string;
  readonly status_message?: string;
  readonly tags?: KeyValue[];
  readonly registrations?: { name: string; version: string }[];
}

export interface LoggedModel {
  readonly info: LoggedModelInfo;
  readonly data: { params?: KeyValue[] };
}

// ---------------------------------------------------------------------------------------------
// Validation (MLflow 3.x limits)
// ---------------------------------------------------------------------------------------------

export const MAX_MODEL_NAME_LENGTH = 256;
export const MAX_TAG_KEY_LENGTH = 250;
/** 3.x (2.12.2: 5000). */
export const MAX_REGISTRY_TAG_VALUE_LENGTH = 100_000;
export const MAX_ALIAS_LENGTH = 255;
export const MAX_DESCRIPTION_LENGTH = 100_000;
export const MAX_SOURCE_LENGTH = 65_535;
export const MAX_LOGGED_MODEL_PARAM_VALUE_LENGTH = 6000;
export const MAX_LOGGED_MODEL_TAG_VALUE_LENGTH = 8000;

export const SEARCH_REGISTERED_MODELS_DEFAULT = 100;
export const SEARCH_REGISTERED_MODELS_MAX = 1000;
export const SEARCH_MODEL_VERSIONS_DEFAULT = 10_000;
export const SEARCH_MODEL_VERSIONS_MAX = 200_000;
export const SEARCH_LOGGED_MODELS_DEFAULT = 100;
export const SEARCH_LOGGED_MODELS_MAX = 1000;

/** An InvalidInputError whose message is MLflow-like text, with the field in `details`. */
export function invalid(field: string, message: string): InvalidInputError {
  return new InvalidInputError(message, [{ path: field, reason: message }]);
}

export function validateModelName(name: string, field = "name"): string {
  if (name === "") throw invalid(field, `Missing value for required parameter '${field}'. Registered model name cannot be empty.`);
  if (name.length > MAX_MODEL_NAME_LENGTH) {
    throw invalid(field, `Registered model name '${name.slice(0, 40)}…' exceeds the maximum length of ${MAX_MODEL_NAME_LENGTH} characters.`);
  }
  // A "/" makes `models:/<name>/<version>` URIs and the native /models/{name} route ambiguous.
  if (name.includes("/")) throw invalid(field, `Invalid registered model name '${name}': it cannot contain '/'.`);
  if (/\p{Cc}/u.test(name)) throw invalid(field, `Invalid registered model name ${JSON.stringify(name)}: it cannot contain control characters.`);
  return name;
}

/** `version` as MLflow takes it: a string (or number) holding a positive integer. */
export function parseVersion(value: string | number, field = "version"): number {
  const text = String(value).trim();
  if (!/^\d{1,15}$/.test(text) || Number(text) < 1) {
    throw invalid(field, `Model version must be a positive integer, got '${String(value)}'.`);
  }
  return Number(text);
}

const TAG_KEY = /^[/\w.\- :]*$/u;

export function validateTagKey(key: string, field = "key"): string {
  if (key === "") throw invalid(field, `Missing value for required parameter '${field}'. Tag key cannot be empty.`);
  if (key.length > MAX_TAG_KEY_LENGTH) {
    throw invalid(field, `Tag key '${key.slice(0, 40)}…' had length ${key.length}, which exceeded length limit of ${MAX_TAG_KEY_LENGTH}.`);
  }
  if (!TAG_KEY.test(key)) {
    throw invalid(
      field,
      `Invalid tag name: '${key}'. Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colons (:) and slashes (/).`,
    );
  }
  if (key.startsWith("/") || key.split("/").some((s) => s === ".." || s === ".") || key.includes("//")) {
    throw invalid(field, `Invalid tag name: '${key}'. Names may be treated as files in certain cases, and must not resolve to other names when treated as such.`);
  }
  return key;
}

export function validateTagValue(value: string, max: number, field = "value"): string {
  if (value.length > max) {
    throw invalid(field, `Tag value '${value.slice(0, 40)}…' had length ${value.length}, which exceeded length limit of ${max}.`);
  }
  return value;
}

const ALIAS = /^[\w-]*$/u;

/** Alias rules: `^[\w\-]*$`, at most 255 characters, not `latest`, not `v<digits>` (case-insensitive). */
export function validateAlias(alias: string, field = "alias"): string {
  if (alias === "") throw invalid(field, `Missing value for required parameter '${field}'.`);
  if (alias.length > MAX_ALIAS_LENGTH) {
    throw invalid(field, `Registered model alias name '${alias.slice(0, 40)}…' exceeds the maximum length of ${MAX_ALIAS_LENGTH} characters.`);
  }
  if (!ALIAS.test(alias)) {
    throw invalid(
      field,
      `Invalid alias name: '${alias}'. Names may only contain alphanumerics, underscores (_), and dashes (-).`,
    );
  }
  const lower = alias.toLowerCase();
  if (lower === "latest" || /^v\d+$/u.test(lower)) {
    throw invalid(field, `'${alias}' is a reserved alias name. 'latest' and 'v<number>' (such as 'v1') cannot be used as aliases.`);
  }
  return alias;
}

export function validateDescription(description: string, field = "description"): string {
  if (description.length > MAX_DESCRIPTION_LENGTH) {
    throw invalid(field, `Description had length ${description.length}, which exceeded length limit of ${MAX_DESCRIPTION_LENGTH}.`);
  }
  return description;
}

// ---------------------------------------------------------------------------------------------
// Sources and URIs
// ---------------------------------------------------------------------------------------------

/** `runs:/<run_id>/<path>` parts, or undefined. */
export function parseRunsUri(uri: string): { runId: string; path: string } | undefined {
  const m = /^runs:\/+([^/]+)(?:\/(.*))?$/u.exec(uri);
  return m ? { runId: m[1] ?? "", path: (m[2] ?? "").replace(/\/+$/u, "") } : undefined;
}

export type ModelsUri =
  | { readonly kind: "model_id"; readonly modelId: string }
  | { readonly kind: "version"; readonly name: string; readonly version: number }
  | { readonly kind: "alias"; readonly name: string; readonly alias: string }
  | { readonly kind: "stage"; readonly name: string; readonly stage: Stage | "latest" };

/**
 * `models:/<model_id>` (3.x logged model), `models:/<name>/<version>`, `models:/<name>@<alias>`,
 * `models:/<name>/<stage>` or `models:/<name>/latest`; undefined when not a `models:` URI.
 */
export function parseModelsUri(uri: string, field = "source"): ModelsUri | undefined {
  if (!uri.startsWith("models:")) return undefined;
  const rest = uri.slice("models:".length).replace(/^\/+/u, "").replace(/\/+$/u, "");
  const bad = (): never => {
    throw invalid(field, `Not a proper models:/ URI: ${uri}. Models URIs must be of the form 'models:/model_name/suffix', 'models:/model_name@alias' or 'models:/model_id'.`);
  };
  if (rest === "") return bad();
  const slash = rest.indexOf("/");
  if (slash < 0) {
    const at = rest.indexOf("@");
    if (at > 0) return { kind: "alias", name: rest.slice(0, at), alias: rest.slice(at + 1) };
    return { kind: "model_id", modelId: rest };
  }
  const name = rest.slice(0, slash);
  const suffix = rest.slice(slash + 1);
  if (!name || !suffix || suffix.includes("/")) return bad();
  if (/^\d+$/u.test(suffix)) return { kind: "version", name, version: parseVersion(suffix, field) };
  if (suffix.toLowerCase() === "latest") return { kind: "stage", name, stage: "latest" };
  return { kind: "stage", name, stage: canonicalStage(suffix, field) };
}

/**
 * Rejects what MLflow's server rejects for `model-versions/create`: relative path segments, and
 * local paths (Forja serves artifacts itself; a path on some machine's disk cannot be downloaded
 * by another client).
 */
export function validateSource(source: string, field = "source"): string {
  if (source.length > MAX_SOURCE_LENGTH) throw invalid(field, `Model version source is longer than ${MAX_SOURCE_LENGTH} characters.`);
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/u.exec(source)?.[1]?.toLowerCase();
  if (scheme === undefined || scheme === "file" || /^[a-zA-Z]:[\\/]/u.test(source)) {
    throw invalid(
      field,
      `Invalid model version source: '${source}'. Local paths cannot be registered on this server; log the model as an artifact of a run and register 'runs:/<run_id>/<path>' (or its mlflow-artifacts:/ URI).`,
    );
  }
  let decoded = source;
  try {
    decoded = decodeURIComponent(source);
  } catch {
    /* keep as is */
  }
  const path = decoded.replace(/^[a-zA-Z][a-zA-Z0-9+.-]*:/u, "").split(/[?#]/u)[0] ?? "";
  if (path.split(/[/\\]/u).some((s) => s === "..")) {
    throw invalid(field, `Invalid model version source: '${source}'. If supplying a source as an http, https, local file path, ftp, objectstore, or mlflow-artifacts uri, an absolute path must be provided without relative path references present. Please provide an absolute path.`);
  }
  return source;
}

/** True if `uri` is `root` or lies under it (segment-wise, ignoring trailing slashes). */
export function isUnder(uri: string, root: string): boolean {
  const norm = (u: string) => u.replace(/\/+$/u, "").replace(/^(mlflow-artifacts:)\/+/u, "$1/");
  const u = norm(uri);
  const r = norm(root);
  return u === r || u.startsWith(`${r}/`);
}

export function tagsOf(record: Readonly<Record<string, string>>): KeyValue[] | undefined {
  const keys = Object.keys(record).sort();
  return keys.length ? keys.map((key) => ({ key, value: record[key] ?? "" })) : undefined;
}
