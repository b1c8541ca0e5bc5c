/**
 * experiments/search filter and order_by (reference §5): attributes `name`, `creation_time`,
 * `last_update_time` and `tags.<k>`; order by `name`, `experiment_id`, `creation_time`,
 * `last_update_time`; default order `creation_time DESC, experiment_id ASC`. Experiments are
 * few per project, so this evaluates in memory.
 */
import type { ExperimentRow } from "../mlflow/index.ts";
import { compareCodePoints, testNumber, testString, type NumberPredicate, type StringPredicate } from "./search/index.ts";
import { parseComparisons } from "./search/clauses.ts";
import { searchError } from "./search/errors.ts";
import { readOrderByClause } from "./search/order-by.ts";
import type { KeyValue } from "./store.ts";

export interface ExperimentView {
  readonly row: ExperimentRow;
  readonly tags: readonly KeyValue[];
}

type Clause =
  | { entity: "attribute"; key: "name"; predicate: StringPredicate }
  | { entity: "attribute"; key: "creation_time" | "last_update_time"; predicate: NumberPredicate }
  | { entity: "tag"; key: string; predicate: StringPredicate };

const STRING_OPS = ["=", "!=", "LIKE", "ILIKE"] as const;
const NUMBER_OPS = ["=", "!=", ">", ">=", "<", "<="] as const;
const ORDER_KEYS = ["name", "experiment_id", "creation_time", "last_update_time"] as const;
type OrderKey = (typeof ORDER_KEYS)[number];

export function parseExperimentFilter(filter: string | undefined): Clause[] {
  if (!filter) return [];
  return parseComparisons(filter).map((c): Clause => {
    const entity = c.id.entity;
    const isTag = entity === "tag" || entity === "tags";
    if (entity !== undefined && !isTag && !["attribute", "attributes", "attr"].includes(entity)) {
      throw searchError("filter", `Invalid entity type '${entity}'. Valid values are ['attribute', 'tag']`);
    }
    const strOp = (): StringPredicate["op"] => {
      if (!(STRING_OPS as readonly string[]).includes(c.comparator)) throw searchError("filter", `Invalid comparator '${c.comparator}' not one of '${STRING_OPS.join("', '")}'`);
      if (c.value.kind !== "string") throw searchError("filter", `Expected a quoted string value for '${c.id.text}'. Got value ${c.value.kind === "none" ? "NULL" : c.value.text}`);
      return c.comparator as StringPredicate["op"];
    };
    if (isTag) {
      const op = strOp();
      return { entity: "tag", key: c.id.key, predicate: { type: "string", op, value: (c.value as { value: string }).value } };
    }
    if (c.id.key === "name") {
      const op = strOp();
      return { entity: "attribute", key: "name", predicate: { type: "string", op, value: (c.value as { value: string }).value } };
    }
    if (c.id.key === "creation_time" || c.id.key === "last_update_time") {
      if (!(NUMBER_OPS as readonly string[]).includes(c.comparator)) throw searchError("filter", `Invalid comparator '${c.comparator}' not one of '${NUMBER_OPS.join("', '")}'`);
      if (c.value.kind !== "number") throw searchError("filter", `Expected numeric value type for numeric attribute: ${c.id.key}.`);
      return { entity: "attribute", key: c.id.key, predicate: { type: "number", op: c.comparator as NumberPredicate["op"], value: c.value.value } };
    }
    throw searchError("filter", `Invalid attribute key '${c.id.key}' specified. Valid keys are '{'name', 'creation_time', 'last_update_time'}'`);
  });
}

export function parseExperimentOrderBy(clauses: readonly string[]): { key: OrderKey; ascending: boolean }[] {
  const seen = new Set<string>();
  return clauses.map((clause) => {
    const { id, ascending } = readOrderByClause(clause);
    if (id.entity !== undefined && !["attribute", "attributes", "attr"].includes(id.entity)) {
      throw searchError("order_by", `Invalid order_by entity '${id.entity}' in '${clause}'`);
    }
    if (!(ORDER_KEYS as readonly string[]).includes(id.key)) {
      throw searchError("order_by", `Invalid order by key '${id.key}' specified. Valid keys are ${ORDER_KEYS.map((k) => `'${k}'`).join(", ")}`);
    }
    if (seen.has(id.key)) throw searchError("order_by", `\`order_by\` contains duplicate fields: ${clauses.join(", ")}`);
    seen.add(id.key);
    return { key: id.key as OrderKey, ascending };
  });
}

export function searchExperiments(all: readonly ExperimentView[], filter: string | undefined, orderBy: readonly string[]): ExperimentView[] {
  const clauses = parseExperimentFilter(filter);
  const order = parseExperimentOrderBy(orderBy);
  const matched = all.filter((e) =>
    clauses.every((c) => {
      if (c.entity === "tag") return testString(c.predicate, e.tags.find((t) => t.key === c.key)?.value);
      if (c.key === "name") return testString(c.predicate, e.row.name);
      return testNumber(c.predicate, e.row[c.key]);
    }),
  );
  const hasCreation = order.some((o) => o.key === "creation_time");
  const hasId = order.some((o) => o.key === "experiment_id");
  const terms = [...order, ...(hasCreation ? [] : [{ key: "creation_time" as const, ascending: false }]), ...(hasId ? [] : [{ key: "experiment_id" as const, ascending: true }])];
  return matched.sort((a, b) => {
    for (const t of terms) {
      const c = t.key === "name" ? compareCodePoints(a.row.name, b.row.name) : a.row[t.key] - b.row[t.key];
      if (c !== 0) return t.ascending ? c : -c;
    }
    return 0;
  });
}
