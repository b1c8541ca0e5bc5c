/**
 * Column and dataset drift, with Evidently's default algorithm
 * (docs/book/reference/data-drift-algorithm.md; code: calculations/stattests/registry.py
 * `_get_default_stattest`, utils/data_preprocessing.py `_get_column_type`,
 * calculations/data_drift.py `get_one_column_drift`).
 *
 * Per column:
 *  1. Missing values (null, undefined, NaN, ±Infinity) are dropped from each side; an empty side
 *     is an error naming the column.
 *  2. Type: a column whose values are all numbers is numerical, unless they are all integers and
 *     the reference holds ≤ 5 distinct values, in which case it is categorical (Evidently's
 *     NUMBER_UNIQUE_AS_CATEGORICAL = 5 rule for integer dtypes). Anything else (strings, booleans,
 *     mixtures) is categorical. A categorical column with exactly 2 distinct values over both
 *     samples is reported as `binary`.
 *  3. Method, by the reference size and n_unique = distinct values over both samples:
 *       reference ≤ 1000 rows: numerical with n_unique > 5 → KS; otherwise χ² if n_unique > 2,
 *                              else Z (so binary → Z);
 *       reference > 1000 rows: numerical with n_unique > 5 → normed Wasserstein; otherwise
 *                              Jensen–Shannon.
 *     PSI is only used when asked for.
 *  4. Drift: p-value tests (KS, χ², Z) drift when p < threshold (default 0.05); distances
 *     (Wasserstein, Jensen–Shannon, PSI) drift when distance ≥ threshold (default 0.1).
 *
 * Dataset: drifted when (drifted columns / columns) ≥ shareThreshold (default 0.5).
 *
 * Deliberate differences from Evidently, all at the edges:
 *  - Evidently's KS alone drifts on p ≤ threshold; every p-value test here uses p < threshold.
 *  - JS has no int/float dtypes: "integer dtype" means every value is an integer, and a column
 *    with missing values is not turned into floats as pandas would.
 *  - Booleans are categorical (pandas counts a bool dtype as numeric).
 *  - χ² with a single category overall (0 degrees of freedom) returns p = 1, not NaN.
 */
import { InvalidInputError } from "../../platform/errors.ts";
import { ks2samp } from "./ks.ts";
import type { Category } from "./stattests.ts";
import {
  binnedDistributions,
  chiSquareTest,
  countUnique,
  jensenShannonDistance,
  populationStabilityIndex,
  wassersteinNormed,
  zTest,
} from "./stattests.ts";

/** A raw cell. null, undefined, NaN and ±Infinity count as missing. */
export type DriftValue = number | string | boolean | null | undefined;

/** Evidently stattest names. */
export type DriftMethod = "ks" | "chisquare" | "z" | "wasserstein" | "jensenshannon" | "psi";

export type ColumnType = "numerical" | "categorical" | "binary";

/** What a caller may force for a column's type (binary is derived from categorical). */
export type ColumnTypeOverride = "numerical" | "categorical";

export const DRIFT_METHODS: readonly DriftMethod[] = ["ks", "chisquare", "z", "wasserstein", "jensenshannon", "psi"];

/** p-value tests drift below the threshold; distances drift at or above it. */
export const METHOD_KIND: Readonly<Record<DriftMethod, "p-value" | "distance">> = {
  ks: "p-value",
  chisquare: "p-value",
  z: "p-value",
  wasserstein: "distance",
  jensenshannon: "distance",
  psi: "distance",
};

/** Evidently's `default_threshold` of each stattest. */
export const DEFAULT_THRESHOLDS: Readonly<Record<DriftMethod, number>> = {
  ks: 0.05,
  chisquare: 0.05,
  z: 0.05,
  wasserstein: 0.1,
  jensenshannon: 0.1,
  psi: 0.1,
};

/** Reference sizes up to this use the hypothesis tests; above it, the distances. */
export const SMALL_REFERENCE_MAX_ROWS = 1000;
/** Integer columns with at most this many distinct reference values are categorical; also the n_unique cut for the method. */
export const FEW_UNIQUE_MAX = 5;
export const DEFAULT_SHARE_THRESHOLD = 0.5;

export interface ColumnDriftOptions {
  /** Column name used in the result and in error messages. Default "value". */
  readonly column?: string;
  /** Force a method instead of the default choice. */
  readonly method?: DriftMethod;
  /** Force a threshold instead of the method's default. */
  readonly threshold?: number;
  /** Force the column type instead of inferring it. */
  readonly type?: ColumnTypeOverride;
}

export interface ColumnDriftResult {
  readonly column: string;
  readonly type: ColumnType;
  readonly method: DriftMethod;
  /** Test statistic (KS D, χ², z) or the distance itself. */
  readonly statistic: number;
  /** Present for p-value tests only. */
  readonly pValue?: number;
  /** Evidently's drift_score: the p-value for tests, the distance for distances. */
  readonly score: number;
  readonly threshold: number;
  readonly drifted: boolean;
  /** Non-missing values used from each side. */
  readonly referenceCount: number;
  readonly currentCount: number;
}

export interface ColumnOverride {
  readonly method?: DriftMethod;
  readonly threshold?: number;
  readonly type?: ColumnTypeOverride;
}

export interface DatasetDriftOptions {
  /** Columns to compare. Default: every key present in both the reference and current rows. */
  readonly columns?: readonly string[];
  /** Dataset drift when the drifted share is ≥ this. Default 0.5. */
  readonly shareThreshold?: number;
  /** Method / threshold for all columns (lowest precedence). */
  readonly method?: DriftMethod;
  readonly threshold?: number;
  /** Method / threshold by column type (binary counts as categorical). */
  readonly numericalMethod?: DriftMethod;
  readonly categoricalMethod?: DriftMethod;
  readonly numericalThreshold?: number;
  readonly categoricalThreshold?: number;
  /** Per-column overrides (highest precedence). */
  readonly perColumn?: Readonly<Record<string, ColumnOverride>>;
}

export interface DatasetDriftResult {
  readonly columns: readonly ColumnDriftResult[];
  readonly columnCount: number;
  readonly driftedCount: number;
  readonly driftedShare: number;
  readonly shareThreshold: number;
  readonly drifted: boolean;
}

export type DriftRow = Readonly<Record<string, DriftValue>>;

// ---------------------------------------------------------------------------------------------

function isMissing(v: DriftValue): v is null | undefined {
  return v === null || v === undefined || (typeof v === "number" && !Number.isFinite(v));
}

/** Runtime guard for callers outside TypeScript, without narrowing to any[]. */
function isArray(x: unknown): boolean {
  return Array.isArray(x);
}

function fail(column: string, reason: string): never {
  throw new InvalidInputError(`column '${column}': ${reason}`, [{ path: column, reason }]);
}

/** Drops missing cells; rejects anything that is not a number, string or boolean. */
export function cleanColumn(values: readonly DriftValue[], column: string, side: "reference" | "current"): Category[] {
  if (!isArray(values)) fail(column, `${side} values must be an array`);
  const out: Category[] = [];
  for (const v of values) {
    if (isMissing(v)) continue;
    const t = typeof v;
    if (t !== "number" && t !== "string" && t !== "boolean") fail(column, `${side} holds an unsupported value of type ${t}`);
    out.push(v);
  }
  if (out.length === 0) {
    fail(column, `an empty column was provided for drift calculation in the ${side} dataset (no non-missing values)`);
  }
  return out;
}

function allNumbers(values: readonly Category[]): values is readonly number[] {
  return values.every((v) => typeof v === "number");
}

/**
 * Evidently-style type inference on cleaned values: numbers → numerical, except all-integer
 * columns with ≤ 5 distinct reference values → categorical; anything else → categorical;
 * categorical with exactly two distinct values over both samples → binary.
 */
export function inferColumnType(reference: readonly Category[], current: readonly Category[]): ColumnType {
  return finalType(baseType(reference, current), reference, current);
}

function baseType(reference: readonly Category[], current: readonly Category[]): ColumnTypeOverride {
  if (!allNumbers(reference) || !allNumbers(current)) return "categorical";
  const integers = reference.every(Number.isInteger) && current.every(Number.isInteger);
  if (integers && countUnique(reference) <= FEW_UNIQUE_MAX) return "categorical";
  return "numerical";
}

function finalType(base: ColumnTypeOverride, reference: readonly Category[], current: readonly Category[]): ColumnType {
  if (base === "categorical" && countUnique([...reference, ...current]) === 2) return "binary";
  return base;
}

/** Evidently's `_get_default_stattest`. */
export function defaultMethod(type: ColumnType, referenceRows: number, uniqueValues: number): DriftMethod {
  const numerical = type === "numerical";
  if (referenceRows <= SMALL_REFERENCE_MAX_ROWS) {
    if (numerical && uniqueValues > FEW_UNIQUE_MAX) return "ks";
    return uniqueValues > 2 ? "chisquare" : "z";
  }
  if (numerical && uniqueValues > FEW_UNIQUE_MAX) return "wasserstein";
  return "jensenshannon";
}

function checkMethod(method: unknown, column: string): DriftMethod {
  if (typeof method !== "string" || !(DRIFT_METHODS as readonly string[]).includes(method)) {
    fail(column, `unknown drift method ${JSON.stringify(method)} (expected one of ${DRIFT_METHODS.join(", ")})`);
  }
  return method as DriftMethod;
}

function checkThreshold(threshold: unknown, column: string): number {
  if (typeof threshold !== "number" || !Number.isFinite(threshold) || threshold < 0) {
    fail(column, `threshold must be a finite number ≥ 0, got ${String(threshold)}`);
  }
  return threshold;
}

interface Resolved {
  readonly method?: DriftMethod;
  readonly threshold?: number;
}

/** Runs one column on cleaned values with an already-decided type. */
function evaluate(
  column: string,
  reference: Category[],
  current: Category[],
  type: ColumnType,
  choice: Resolved,
): ColumnDriftResult {
  const unique = countUnique([...reference, ...current]);
  const method = choice.method === undefined ? defaultMethod(type, reference.length, unique) : checkMethod(choice.method, column);
  const threshold = choice.threshold === undefined ? DEFAULT_THRESHOLDS[method] : checkThreshold(choice.threshold, column);
  const numerical = type === "numerical";

  let statistic: number;
  let pValue: number | undefined;
  switch (method) {
    case "ks":
    case "wasserstein": {
      if (!allNumbers(reference) || !allNumbers(current)) fail(column, `method '${method}' needs numeric values`);
      if (method === "ks") {
        const r = ks2samp(reference, current);
        statistic = r.statistic;
        pValue = r.pValue;
      } else {
        statistic = wassersteinNormed(reference, current);
      }
      break;
    }
    case "chisquare": {
      const r = chiSquareTest(reference, current);
      statistic = r.statistic;
      pValue = r.pValue;
      break;
    }
    case "z": {
      if (unique > 2) fail(column, `method 'z' needs at most 2 distinct values, got ${unique}`);
      const r = zTest(reference, current);
      statistic = r.statistic;
      pValue = r.pValue;
      break;
    }
    case "jensenshannon": {
      const b = binnedDistributions(reference, current, numerical, false);
      statistic = jensenShannonDistance(b.reference, b.current, 2);
      break;
    }
    case "psi": {
      const b = binnedDistributions(reference, current, numerical, true);
      statistic = populationStabilityIndex(b.reference, b.current);
      break;
    }
  }

  const isTest = METHOD_KIND[method] === "p-value";
  const score = isTest ? (pValue ?? Number.NaN) : statistic;
  const drifted = isTest ? score < threshold : score >= threshold;
  const base = {
    column,
    type,
    method,
    statistic,
    score,
    threshold,
    drifted,
    referenceCount: reference.length,
    currentCount: current.length,
  };
  return pValue === undefined ? base : { ...base, pValue };
}

function resolveType(
  override: ColumnTypeOverride | undefined,
  reference: Category[],
  current: Category[],
  column: string,
): ColumnType {
  if (override === undefined) return inferColumnType(reference, current);
  if (override !== "numerical" && override !== "categorical") fail(column, `unknown column type ${JSON.stringify(override)}`);
  if (override === "numerical" && (!allNumbers(reference) || !allNumbers(current))) {
    fail(column, "type 'numerical' needs numeric values");
  }
  return finalType(override, reference, current);
}

/**
 * Drift of one column: `reference` and `current` are the column's cells (missing ones are
 * dropped). Throws InvalidInputError naming the column for empty sides or impossible options.
 */
export function columnDrift(
  reference: readonly DriftValue[],
  current: readonly DriftValue[],
  opts: ColumnDriftOptions = {},
): ColumnDriftResult {
  const column = opts.column ?? "value";
  const ref = cleanColumn(reference, column, "reference");
  const cur = cleanColumn(current, column, "current");
  const type = resolveType(opts.type, ref, cur, column);
  return evaluate(column, ref, cur, type, { method: opts.method, threshold: opts.threshold });
}

function columnKeys(rows: readonly DriftRow[]): string[] {
  const seen = new Set<string>();
  for (const row of rows) for (const k of Object.keys(row)) seen.add(k);
  return [...seen];
}

function pick(rows: readonly DriftRow[], column: string): DriftValue[] {
  return rows.map((row) => (Object.hasOwn(row, column) ? row[column] : undefined));
}

/**
 * Drift of a whole dataset given as rows. Method/threshold precedence per column:
 * `perColumn` > `numericalMethod`/`categoricalMethod` (by inferred type) > `method` > default.
 */
export function datasetDrift(
  referenceRows: readonly DriftRow[],
  currentRows: readonly DriftRow[],
  opts: DatasetDriftOptions = {},
): DatasetDriftResult {
  if (!isArray(referenceRows) || !isArray(currentRows)) {
    throw InvalidInputError.field("", "reference and current rows must be arrays");
  }
  const shareThreshold = opts.shareThreshold ?? DEFAULT_SHARE_THRESHOLD;
  if (typeof shareThreshold !== "number" || !(shareThreshold >= 0 && shareThreshold <= 1)) {
    throw InvalidInputError.field("shareThreshold", `must be a number in [0, 1], got ${String(shareThreshold)}`);
  }
  let columns: readonly string[];
  if (opts.columns !== undefined) {
    columns = opts.columns;
  } else {
    const inCurrent = new Set(columnKeys(currentRows));
    columns = columnKeys(referenceRows).filter((c) => inCurrent.has(c));
  }
  if (columns.length === 0) throw InvalidInputError.field("columns", "no columns to compare");

  const results = columns.map((column) => {
    const override = opts.perColumn?.[column] ?? {};
    const ref = cleanColumn(pick(referenceRows, column), column, "reference");
    const cur = cleanColumn(pick(currentRows, column), column, "current");
    const type = resolveType(override.type, ref, cur, column);
    const numerical = type === "numerical";
    const method = override.method ?? (numerical ? opts.numericalMethod : opts.categoricalMethod) ?? opts.method;
    const threshold =
      override.threshold ?? (numerical ? opts.numericalThreshold : opts.categoricalThreshold) ?? opts.threshold;
    return evaluate(column, ref, cur, type, { method, threshold });
  });

  const driftedCount = results.filter((r) => r.drifted).length;
  const driftedShare = driftedCount / results.length;
  return {
    columns: results,
    columnCount: results.length,
    driftedCount,
    driftedShare,
    shareThreshold,
    drifted: driftedShare >= shareThreshold,
  };
}
