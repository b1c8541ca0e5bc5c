/**
 * Entity-agnostic part of filter parsing: splits `clause AND clause ...` and reads each clause
 * as `identifier comparator value`. The per-search-kind parsers (run-filter.ts, model-filter.ts)
 * then validate entities, keys, comparators and value types.
 */
import type { SearchField } from "./errors.ts";
import { pyStr, searchError } from "./errors.ts";
import type { RawIdentifier } from "./identifier.ts";
import { readIdentifier } from "./identifier.ts";
import type { Token } from "./lexer.ts";
import { isKeyword, tokenize } from "./lexer.ts";

export type RawValue =
  | { readonly kind: "number"; readonly value: number; readonly text: string }
  | { readonly kind: "string"; readonly value: string; readonly text: string }
  /** An unquoted word or a backticked name in value position (MLflow: "not quoted"). */
  | { readonly kind: "unquoted"; readonly text: string }
  | { readonly kind: "list"; readonly values: readonly string[]; readonly text: string }
  | { readonly kind: "none" };

export interface RawComparison {
  readonly id: RawIdentifier;
  /** Upper-cased: `=`, `!=`, `<>`, `==`, `<`, `LIKE`, `ILIKE`, `IN`, `NOT IN`, `IS NULL`, ... */
  readonly comparator: string;
  readonly value: RawValue;
  /** Source text of the whole clause. */
  readonly text: string;
}

const FIELD: SearchField = "filter";

function invalidClause(detail: string): never {
  throw searchError(FIELD, `Invalid clause(s) in filter string: ${detail}`);
}

/** Parses `filter` into raw comparisons. Empty / whitespace-only filters give `[]`. */
export function parseComparisons(filter: string): RawComparison[] {
  const lexed = tokenize(filter);
  if (!lexed.ok) {
    if (lexed.reason === "unterminated") {
      invalidClause(`unterminated quoted string ${JSON.stringify(lexed.text)} at position ${lexed.position}`);
    }
    invalidClause(`unexpected ${pyStr(lexed.text)} at position ${lexed.position}`);
  }
  const tokens = lexed.tokens;
  if (tokens.length === 0) return [];

  if (tokens.some((t) => t.kind === "semicolon")) {
    throw searchError(
      FIELD,
      `Search filter contained multiple expression '${filter}'. Provide AND-ed expression list.`,
    );
  }
  const or = tokens.find((t, i) => isKeyword(t, "OR") && !touchesDot(tokens, i));
  if (or) {
    invalidClause(`${pyStr(or.text)}. OR is not supported: the filter must be a list of expressions joined by AND`);
  }

  const out: RawComparison[] = [];
  let pos = 0;
  for (;;) {
    const { comparison, next } = readComparison(filter, tokens, pos);
    out.push(comparison);
    if (next >= tokens.length) return out;
    const t = tokens[next] as Token;
    if (!isKeyword(t, "AND")) {
      invalidClause(
        `${pyStr(filter.slice(tokens[pos]?.start ?? 0, t.end))}: unexpected ${pyStr(t.text)} after ${pyStr(comparison.text)}; expressions must be joined by AND`,
      );
    }
    pos = next + 1;
    if (pos >= tokens.length) invalidClause(`${pyStr(t.text)} at the end of the filter is not followed by an expression`);
    if (isKeyword(tokens[pos], "AND")) invalidClause(`${pyStr(`${t.text} ${(tokens[pos] as Token).text}`)}: empty expression`);
  }
}

function touchesDot(tokens: readonly Token[], i: number): boolean {
  const prev = tokens[i - 1];
  const next = tokens[i + 1];
  const t = tokens[i] as Token;
  return (prev?.kind === "dot" && prev.end === t.start) || (next?.kind === "dot" && next.start === t.end);
}

function readComparison(
  source: string,
  tokens: readonly Token[],
  pos: number,
): { comparison: RawComparison; next: number } {
  const startTok = tokens[pos] as Token;
  const idRes = readIdentifier(source, tokens, pos);
  if (!idRes.ok) throw searchError(FIELD, idRes.message);
  const id = idRes.id;
  let i = idRes.next;
  const clauseText = (endExclusive: number): string =>
    source.slice(startTok.start, (tokens[endExclusive - 1] ?? startTok).end);

  const t = tokens[i];
  if (t === undefined || isKeyword(t, "AND")) {
    invalidClause(`${pyStr(id.text)} is not a comparison: expected an operator and a value after ${pyStr(id.text)}`);
  }

  let comparator: string;
  if (t.kind === "op") {
    comparator = t.text;
    i++;
  } else if (isKeyword(t, "LIKE") || isKeyword(t, "ILIKE") || isKeyword(t, "IN")) {
    comparator = t.value.toUpperCase();
    i++;
  } else if (isKeyword(t, "NOT") && isKeyword(tokens[i + 1], "IN")) {
    comparator = "NOT IN";
    i += 2;
  } else if (isKeyword(t, "IS")) {
    if (isKeyword(tokens[i + 1], "NULL")) {
      return { comparison: { id, comparator: "IS NULL", value: { kind: "none" }, text: clauseText(i + 2) }, next: i + 2 };
    }
    if (isKeyword(tokens[i + 1], "NOT") && isKeyword(tokens[i + 2], "NULL")) {
      return {
        comparison: { id, comparator: "IS NOT NULL", value: { kind: "none" }, text: clauseText(i + 3) },
        next: i + 3,
      };
    }
    invalidClause(`${pyStr(clauseText(Math.min(i + 2, tokens.length)))}: IS must be followed by NULL or NOT NULL`);
  } else {
    invalidClause(`${pyStr(clauseText(i + 1))}: expected a comparison operator after ${pyStr(id.text)}, found ${pyStr(t.text)}`);
  }

  const v = tokens[i];
  if (v === undefined || isKeyword(v, "AND")) {
    invalidClause(`${pyStr(clauseText(i))} is missing a value after ${pyStr(comparator)}`);
  }
  let value: RawValue;
  switch (v.kind) {
    case "number":
      value = { kind: "number", value: Number(v.text), text: v.text };
      i++;
      break;
    case "sq":
    case "dq":
      value = { kind: "string", value: v.value, text: v.text };
      i++;
      break;
    case "word":
    case "bt": {
      // An unquoted name, possibly dotted (`metrics.acc != metrics.other`): report it whole.
      const asId = readIdentifier(source, tokens, i);
      const next = asId.ok ? asId.next : i + 1;
      value = { kind: "unquoted", text: source.slice(v.start, (tokens[next - 1] as Token).end) };
      i = next;
      break;
    }
    case "lparen": {
      const list = readList(source, tokens, i);
      value = list.value;
      i = list.next;
      break;
    }
    case "op":
    case "dot":
    case "rparen":
    case "comma":
    case "semicolon":
      invalidClause(`${pyStr(clauseText(i + 1))}: expected a value after ${pyStr(comparator)}, found ${pyStr(v.text)}`);
  }
  if ((comparator === "IN" || comparator === "NOT IN") && value.kind !== "list") {
    invalidClause(
      `${pyStr(clauseText(i))}: ${comparator} must be followed by a parenthesized list of quoted strings, e.g. ('a', 'b')`,
    );
  }
  return { comparison: { id, comparator, value, text: clauseText(i) }, next: i };
}

const LIST_ILL_FORMED = "While parsing a list in the query, expected a non-empty list of string values, but got ill-formed list.";

/** `( 'a' , 'b' )` → values. Only single-quoted strings are allowed, as in MLflow. */
function readList(
  source: string,
  tokens: readonly Token[],
  open: number,
): { value: RawValue & { kind: "list" }; next: number } {
  const close = tokens.findIndex((t, k) => k > open && t.kind === "rparen");
  const openTok = tokens[open] as Token;
  if (close < 0) {
    throw searchError(FIELD, `${LIST_ILL_FORMED} Missing ')' in ${pyStr(source.slice(openTok.start))}`);
  }
  const text = source.slice(openTok.start, (tokens[close] as Token).end);
  const inner = tokens.slice(open + 1, close);
  if (inner.length === 0) {
    throw searchError(
      FIELD,
      "While parsing a list in the query, expected a non-empty list of string values, but got empty list",
    );
  }
  const values: string[] = [];
  for (let k = 0; k < inner.length; k++) {
    const t = inner[k] as Token;
    if (k % 2 === 0) {
      if (t.kind !== "sq") {
        if (t.kind === "comma") throw searchError(FIELD, `${LIST_ILL_FORMED} Got ${text}`);
        throw searchError(
          FIELD,
          "While parsing a list in the query, expected string value, punctuation, or whitespace, " +
            `but got different type in list: ${text} (offending item ${pyStr(t.text)}; list items must be single-quoted strings)`,
        );
      }
      values.push(t.value);
    } else if (t.kind !== "comma") {
      throw searchError(FIELD, `${LIST_ILL_FORMED} Expected ',' but found ${pyStr(t.text)} in ${text}`);
    }
  }
  if (inner.length % 2 === 0) throw searchError(FIELD, `${LIST_ILL_FORMED} Trailing ',' in ${text}`);
  return { value: { kind: "list", values, text }, next: close + 1 };
}
