/**
 * Model-registry search: registered-models/search and model-versions/search filters and
 * order_by (MLflow `SearchModelUtils` / `SearchModelVersionUtils` and the SQL registry store's
 * `_get_search_registered_model_filter_query`, `_get_search_model_versions_filter_clauses`,
 * `_parse_search_registered_models_order_by`, `_parse_search_model_versions_order_by`).
 */
import type {
  ListPredicate,
  ModelFilter,
  ModelFilterClause,
  ModelOrderBy,
  ModelSearchTarget,
  ModelStringAttribute,
  ModelVersionOrderKey,
  NumberPredicate,
  RegisteredModelOrderKey,
  StringPredicate,
} from "./ast.ts";
import { MODEL_VERSION_STRING_ATTRIBUTES, NUMERIC_COMPARATORS, REGISTERED_MODEL_STRING_ATTRIBUTES, STRING_COMPARATORS } from "./ast.ts";
import type { RawComparison } from "./clauses.ts";
import { parseComparisons } from "./clauses.ts";
import { pyList, pySet, searchError } from "./errors.ts";
import { compareCodePoints, lookup, testList, testNumber, testString } from "./evaluate.ts";
import { readOrderByClause } from "./order-by.ts";

/** Tag marking a registered model / version as a prompt (MLflow 3.x prompt registry). */
export const IS_PROMPT_TAG_KEY = "mlflow.prompt.is_prompt";

const MODEL_ENTITY_TYPES = ["attribute", "tag", "tags"];

export interface RegisteredModelView {
  readonly name: string;
  readonly creation_timestamp: number;
  readonly last_updated_timestamp: number;
  readonly tags: Readonly<Record<string, string>>;
}

export interface ModelVersionView {
  readonly name: string;
  /** The version number; MLflow's wire format is a string of an integer. */
  readonly version: string | number;
  readonly creation_timestamp: number;
  readonly last_updated_timestamp: number;
  readonly run_id?: string | null;
  /** Matched by the `source_path` filter key. */
  readonly source?: string | null;
  readonly tags: Readonly<Record<string, string>>;
}

function validAttributes(target: ModelSearchTarget): readonly string[] {
  return target === "registered_model"
    ? REGISTERED_MODEL_STRING_ATTRIBUTES
    : [...MODEL_VERSION_STRING_ATTRIBUTES, "version_number"];
}

/**
 * Parses a registered-models/search (`target = "registered_model"`: `name`, `tags.<k>`) or
 * model-versions/search (`target = "model_version"`: `name`, `run_id`, `source_path`,
 * `version_number`, `tags.<k>`) filter.
 *
 * Comparators: strings `= != LIKE ILIKE` (+ `IN` for model-version `run_id` only, no `NOT IN`);
 * `version_number` `= != < <= > >=`; tags `= != LIKE ILIKE`.
 */
export function parseModelFilter(filter: string | null | undefined, target: ModelSearchTarget): ModelFilter {
  if (!filter) return { target, clauses: [] };
  return { target, clauses: parseComparisons(filter).map((c) => toModelClause(c, target)) };
}

export function parseRegisteredModelFilter(filter: string | null | undefined): ModelFilter {
  return parseModelFilter(filter, "registered_model");
}

export function parseModelVersionFilter(filter: string | null | undefined): ModelFilter {
  return parseModelFilter(filter, "model_version");
}

function checkComparator<C extends string>(comparator: string, valid: readonly C[]): C {
  if (!(valid as readonly string[]).includes(comparator)) {
    throw searchError("filter", `Invalid comparator '${comparator}' not one of '${pySet(valid)}'`);
  }
  return comparator as C;
}

function resolveModelIdentifier(
  entityText: string | undefined,
  key: string,
  target: ModelSearchTarget,
): { entity: "attribute" | "tag"; key: string } {
  if (entityText !== undefined && !MODEL_ENTITY_TYPES.includes(entityText)) {
    throw searchError(
      "filter",
      `Invalid entity type '${entityText}'. Valid entity types are ('attribute', 'tag', 'tags')`,
    );
  }
  if (entityText === "tag" || entityText === "tags") return { entity: "tag", key };
  const valid = validAttributes(target);
  if (!valid.includes(key)) {
    throw searchError("filter", `Invalid attribute key '${key}' specified. Valid keys are '${pySet(valid)}'`);
  }
  return { entity: "attribute", key };
}

function toModelClause(c: RawComparison, target: ModelSearchTarget): ModelFilterClause {
  const { entity, key } = resolveModelIdentifier(c.id.entity, c.id.key, target);
  if (c.value.kind === "none") {
    throw searchError(
      "filter",
      `IS NULL / IS NOT NULL is only supported for run tags and params, not in model registry search ('${c.text}')`,
    );
  }
  if (entity === "tag") {
    const op = checkComparator(c.comparator, STRING_COMPARATORS);
    if (c.value.kind === "string") return { entity, key, predicate: { type: "string", op, value: c.value.value } };
    if (c.value.kind === "unquoted") throw notQuoted(c.value.text);
    throw searchError("filter", `Expected a quoted string value for tag (e.g. 'my-value'). Got value ${c.value.text}`);
  }

  if (key === "version_number") {
    const op = checkComparator(c.comparator, NUMERIC_COMPARATORS);
    const n = c.value.kind === "number" ? c.value.value : c.value.kind === "string" ? numericString(c.value.value) : undefined;
    if (n === undefined) {
      throw searchError("filter", `Expected numeric value type for numeric attribute: version_number. Found ${c.value.text}`);
    }
    const predicate: NumberPredicate = { type: "number", op, value: n };
    return { entity, key, predicate };
  }

  const attr = key as ModelStringAttribute;
  const valid = target === "model_version" && attr === "run_id" ? [...STRING_COMPARATORS, "IN" as const] : STRING_COMPARATORS;
  const op = checkComparator(c.comparator, valid);
  switch (c.value.kind) {
    case "string": {
      if (op === "IN") {
        throw searchError("filter", `IN requires a list of quoted string values. Got value ${c.value.text}`);
      }
      const predicate: StringPredicate = { type: "string", op, value: c.value.value };
      return { entity, key: attr, predicate };
    }
    case "list": {
      if (op !== "IN") {
        throw searchError(
          "filter",
          attr === "run_id"
            ? `Comparator '${op}' expects a single quoted string value, got a list ${c.value.text}; use IN`
            : "Only the 'run_id' attribute supports comparison with a list of quoted string values.",
        );
      }
      const predicate: ListPredicate = { type: "list", op, values: c.value.values };
      return { entity, key: attr, predicate };
    }
    case "unquoted":
      throw notQuoted(c.value.text);
    case "number":
      throw searchError(
        "filter",
        target === "model_version"
          ? `Only the '${pySet(["version_number", "creation_timestamp", "last_updated_timestamp"])}' attributes support comparison with numeric values. Got value ${c.value.text} for '${attr}'`
          : `Expected a quoted string value or a list of quoted string values for attributes. Got value ${c.value.text}`,
      );
  }
}

function numericString(s: string): number | undefined {
  const t = s.trim();
  if (t === "" || !/^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/u.test(t)) return undefined;
  return Number(t);
}

function notQuoted(text: string): ReturnType<typeof searchError> {
  return searchError(
    "filter",
    `Parameter value is either not quoted or unidentified quote types used for string value ${text}. ` +
      "Use either single or double quotes.",
  );
}

// ---------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------

interface ModelLikeView {
  readonly name: string;
  readonly version?: string | number;
  readonly run_id?: string | null;
  readonly source?: string | null;
  readonly tags: Readonly<Record<string, string>>;
}

function matchesModelClause(c: ModelFilterClause, m: ModelLikeView): boolean {
  if (c.entity === "tag") return testString(c.predicate, lookup(m.tags, c.key));
  if (c.key === "version_number") {
    return testNumber(c.predicate, m.version === undefined ? undefined : Number(m.version));
  }
  const value = c.key === "name" ? m.name : c.key === "run_id" ? m.run_id : m.source;
  return c.predicate.type === "string" ? testString(c.predicate, value) : testList(c.predicate, value);
}

export function matchesRegisteredModel(filter: ModelFilter, model: RegisteredModelView): boolean {
  return filter.clauses.every((c) => matchesModelClause(c, model));
}

export function matchesModelVersion(filter: ModelFilter, version: ModelVersionView): boolean {
  return filter.clauses.every((c) => matchesModelClause(c, version));
}

/**
 * True when the filter explicitly asks for prompts (`tags."mlflow.prompt.is_prompt" = 'true'` or
 * `!= 'false'`, case-insensitive value). MLflow 3.x search excludes prompts otherwise.
 */
export function queriesPrompts(filter: ModelFilter): boolean {
  for (const c of filter.clauses) {
    if (c.entity !== "tag" || c.key !== IS_PROMPT_TAG_KEY) continue;
    const v = c.predicate.value.toLowerCase();
    return (c.predicate.op === "=" && v === "true") || (c.predicate.op === "!=" && v === "false");
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// order_by
// ---------------------------------------------------------------------------------------------

/**
 * MLflow's SQL registry store maps BOTH `timestamp` and `last_updated_timestamp` to the
 * last-updated column (so listing both is a duplicate). `creation_timestamp` is accepted as in
 * MLflow's file store.
 */
const REGISTERED_MODEL_ORDER_KEYS: Readonly<Record<string, RegisteredModelOrderKey>> = {
  name: "name",
  timestamp: "last_updated_timestamp",
  last_updated_timestamp: "last_updated_timestamp",
  creation_timestamp: "creation_timestamp",
};
const MODEL_VERSION_ORDER_KEYS: Readonly<Record<string, ModelVersionOrderKey>> = {
  name: "name",
  version_number: "version_number",
  creation_timestamp: "creation_timestamp",
  last_updated_timestamp: "last_updated_timestamp",
};

function parseModelOrderBy<K extends string>(
  clauses: readonly string[] | null | undefined,
  keys: Readonly<Record<string, K>>,
): ModelOrderBy<K>[] {
  const out: ModelOrderBy<K>[] = [];
  for (const clause of clauses ?? []) {
    const { id, ascending } = readOrderByClause(clause);
    const key = (id.entity === undefined || id.entity === "attribute") && Object.hasOwn(keys, id.key) ? keys[id.key] : undefined;
    if (key === undefined) {
      throw searchError(
        "order_by",
        `Invalid order by key '${id.text}' specified. Valid keys are '${pySet(Object.keys(keys))}'`,
      );
    }
    if (out.some((o) => o.key === key)) {
      throw searchError("order_by", `\`order_by\` contains duplicate fields: ${pyList(clauses ?? [])}`);
    }
    out.push({ key, ascending });
  }
  return out;
}

/** registered-models/search order_by: `name`, `timestamp`, `last_updated_timestamp`, `creation_timestamp`. */
export function parseRegisteredModelOrderBy(clauses: readonly string[] | null | undefined): ModelOrderBy<RegisteredModelOrderKey>[] {
  return parseModelOrderBy(clauses, REGISTERED_MODEL_ORDER_KEYS);
}

/** model-versions/search order_by: `name`, `version_number`, `creation_timestamp`, `last_updated_timestamp`. */
export function parseModelVersionOrderBy(clauses: readonly string[] | null | undefined): ModelOrderBy<ModelVersionOrderKey>[] {
  return parseModelOrderBy(clauses, MODEL_VERSION_ORDER_KEYS);
}

function cmp(a: number | string, b: number | string): number {
  if (typeof a === "number" && typeof b === "number") {
    // NaN (an unparsable version) sorts last.
    if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) ? (Number.isNaN(b) ? 0 : 1) : -1;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  return compareCodePoints(String(a), String(b));
}

function compareBy<T, K extends string>(
  orderBy: readonly ModelOrderBy<K>[],
  value: (item: T, key: K) => number | string,
): (a: T, b: T) => number {
  return (a, b) => {
    for (const o of orderBy) {
      const c = cmp(value(a, o.key), value(b, o.key));
      if (c !== 0) return o.ascending ? c : -c;
    }
    return 0;
  };
}

/** Registered-model ordering: the clauses, then `name ASC` unless name is listed. */
export function compareRegisteredModels(
  orderBy: readonly ModelOrderBy<RegisteredModelOrderKey>[] = [],
): (a: RegisteredModelView, b: RegisteredModelView) => number {
  const full = orderBy.some((o) => o.key === "name") ? orderBy : [...orderBy, { key: "name" as const, ascending: true }];
  return compareBy<RegisteredModelView, RegisteredModelOrderKey>(full, (m, k) => m[k]);
}

/** Default model-version order when order_by is empty (MLflow SQL registry store). */
export const DEFAULT_MODEL_VERSION_ORDER_BY: readonly ModelOrderBy<ModelVersionOrderKey>[] = [
  { key: "last_updated_timestamp", ascending: false },
  { key: "name", ascending: true },
  { key: "version_number", ascending: false },
];

/**
 * Model-version ordering: the clauses (or `last_updated_timestamp DESC, name ASC,
 * version_number DESC` when none), then `name ASC` and `version_number DESC` unless listed.
 */
export function compareModelVersions(
  orderBy: readonly ModelOrderBy<ModelVersionOrderKey>[] = [],
): (a: ModelVersionView, b: ModelVersionView) => number {
  const full = [...(orderBy.length > 0 ? orderBy : DEFAULT_MODEL_VERSION_ORDER_BY)];
  if (!full.some((o) => o.key === "name")) full.push({ key: "name", ascending: true });
  if (!full.some((o) => o.key === "version_number")) full.push({ key: "version_number", ascending: false });
  return compareBy<ModelVersionView, ModelVersionOrderKey>(full, (v, k) =>
    k === "version_number" ? Number(v.version) : v[k],
  );
}
