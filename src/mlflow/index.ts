/**
 * The MLflow wire layer shared by tracking (src/tracking) and the model registry
 * (src/registry): route mounting under every prefix, MLflow errors, request decoding and
 * response encoding, project resolution and experiment/run access checks.
 */
export { MLFLOW_STATUS, MlflowError, toMlflowError } from "./errors.ts";
export type { MlflowErrorBody, MlflowErrorCode } from "./errors.ts";
export { DEFAULT_PROJECT, RawJson, mlflowBodyLimit, mlflowPrefixes, mlflowRoutes, resolveProject } from "./routes.ts";
export { mlflowRawMount } from "./raw.ts";
export type { RawMlflowEndpoint } from "./raw.ts";
export type { MlflowCall, MlflowEndpoint, MlflowHandler, MlflowMethod } from "./routes.ts";
export {
  encodeDouble,
  invalidValue,
  normalizeQuery,
  objectList,
  optBool,
  optDouble,
  optEnum,
  optInt64,
  optObject,
  optString,
  reqDouble,
  reqInt64,
  reqString,
  reqStringAllowEmpty,
  runIdOf,
  stringList,
} from "./wire.ts";
export type { MlflowInput } from "./wire.ts";
export {
  DEFAULT_EXPERIMENT_ID,
  DEFAULT_EXPERIMENT_NAME,
  EXPERIMENT_COUNTER,
  TrackingAccess,
  experimentArtifactLocation,
  nextExperimentId,
} from "./access.ts";
export type { CallScope, ExperimentRow, RunRow } from "./access.ts";
