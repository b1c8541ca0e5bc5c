/**
 * order_by parsing (MLflow `SearchUtils._parse_order_by_string` / `parse_order_by_for_search_runs`
 * and the SQL store's duplicate check).
 */
import type { OrderBy, RunAttribute } from "./ast.ts";
import { pyList, searchError } from "./errors.ts";
import type { RawIdentifier } from "./identifier.ts";
import { readIdentifier } from "./identifier.ts";
import { tokenize } from "./lexer.ts";
import { resolveRunIdentifier } from "./run-filter.ts";

/**
 * Reads one `"<identifier> [ASC|DESC]"` clause (direction case-insensitive, default ASC).
 * Leading/trailing whitespace is ignored (MLflow rejects trailing whitespace; we are lenient).
 */
export function readOrderByClause(clause: string): { id: RawIdentifier; ascending: boolean } {
  const unparsable = (): never => {
    throw searchError("order_by", `Invalid order_by clause '${clause}'. Could not be parsed.`);
  };
  const lexed = tokenize(clause);
  if (!lexed.ok || lexed.tokens.length === 0) return unparsable();
  const tokens = lexed.tokens;
  const idRes = readIdentifier(clause, tokens, 0);
  if (!idRes.ok) return unparsable();
  let ascending = true;
  let next = idRes.next;
  const dir = tokens[next];
  if (dir !== undefined) {
    if (dir.kind !== "word" || next + 1 !== tokens.length) return unparsable();
    const d = dir.value.toLowerCase();
    if (d !== "asc" && d !== "desc") {
      throw searchError("order_by", `Invalid ordering key in order_by clause '${clause}'.`);
    }
    ascending = d === "asc";
    next++;
  }
  if (next !== tokens.length) return unparsable();
  return { id: idRes.id, ascending };
}

/**
 * Parses runs/search `order_by`. The result does NOT include the implicit tie-breakers
 * (`start_time DESC` unless start_time is listed, then `run_id ASC`); `compareRuns` and a SQL
 * compiler add them.
 *
 * @throws InvalidInputError on a malformed clause, an unknown entity / attribute, a dataset key,
 *   or a field listed twice (MLflow: "`order_by` contains duplicate fields").
 */
export function parseOrderBy(clauses: readonly string[] | null | undefined): OrderBy[] {
  const out: OrderBy[] = [];
  const seen = new Set<string>();
  for (const clause of clauses ?? []) {
    const { id, ascending } = readOrderByClause(clause);
    const { entity, key } = resolveRunIdentifier(id.entity, id.key, "order_by");
    if (entity === "dataset") {
      throw searchError("order_by", `Invalid identifier type 'dataset' in order_by clause '${clause}'`);
    }
    const fieldId = `${entity}\u0000${key}`;
    if (seen.has(fieldId)) {
      throw searchError("order_by", `\`order_by\` contains duplicate fields: ${pyList(clauses ?? [])}`);
    }
    seen.add(fieldId);
    out.push(entity === "attribute" ? { entity, key: key as RunAttribute, ascending } : { entity, key, ascending });
  }
  return out;
}
