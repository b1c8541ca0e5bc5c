/**
 * MLflow-compatible search: filter / order_by parsing, in-memory evaluation and page tokens for
 * runs/search, registered-models/search and model-versions/search. Pure (no I/O).
 *
 * Errors are InvalidInputError with MLflow's wording (the HTTP layer maps them to
 * 400 INVALID_PARAMETER_VALUE); `details[0].path` is "filter", "order_by" or "page_token".
 *
 * Deliberate differences from MLflow (all stricter or strictly more useful):
 *  - comparators are validated at parse time (MLflow checks some only while filtering);
 *  - a trailing / doubled `AND` is rejected (sqlparse silently ignores it);
 *  - LIKE treats regex metacharacters literally (MLflow's file store does not escape them);
 *  - `IN` lists keep their items verbatim (MLflow drops run ids that are not all-lowercase, a
 *    MySQL workaround, and `literal_eval`s the list);
 *  - order_by clauses may carry surrounding whitespace;
 *  - metric comparisons against NaN follow IEEE (only `!=` matches); MLflow's SQL store compares
 *    NaN metrics as 0.
 */
export type * from "./ast.ts";
export {
  DATASET_KEYS,
  LIST_COMPARATORS,
  MODEL_VERSION_STRING_ATTRIBUTES,
  NULL_COMPARATORS,
  NUMERIC_COMPARATORS,
  REGISTERED_MODEL_STRING_ATTRIBUTES,
  RUN_NUMERIC_ATTRIBUTES,
  RUN_STRING_ATTRIBUTES,
  STRING_COMPARATORS,
} from "./ast.ts";
export { parseRunFilter } from "./run-filter.ts";
export type { RunEntity } from "./run-filter.ts";
export { parseOrderBy } from "./order-by.ts";
export {
  compareCodePoints,
  compareNumbers,
  compareRuns,
  likeToRegExp,
  matchesRun,
  testList,
  testNumber,
  testString,
} from "./evaluate.ts";
export type { RunDatasetView, RunInfoView, RunView } from "./evaluate.ts";
export {
  DEFAULT_MODEL_VERSION_ORDER_BY,
  IS_PROMPT_TAG_KEY,
  compareModelVersions,
  compareRegisteredModels,
  matchesModelVersion,
  matchesRegisteredModel,
  parseModelFilter,
  parseModelVersionFilter,
  parseModelVersionOrderBy,
  parseRegisteredModelFilter,
  parseRegisteredModelOrderBy,
  queriesPrompts,
} from "./model-filter.ts";
export type { ModelVersionView, RegisteredModelView } from "./model-filter.ts";
export { MAX_PAGE_TOKEN_LENGTH, decodePageToken, encodePageToken } from "./page-token.ts";
export type { PageToken } from "./page-token.ts";
