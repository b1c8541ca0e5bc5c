/**
 * Data drift detection with Evidently's default algorithm (see ./drift.ts for the rules and
 * ./ks.ts, ./stattests.ts, ./special.ts for the statistics and their scipy semantics).
 */
export {
  columnDrift,
  datasetDrift,
  defaultMethod,
  inferColumnType,
  cleanColumn,
  DEFAULT_SHARE_THRESHOLD,
  DEFAULT_THRESHOLDS,
  DRIFT_METHODS,
  FEW_UNIQUE_MAX,
  METHOD_KIND,
  SMALL_REFERENCE_MAX_ROWS,
} from "./drift.ts";
export type {
  ColumnDriftOptions,
  ColumnDriftResult,
  ColumnOverride,
  ColumnType,
  ColumnTypeOverride,
  DatasetDriftOptions,
  DatasetDriftResult,
  DriftMethod,
  DriftRow,
  DriftValue,
} from "./drift.ts";
export { ks2samp, KS_MAX_EXACT_N } from "./ks.ts";
export type { KsOptions, KsResult } from "./ks.ts";
export {
  binnedDistributions,
  chiSquareTest,
  jensenShannonDistance,
  populationStabilityIndex,
  wassersteinDistance,
  wassersteinNormed,
  zTest,
} from "./stattests.ts";
export type { BinnedDistributions, Category, PValueResult } from "./stattests.ts";
export { chi2Sf, kolmogorovNSf, normalTwoSidedP, regularizedGammaP, regularizedGammaQ, smirnovSf } from "./special.ts";
