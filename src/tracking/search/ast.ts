/**
 * AST for MLflow-compatible search filters and order_by clauses.
 *
 * The shapes are deliberately flat and fully discriminated so that both the in-memory evaluator
 * (evaluate.ts, model-filter.ts) and a later SQL compiler can walk them with exhaustive
 * `switch`es:
 *
 *  - `entity` + `key` say *what* is compared (which column / which joined table and key);
 *  - `predicate` says *how* (operator and typed operand), independent of the entity.
 *
 * A SQL compiler therefore needs one `column(entity, key)` function and one
 * `predicate(column, predicate)` function.
 *
 * Semantics every consumer must keep (they are MLflow's, see README notes in index.ts):
 *  - clauses are AND-ed; an empty clause list matches everything;
 *  - a clause on a missing metric / param / tag / NULL attribute never matches (SQL inner-join
 *    semantics), except `IS NULL`, which matches exactly the missing ones;
 *  - `=`, `!=`, `LIKE` compare case-sensitively; `ILIKE` case-insensitively;
 *  - LIKE patterns: `%` = any sequence, `_` = exactly one character, no escape character, every
 *    other character literal (SQL: emit `LIKE ? ESCAPE ''` on PostgreSQL, whose default escape is
 *    backslash; SQLite has no default escape but needs `PRAGMA case_sensitive_like = ON`);
 *  - metric comparisons use IEEE semantics: a NaN metric satisfies only `!=`.
 */

// ---------------------------------------------------------------------------------------------
// Predicates (operator + operand), shared by every search kind
// ---------------------------------------------------------------------------------------------

export const NUMERIC_COMPARATORS = ["=", "!=", ">", ">=", "<", "<="] as const;
export type NumericComparator = (typeof NUMERIC_COMPARATORS)[number];

export const STRING_COMPARATORS = ["=", "!=", "LIKE", "ILIKE"] as const;
export type StringComparator = (typeof STRING_COMPARATORS)[number];

export const LIST_COMPARATORS = ["IN", "NOT IN"] as const;
export type ListComparator = (typeof LIST_COMPARATORS)[number];

export const NULL_COMPARATORS = ["IS NULL", "IS NOT NULL"] as const;
export type NullComparator = (typeof NULL_COMPARATORS)[number];

export type Comparator = NumericComparator | StringComparator | ListComparator | NullComparator;

/** `metrics.loss < 0.5`, `attributes.start_time >= 1700000000000`. `value` may be ±Infinity. */
export interface NumberPredicate {
  readonly type: "number";
  readonly op: NumericComparator;
  readonly value: number;
}

/** `params.model = 'lr'`, `tags.team LIKE 'ml-%'`. `value` is the literal text between the quotes. */
export interface StringPredicate {
  readonly type: "string";
  readonly op: StringComparator;
  readonly value: string;
}

/** `run_id IN ('a', 'b')`. Never empty. */
export interface ListPredicate {
  readonly type: "list";
  readonly op: ListComparator;
  readonly values: readonly string[];
}

/** `tags.x IS NULL` (no such tag) / `tags.x IS NOT NULL` (tag present). */
export interface NullPredicate {
  readonly type: "null";
  readonly op: NullComparator;
}

export type Predicate = NumberPredicate | StringPredicate | ListPredicate | NullPredicate;

// ---------------------------------------------------------------------------------------------
// Runs (runs/search)
// ---------------------------------------------------------------------------------------------

/** RunInfo fields usable in filters and order_by (MLflow `RunInfo.get_searchable_attributes`). */
export const RUN_STRING_ATTRIBUTES = ["run_id", "run_name", "status", "user_id", "artifact_uri"] as const;
export type RunStringAttribute = (typeof RUN_STRING_ATTRIBUTES)[number];

export const RUN_NUMERIC_ATTRIBUTES = ["start_time", "end_time"] as const;
export type RunNumericAttribute = (typeof RUN_NUMERIC_ATTRIBUTES)[number];

export type RunAttribute = RunStringAttribute | RunNumericAttribute;

/** Dataset (run input) fields usable in filters. `context` is the `mlflow.data.context` input tag. */
export const DATASET_KEYS = ["name", "digest", "context"] as const;
export type DatasetKey = (typeof DATASET_KEYS)[number];

export interface MetricClause {
  readonly entity: "metric";
  readonly key: string;
  readonly predicate: NumberPredicate;
}
export interface ParamClause {
  readonly entity: "param";
  readonly key: string;
  readonly predicate: StringPredicate | NullPredicate;
}
export interface TagClause {
  readonly entity: "tag";
  readonly key: string;
  readonly predicate: StringPredicate | NullPredicate;
}
export interface NumericAttributeClause {
  readonly entity: "attribute";
  /** Canonical name: the alias `created` is already resolved to `start_time`. */
  readonly key: RunNumericAttribute;
  readonly predicate: NumberPredicate;
}
export interface StringAttributeClause {
  readonly entity: "attribute";
  /**
   * Canonical name: the alias `run name` is resolved to `run_name`. A `list` predicate only ever
   * appears with `run_id`. Note: MLflow's SQL store evaluates `run_name` against the
   * `mlflow.runName` tag (runs logged by MLflow ≤1.29 have no name column).
   */
  readonly key: RunStringAttribute;
  readonly predicate: StringPredicate | ListPredicate;
}
export interface DatasetClause {
  readonly entity: "dataset";
  readonly key: DatasetKey;
  /** Matches when ANY of the run's dataset inputs satisfies it (an EXISTS subquery in SQL). */
  readonly predicate: StringPredicate | ListPredicate;
}

export type RunFilterClause =
  | MetricClause
  | ParamClause
  | TagClause
  | NumericAttributeClause
  | StringAttributeClause
  | DatasetClause;

/** A parsed runs/search filter: the conjunction of `clauses`. */
export interface RunFilter {
  readonly clauses: readonly RunFilterClause[];
}

/** Entities a runs/search order_by clause may name. */
export type RunOrderByEntity = "metric" | "param" | "tag" | "attribute";

export type OrderBy =
  | { readonly entity: "metric" | "param" | "tag"; readonly key: string; readonly ascending: boolean }
  | { readonly entity: "attribute"; readonly key: RunAttribute; readonly ascending: boolean };

// ---------------------------------------------------------------------------------------------
// Model registry (registered-models/search, model-versions/search)
// ---------------------------------------------------------------------------------------------

export type ModelSearchTarget = "registered_model" | "model_version";

/** String attributes per target. `source_path` is the model version's `source` column. */
export const REGISTERED_MODEL_STRING_ATTRIBUTES = ["name"] as const;
export const MODEL_VERSION_STRING_ATTRIBUTES = ["name", "run_id", "source_path"] as const;
export type ModelStringAttribute = (typeof MODEL_VERSION_STRING_ATTRIBUTES)[number];

export interface ModelStringAttributeClause {
  readonly entity: "attribute";
  readonly key: ModelStringAttribute;
  /** `list` (only `IN`) only with `run_id`. */
  readonly predicate: StringPredicate | ListPredicate;
}
export interface ModelVersionNumberClause {
  readonly entity: "attribute";
  /** The model version's integer `version` column. */
  readonly key: "version_number";
  readonly predicate: NumberPredicate;
}
export interface ModelTagClause {
  readonly entity: "tag";
  readonly key: string;
  readonly predicate: StringPredicate;
}

export type ModelFilterClause = ModelStringAttributeClause | ModelVersionNumberClause | ModelTagClause;

export interface ModelFilter {
  readonly target: ModelSearchTarget;
  readonly clauses: readonly ModelFilterClause[];
}

/** Orderable model-registry fields (canonical names). */
export type RegisteredModelOrderKey = "name" | "creation_timestamp" | "last_updated_timestamp";
export type ModelVersionOrderKey = "name" | "version_number" | "creation_timestamp" | "last_updated_timestamp";

export interface ModelOrderBy<K extends string> {
  readonly key: K;
  readonly ascending: boolean;
}
