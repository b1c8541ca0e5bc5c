/**
 * runs/search filter parser (MLflow `SearchUtils.parse_search_filter` semantics).
 */
import type {
  DatasetKey,
  ListPredicate,
  NullPredicate,
  NumberPredicate,
  RunAttribute,
  RunFilter,
  RunFilterClause,
  RunNumericAttribute,
  RunStringAttribute,
  StringPredicate,
} from "./ast.ts";
import {
  DATASET_KEYS,
  NUMERIC_COMPARATORS,
  RUN_NUMERIC_ATTRIBUTES,
  RUN_STRING_ATTRIBUTES,
  STRING_COMPARATORS,
} from "./ast.ts";
import type { RawComparison } from "./clauses.ts";
import { parseComparisons } from "./clauses.ts";
import { pyList, pySet, searchError } from "./errors.ts";
import type { SearchField } from "./errors.ts";

/** Canonical run entity types (MLflow `SearchUtils._IDENTIFIERS`). */
export type RunEntity = "metric" | "param" | "tag" | "attribute" | "dataset";

/** Every spelling MLflow accepts for an entity type (case-sensitive, as in MLflow). */
const ENTITY_ALIASES: Readonly<Record<string, RunEntity>> = {
  metric: "metric",
  metrics: "metric",
  param: "param",
  params: "param",
  parameter: "param",
  parameters: "param",
  tag: "tag",
  tags: "tag",
  attribute: "attribute",
  attributes: "attribute",
  attr: "attribute",
  run: "attribute",
  dataset: "dataset",
  datasets: "dataset",
};
/** Names MLflow prints in "Valid values are [...]". */
const MLFLOW_ENTITY_NAMES = ["metric", "parameter", "tag", "attribute", "dataset"];

/** Attribute aliases (MLflow `translate_key_alias`). */
const ATTRIBUTE_ALIASES: Readonly<Record<string, RunAttribute>> = {
  created: "start_time",
  Created: "start_time",
  "run name": "run_name",
  "Run name": "run_name",
  "Run Name": "run_name",
};
/** `run name` aliases are filter-only; MLflow's order_by accepts only `created`. */
const ORDER_BY_ATTRIBUTE_ALIASES: Readonly<Record<string, RunAttribute>> = {
  created: "start_time",
  Created: "start_time",
};

const SEARCHABLE_ATTRIBUTES: readonly string[] = [
  ...RUN_STRING_ATTRIBUTES,
  ...RUN_NUMERIC_ATTRIBUTES,
  ...Object.keys(ATTRIBUTE_ALIASES),
];
const ORDERABLE_ATTRIBUTES: readonly string[] = [
  ...RUN_STRING_ATTRIBUTES,
  ...RUN_NUMERIC_ATTRIBUTES,
  ...Object.keys(ORDER_BY_ATTRIBUTE_ALIASES),
];

const STRING_ATTRIBUTE_COMPARATORS = [...STRING_COMPARATORS, "IN", "NOT IN"] as const;
const DATASET_COMPARATORS = STRING_ATTRIBUTE_COMPARATORS;

export function isRunNumericAttribute(key: string): key is RunNumericAttribute {
  return (RUN_NUMERIC_ATTRIBUTES as readonly string[]).includes(key);
}
function isRunStringAttribute(key: string): key is RunStringAttribute {
  return (RUN_STRING_ATTRIBUTES as readonly string[]).includes(key);
}
function isDatasetKey(key: string): key is DatasetKey {
  return (DATASET_KEYS as readonly string[]).includes(key);
}

/**
 * Resolves `[entity.]key` for runs: entity alias → canonical entity, attribute alias → canonical
 * attribute, unknown attribute / dataset keys rejected. Shared by the filter and order_by parsers.
 */
export function resolveRunIdentifier(
  entityText: string | undefined,
  key: string,
  field: SearchField,
): { entity: RunEntity; key: string } {
  let entity: RunEntity = "attribute";
  if (entityText !== undefined) {
    const e = ENTITY_ALIASES[entityText];
    if (e === undefined) {
      throw searchError(field, `Invalid entity type '${entityText}'. Valid values are ${pyList(MLFLOW_ENTITY_NAMES)}`);
    }
    entity = e;
  }
  if (entity === "attribute") {
    const valid = field === "order_by" ? ORDERABLE_ATTRIBUTES : SEARCHABLE_ATTRIBUTES;
    if (!valid.includes(key)) {
      throw searchError(field, `Invalid attribute key '${key}' specified. Valid keys are '${pySet(valid)}'`);
    }
    const aliases = field === "order_by" ? ORDER_BY_ATTRIBUTE_ALIASES : ATTRIBUTE_ALIASES;
    return { entity, key: aliases[key] ?? key };
  }
  if (entity === "dataset" && !isDatasetKey(key)) {
    throw searchError(field, `Invalid dataset key '${key}' specified. Valid keys are '${pySet(DATASET_KEYS)}'`);
  }
  return { entity, key };
}

function invalidComparator(comparator: string, valid: readonly string[]): never {
  throw searchError("filter", `Invalid comparator '${comparator}' not one of '${pySet(valid)}'`);
}

function checkComparator<C extends string>(comparator: string, valid: readonly C[]): C {
  if (!(valid as readonly string[]).includes(comparator)) invalidComparator(comparator, valid);
  return comparator as C;
}

/**
 * Parses a runs/search `filter` string.
 *
 * @throws InvalidInputError with an MLflow-style message naming the offending token.
 */
export function parseRunFilter(filter: string | null | undefined): RunFilter {
  if (!filter) return { clauses: [] };
  return { clauses: parseComparisons(filter).map(toRunClause) };
}

function toRunClause(c: RawComparison): RunFilterClause {
  const { entity, key } = resolveRunIdentifier(c.id.entity, c.id.key, "filter");
  const isNullCheck = c.comparator === "IS NULL" || c.comparator === "IS NOT NULL";
  if (isNullCheck) {
    if (entity !== "param" && entity !== "tag") {
      throw searchError(
        "filter",
        `IS NULL / IS NOT NULL is only supported for tags and params, not for '${entity}' '${key}'`,
      );
    }
    const predicate: NullPredicate = { type: "null", op: c.comparator };
    return { entity, key, predicate };
  }

  switch (entity) {
    case "metric":
      return { entity, key, predicate: numberPredicate(c, NUMERIC_COMPARATORS, "Expected numeric value type for metric.") };
    case "param":
    case "tag":
      return { entity, key, predicate: stringPredicate(c, entity === "param" ? "parameter" : "tag") };
    case "attribute":
      if (isRunNumericAttribute(key)) {
        return {
          entity,
          key,
          predicate: numberPredicate(c, NUMERIC_COMPARATORS, `Expected numeric value type for numeric attribute: ${key}.`),
        };
      }
      if (isRunStringAttribute(key)) return { entity, key, predicate: stringOrListPredicate(c, key, "attribute") };
      // resolveRunIdentifier only returns searchable attributes.
      throw searchError("filter", `Invalid attribute key '${key}' specified.`);
    case "dataset":
      if (!isDatasetKey(key)) throw searchError("filter", `Invalid dataset key '${key}' specified.`);
      return { entity, key, predicate: stringOrListPredicate(c, key, "dataset") };
  }
}

function numberPredicate(c: RawComparison, valid: readonly NumberPredicate["op"][], typeMessage: string): NumberPredicate {
  const op = checkComparator(c.comparator, valid);
  if (c.value.kind !== "number") throw searchError("filter", `${typeMessage} Found ${valueText(c)}`);
  return { type: "number", op, value: c.value.value };
}

function stringPredicate(c: RawComparison, what: "parameter" | "tag"): StringPredicate {
  const op = checkComparator(c.comparator, STRING_COMPARATORS);
  switch (c.value.kind) {
    case "string":
      return { type: "string", op, value: c.value.value };
    case "unquoted":
      throw notQuoted(c.value.text);
    case "number":
    case "list":
    case "none":
      throw searchError(
        "filter",
        `Expected a quoted string value for ${what} (e.g. 'my-value'). Got value ${valueText(c)}`,
      );
  }
}

function stringOrListPredicate(
  c: RawComparison,
  key: string,
  kind: "attribute" | "dataset",
): StringPredicate | ListPredicate {
  const comparator = checkComparator(c.comparator, kind === "attribute" ? STRING_ATTRIBUTE_COMPARATORS : DATASET_COMPARATORS);
  switch (c.value.kind) {
    case "string":
      if (comparator === "IN" || comparator === "NOT IN") {
        // Unreachable: the clause reader requires a list after IN.
        throw searchError("filter", `${comparator} requires a list of quoted string values. Got value ${c.value.text}`);
      }
      return { type: "string", op: comparator, value: c.value.value };
    case "list":
      if (kind === "attribute" && key !== "run_id") {
        throw searchError(
          "filter",
          "Only the 'run_id' attribute supports comparison with a list of quoted string values.",
        );
      }
      if (comparator !== "IN" && comparator !== "NOT IN") {
        throw searchError(
          "filter",
          `Comparator '${comparator}' expects a single quoted string value, got a list ${c.value.text}; use IN or NOT IN`,
        );
      }
      return { type: "list", op: comparator, values: c.value.values };
    case "unquoted":
      throw notQuoted(c.value.text);
    case "number":
    case "none":
      throw searchError(
        "filter",
        kind === "attribute"
          ? `Expected a quoted string value for attributes. Got value ${valueText(c)}`
          : `Expected a quoted string value for dataset attributes. Got value ${valueText(c)}`,
      );
  }
}

function notQuoted(text: string): ReturnType<typeof searchError> {
  return searchError(
    "filter",
    `Parameter value is either not quoted or unidentified quote types used for string value ${text}. ` +
      "Use either single or double quotes.",
  );
}

function valueText(c: RawComparison): string {
  return c.value.kind === "none" ? "NULL" : c.value.text;
}
