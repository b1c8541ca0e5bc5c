/**
 * runs/search in SQL: the parsed filter (src/tracking/search) and order_by compiled to one
 * query over tracking_runs, with the MLflow semantics the in-memory evaluator defines
 * (evaluate.ts): missing values never match, NaN metrics satisfy only `!=`, NaN and missing
 * values sort last in both directions, ties broken by start_time DESC then run_id ASC.
 *
 * LIKE is case-sensitive with `%`/`_` wildcards and no escape character: PostgreSQL gets
 * `LIKE … ESCAPE ''`; SQLite (whose LIKE ignores ASCII case) gets the pattern as a GLOB.
 * ILIKE on SQLite uses its LIKE (ASCII case folding only). Strings sort by code point
 * (`COLLATE "C"` on PostgreSQL, BINARY on SQLite).
 */
import { sql, type RawBuilder } from "kysely";
import type { Engine } from "../store/database.ts";
import type { Db } from "../store/database.ts";
import type { RunRow } from "../mlflow/index.ts";
import type { ListPredicate, NumberPredicate, OrderBy, RunFilter, RunFilterClause, StringPredicate } from "./search/index.ts";

type Frag = RawBuilder<unknown>;

/** SQL LIKE pattern → GLOB pattern with the same meaning (case-sensitive). */
export function likeToGlob(pattern: string): string {
  let out = "";
  for (const ch of pattern) {
    if (ch === "%") out += "*";
    else if (ch === "_") out += "?";
    else if (ch === "*" || ch === "?" || ch === "[") out += `[${ch}]`;
    else out += ch;
  }
  return out;
}

export class RunSearchCompiler {
  private aliases = 0;
  constructor(private readonly engine: Engine) {}

  private collate(e: Frag): Frag {
    return this.engine === "postgres" ? sql`${e} COLLATE "C"` : e;
  }

  private num(v: number): Frag {
    return sql`CAST(${v} AS DOUBLE PRECISION)`;
  }

  private numberPred(col: Frag, p: NumberPredicate): Frag {
    const v = this.num(p.value);
    switch (p.op) {
      case "=":
        return sql`${col} = ${v}`;
      case "!=":
        return sql`${col} <> ${v}`;
      case ">":
        return sql`${col} > ${v}`;
      case ">=":
        return sql`${col} >= ${v}`;
      case "<":
        return sql`${col} < ${v}`;
      case "<=":
        return sql`${col} <= ${v}`;
    }
  }

  private stringPred(col: Frag, p: StringPredicate): Frag {
    switch (p.op) {
      case "=":
        return sql`${col} = ${p.value}`;
      case "!=":
        return sql`${col} <> ${p.value}`;
      case "LIKE":
        return this.engine === "postgres" ? sql`${col} LIKE ${p.value} ESCAPE ''` : sql`${col} GLOB ${likeToGlob(p.value)}`;
      case "ILIKE":
        return this.engine === "postgres" ? sql`${col} ILIKE ${p.value} ESCAPE ''` : sql`${col} LIKE ${p.value}`;
    }
  }

  private listPred(col: Frag, p: ListPredicate): Frag {
    const items = sql.join(p.values.map((v) => sql`${v}`));
    return p.op === "IN" ? sql`${col} IN (${items})` : sql`${col} NOT IN (${items})`;
  }

  private alias(prefix: string): Frag {
    return sql.raw(`${prefix}${++this.aliases}`);
  }

  clause(c: RunFilterClause): Frag {
    switch (c.entity) {
      case "metric": {
        const m = this.alias("fm");
        const col = sql`${m}.value`;
        const pred = c.predicate.op === "!=" ? sql`(${m}.is_nan = 1 OR ${this.numberPred(col, c.predicate)})` : sql`${m}.is_nan = 0 AND ${this.numberPred(col, c.predicate)}`;
        return sql`EXISTS (SELECT 1 FROM tracking_latest_metrics ${m} WHERE ${m}.run_id = r.run_id AND ${m}.key = ${c.key} AND ${pred})`;
      }
      case "param":
      case "tag": {
        const t = this.alias("fk");
        const table = sql.raw(c.entity === "param" ? "tracking_params" : "tracking_tags");
        const p = c.predicate;
        const base = sql`SELECT 1 FROM ${table} ${t} WHERE ${t}.run_id = r.run_id AND ${t}.key = ${c.key}`;
        if (p.type === "null") return p.op === "IS NULL" ? sql`NOT EXISTS (${base})` : sql`EXISTS (${base})`;
        return sql`EXISTS (${base} AND ${this.stringPred(sql`${t}.value`, p)})`;
      }
      case "attribute": {
        const column = sql.raw(`r.${c.key === "run_name" ? "name" : c.key}`);
        const p = c.predicate;
        if (p.type === "number") return sql`(${column} IS NOT NULL AND ${this.numberPred(column, p)})`;
        if (p.type === "list") return this.listPred(column, p);
        return this.stringPred(column, p);
      }
      case "dataset": {
        const d = this.alias("fd");
        const col = sql`${d}.${sql.raw(c.key)}`;
        const p = c.predicate;
        const pred = p.type === "list" ? sql`(${col} IS NOT NULL AND ${this.listPred(col, p)})` : this.stringPred(col, p);
        return sql`EXISTS (SELECT 1 FROM tracking_inputs ${d} WHERE ${d}.run_id = r.run_id AND ${pred})`;
      }
    }
  }

  /** LEFT JOINs and ORDER BY terms for `orderBy` plus the implicit tie-breakers. */
  ordering(orderBy: readonly OrderBy[]): { joins: Frag[]; terms: Frag[] } {
    const joins: Frag[] = [];
    const terms: Frag[] = [];
    for (const o of orderBy) {
      const dir = sql.raw(o.ascending ? "ASC" : "DESC");
      if (o.entity === "attribute") {
        const col = sql.raw(`r.${o.key === "run_name" ? "name" : o.key}`);
        if (o.key === "start_time" || o.key === "end_time") {
          terms.push(sql`CASE WHEN ${col} IS NULL THEN 2 ELSE 0 END`, sql`${col} ${dir}`);
        } else {
          terms.push(sql`${this.collate(col)} ${dir}`);
        }
        continue;
      }
      const a = this.alias("o");
      const table = sql.raw(o.entity === "metric" ? "tracking_latest_metrics" : o.entity === "param" ? "tracking_params" : "tracking_tags");
      joins.push(sql`LEFT JOIN ${table} ${a} ON ${a}.run_id = r.run_id AND ${a}.key = ${o.key}`);
      if (o.entity === "metric") {
        terms.push(sql`CASE WHEN ${a}.run_id IS NULL THEN 2 WHEN ${a}.is_nan = 1 THEN 1 ELSE 0 END`, sql`${a}.value ${dir}`);
      } else {
        terms.push(sql`CASE WHEN ${a}.run_id IS NULL THEN 2 ELSE 0 END`, sql`${this.collate(sql`${a}.value`)} ${dir}`);
      }
    }
    if (!orderBy.some((o) => o.entity === "attribute" && o.key === "start_time")) terms.push(sql`r.start_time DESC`);
    terms.push(sql`${this.collate(sql`r.run_id`)} ASC`);
    return { joins, terms };
  }
}

export interface RunSearchQuery {
  readonly experimentIds: readonly number[];
  readonly lifecycleStages: readonly string[];
  readonly filter: RunFilter;
  readonly orderBy: readonly OrderBy[];
  readonly offset: number;
  readonly limit: number;
}

/** One page of runs matching the query, in MLflow order. */
export async function searchRunRows(db: Db, engine: Engine, q: RunSearchQuery): Promise<RunRow[]> {
  if (q.experimentIds.length === 0) return [];
  const c = new RunSearchCompiler(engine);
  const conds: Frag[] = [
    sql`r.experiment_id IN (${sql.join(q.experimentIds.map((id) => sql`${id}`))})`,
    sql`r.lifecycle_stage IN (${sql.join(q.lifecycleStages.map((s) => sql`${s}`))})`,
    ...q.filter.clauses.map((cl) => c.clause(cl)),
  ];
  const { joins, terms } = c.ordering(q.orderBy);
  const query = sql<RunRow>`SELECT r.* FROM tracking_runs r ${sql.join(joins, sql` `)} WHERE ${sql.join(conds, sql` AND `)} ORDER BY ${sql.join(terms)} LIMIT ${q.limit} OFFSET ${q.offset}`;
  const res = await query.execute(db);
  return res.rows;
}
