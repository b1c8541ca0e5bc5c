/**
 * In-memory evaluation of parsed run filters and order_by clauses, with MLflow semantics
 * (mlflow/utils/search_utils.py `SearchUtils.filter` / `SearchUtils.sort`, and the SQL store's
 * `_get_orderby_clauses`, which agree on everything implemented here).
 */
import type {
  ListPredicate,
  NumberPredicate,
  NumericComparator,
  OrderBy,
  RunFilter,
  RunFilterClause,
  StringPredicate,
} from "./ast.ts";

export interface RunInfoView {
  readonly run_id: string;
  readonly run_name?: string | null;
  readonly status: string;
  readonly start_time: number;
  /** Absent / null while the run has not ended. */
  readonly end_time?: number | null;
  readonly artifact_uri?: string | null;
  readonly lifecycle_stage: string;
  readonly user_id?: string | null;
  readonly experiment_id: string;
}

/** One dataset input of a run. `context` is the input tag `mlflow.data.context`, if any. */
export interface RunDatasetView {
  readonly name: string;
  readonly digest: string;
  readonly context?: string | null;
}

export interface RunView {
  readonly info: RunInfoView;
  /** Latest value per metric key (max `(step, timestamp, value)`); may contain NaN / ±Infinity. */
  readonly latestMetrics: Readonly<Record<string, number>>;
  readonly params: Readonly<Record<string, string>>;
  readonly tags: Readonly<Record<string, string>>;
  readonly datasets?: readonly RunDatasetView[];
}

/** Own-property lookup: keys like `constructor` or `__proto__` must not hit Object.prototype. */
export function lookup<V>(record: Readonly<Record<string, V>>, key: string): V | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

// ---------------------------------------------------------------------------------------------
// Predicates
// ---------------------------------------------------------------------------------------------

const REGEX_SYNTAX = /[\\^$.*+?()[\]{}|/]/gu;

/**
 * SQL LIKE pattern → anchored RegExp: `%` any sequence (newlines included), `_` exactly one
 * character (code point), everything else literal — regex metacharacters included. No escape
 * character (as MLflow: SQLite has none by default; its file store has none either).
 */
export function likeToRegExp(pattern: string, caseInsensitive: boolean): RegExp {
  let src = "";
  for (const ch of pattern) {
    if (ch === "%") src += ".*";
    else if (ch === "_") src += ".";
    else src += ch.replace(REGEX_SYNTAX, "\\$&");
  }
  return new RegExp(`^${src}$`, caseInsensitive ? "isu" : "su");
}

const likeCache = new WeakMap<StringPredicate, RegExp>();

function likeRegExp(p: StringPredicate): RegExp {
  let re = likeCache.get(p);
  if (re === undefined) {
    re = likeToRegExp(p.value, p.op === "ILIKE");
    likeCache.set(p, re);
  }
  return re;
}

/** IEEE comparison: NaN satisfies only `!=`. */
export function compareNumbers(lhs: number, op: NumericComparator, rhs: number): boolean {
  switch (op) {
    case "=":
      return lhs === rhs;
    case "!=":
      return lhs !== rhs;
    case ">":
      return lhs > rhs;
    case ">=":
      return lhs >= rhs;
    case "<":
      return lhs < rhs;
    case "<=":
      return lhs <= rhs;
  }
}

export function testNumber(p: NumberPredicate, lhs: number | null | undefined): boolean {
  return lhs !== null && lhs !== undefined && compareNumbers(lhs, p.op, p.value);
}

/** `=`/`!=`/`LIKE` are case-sensitive, `ILIKE` is not. A missing (null) value never matches. */
export function testString(p: StringPredicate, lhs: string | null | undefined): boolean {
  if (lhs === null || lhs === undefined) return false;
  switch (p.op) {
    case "=":
      return lhs === p.value;
    case "!=":
      return lhs !== p.value;
    case "LIKE":
    case "ILIKE":
      return likeRegExp(p).test(lhs);
  }
}

export function testList(p: ListPredicate, lhs: string | null | undefined): boolean {
  if (lhs === null || lhs === undefined) return false;
  return p.op === "IN" ? p.values.includes(lhs) : !p.values.includes(lhs);
}

function testStringOrList(p: StringPredicate | ListPredicate, lhs: string | null | undefined): boolean {
  return p.type === "string" ? testString(p, lhs) : testList(p, lhs);
}

// ---------------------------------------------------------------------------------------------
// Runs
// ---------------------------------------------------------------------------------------------

/** True when `run` satisfies every clause of `filter` (an empty filter matches every run). */
export function matchesRun(filter: RunFilter, run: RunView): boolean {
  return filter.clauses.every((c) => matchesClause(c, run));
}

function matchesClause(c: RunFilterClause, run: RunView): boolean {
  switch (c.entity) {
    case "metric":
      return testNumber(c.predicate, lookup(run.latestMetrics, c.key));
    case "param":
    case "tag": {
      const value = lookup(c.entity === "param" ? run.params : run.tags, c.key);
      const p = c.predicate;
      if (p.type === "null") return p.op === "IS NULL" ? value === undefined : value !== undefined;
      return testString(p, value);
    }
    case "attribute": {
      const value = run.info[c.key];
      if (c.predicate.type === "number") return typeof value === "number" && testNumber(c.predicate, value);
      return typeof value === "string" && testStringOrList(c.predicate, value);
    }
    case "dataset": {
      const datasets = run.datasets ?? [];
      const key = c.key;
      // ANY dataset input satisfying the predicate (MLflow: `any(...)` / EXISTS subquery).
      return datasets.some((d) => testStringOrList(c.predicate, d[key]));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Ordering
// ---------------------------------------------------------------------------------------------

/**
 * Compares strings by Unicode code point, i.e. UTF-8 byte order (SQLite BINARY, PostgreSQL "C"
 * collation). Plain `<` compares UTF-16 code units, which misorders astral characters against
 * U+E000..U+FFFF.
 */
export function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1; // a surrogate starts an astral code point: above all BMP
    return x - y;
  }
  return a.length - b.length;
}

type SortValue = number | string | null | undefined;

/** 0: a real value, 1: NaN (metrics), 2: missing. Ranks sort ascending whatever the direction. */
function rank(v: SortValue): 0 | 1 | 2 {
  if (v === null || v === undefined) return 2;
  if (typeof v === "number" && Number.isNaN(v)) return 1;
  return 0;
}

function sortValue(run: RunView, o: OrderBy): SortValue {
  switch (o.entity) {
    case "metric":
      return lookup(run.latestMetrics, o.key);
    case "param":
      return lookup(run.params, o.key);
    case "tag":
      return lookup(run.tags, o.key);
    case "attribute":
      return run.info[o.key];
  }
}

function compareValues(a: number | string, b: number | string): number {
  if (typeof a === "number" && typeof b === "number") return a < b ? -1 : a > b ? 1 : 0;
  return compareCodePoints(String(a), String(b));
}

/**
 * Comparator implementing MLflow's runs/search ordering:
 *
 *  1. each `orderBy` clause in turn: real values in the requested direction, then NaN, then
 *     missing values — NaN and missing sort LAST in both ASC and DESC
 *     (SQL store: `CASE WHEN is_nan THEN 1 WHEN value IS NULL THEN 2 ELSE 0 END` before the value;
 *     file store test `test_order_by_metric_with_nans_infs_nones`);
 *  2. `start_time DESC`, unless start_time is one of the clauses;
 *  3. `run_id ASC`.
 *
 * The result is a total order on distinct run ids, so `Array.prototype.sort` gives the same page
 * boundaries as MLflow's SQL store.
 */
export function compareRuns(orderBy: readonly OrderBy[] = []): (a: RunView, b: RunView) => number {
  const hasStartTime = orderBy.some((o) => o.entity === "attribute" && o.key === "start_time");
  return (a, b) => {
    for (const o of orderBy) {
      const va = sortValue(a, o);
      const vb = sortValue(b, o);
      const ra = rank(va);
      const rb = rank(vb);
      if (ra !== rb) return ra - rb;
      if (ra === 0) {
        const c = compareValues(va as number | string, vb as number | string);
        if (c !== 0) return o.ascending ? c : -c;
      }
    }
    if (!hasStartTime) {
      const c = compareValues(a.info.start_time, b.info.start_time);
      if (c !== 0) return -c;
    }
    return compareCodePoints(a.info.run_id, b.info.run_id);
  };
}
