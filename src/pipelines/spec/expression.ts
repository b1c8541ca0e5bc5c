/**
 * The `when` expression language:
 *
 *   expr    := or
 *   or      := and ( "||" and )*
 *   and     := compare ( "&&" compare )*
 *   compare := unary ( ("==" | "!=" | "<" | "<=" | ">" | ">=") unary )?
 *   unary   := "!" unary | primary
 *   primary := number | 'string' | "string" | true | false | {{reference}} | "(" expr ")"
 *
 * Equality is strict on JSON values (no coercion: 1 != '1'); ordering needs two numbers or two
 * strings; `!`, `&&`, `||` and the whole expression need booleans.
 */
import { formatReference, parseReference } from "./references.ts";
import type { Reference } from "./references.ts";

export type CompareOp = "==" | "!=" | "<" | "<=" | ">" | ">=";
export type LiteralValue = string | number | boolean;

/** `column` is the 1-based position of the node in the expression. */
export type WhenExpr =
  | { readonly kind: "literal"; readonly value: LiteralValue; readonly column: number }
  | { readonly kind: "ref"; readonly ref: Reference; readonly column: number }
  | { readonly kind: "not"; readonly operand: WhenExpr; readonly column: number }
  | { readonly kind: "logical"; readonly op: "&&" | "||"; readonly left: WhenExpr; readonly right: WhenExpr; readonly column: number }
  | { readonly kind: "compare"; readonly op: CompareOp; readonly left: WhenExpr; readonly right: WhenExpr; readonly column: number };

export class WhenSyntaxError extends Error {
  constructor(
    readonly column: number,
    readonly detail: string,
  ) {
    super(`syntax error at column ${column}: ${detail}`);
    this.name = "WhenSyntaxError";
  }
}

type Token =
  | { kind: "literal"; value: LiteralValue; column: number; text: string }
  | { kind: "ref"; ref: Reference; column: number; text: string }
  | { kind: "op"; op: CompareOp | "&&" | "||" | "!" | "(" | ")"; column: number; text: string }
  | { kind: "end"; column: number; text: string };

const operators = ["==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "(", ")"] as const;

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] ?? "";
    const column = i + 1;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (src.startsWith("{{", i)) {
      const close = src.indexOf("}}", i + 2);
      if (close < 0) throw new WhenSyntaxError(column, 'unterminated reference: missing "}}"');
      const inner = src.slice(i + 2, close);
      const ref = parseReference(inner);
      if (typeof ref === "string") throw new WhenSyntaxError(column, ref);
      tokens.push({ kind: "ref", ref, column, text: src.slice(i, close + 2) });
      i = close + 2;
      continue;
    }
    if (c === "'" || c === '"') {
      let j = i + 1;
      let value = "";
      while (j < src.length && src[j] !== c) {
        if (src[j] === "\\" && j + 1 < src.length) j++;
        value += src[j];
        j++;
      }
      if (j >= src.length) throw new WhenSyntaxError(column, `unterminated string: missing closing ${c}`);
      tokens.push({ kind: "literal", value, column, text: src.slice(i, j + 1) });
      i = j + 1;
      continue;
    }
    const num = /^-?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?/.exec(src.slice(i));
    if (num && (c !== "-" || /[0-9.]/.test(src[i + 1] ?? ""))) {
      tokens.push({ kind: "literal", value: Number(num[0]), column, text: num[0] });
      i += num[0].length;
      continue;
    }
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
    if (word) {
      if (word[0] === "true" || word[0] === "false") {
        tokens.push({ kind: "literal", value: word[0] === "true", column, text: word[0] });
        i += word[0].length;
        continue;
      }
      throw new WhenSyntaxError(column, `unexpected "${word[0]}": strings need quotes ('${word[0]}') and references braces ({{…}})`);
    }
    const op = operators.find((o) => src.startsWith(o, i));
    if (!op) {
      if (c === "=") throw new WhenSyntaxError(column, 'unexpected "=": use "==" to compare');
      throw new WhenSyntaxError(column, `unexpected character "${c}"`);
    }
    tokens.push({ kind: "op", op, column, text: op });
    i += op.length;
  }
  tokens.push({ kind: "end", column: src.length + 1, text: "end of expression" });
  return tokens;
}

const compareOps: ReadonlySet<string> = new Set(["==", "!=", "<", "<=", ">", ">="]);

/** Parse a `when` expression; throws WhenSyntaxError with the 1-based column of the problem. */
export function parseWhen(src: string): WhenExpr {
  const tokens = tokenize(src);
  let pos = 0;
  const peek = (): Token => tokens[pos] ?? tokens[tokens.length - 1]!;
  const describe = (t: Token) => (t.kind === "end" ? "end of expression" : `"${t.text}"`);
  const isOp = (t: Token, op: string) => t.kind === "op" && t.op === op;

  const parseOr = (): WhenExpr => {
    let left = parseAnd();
    while (isOp(peek(), "||")) {
      const t = tokens[pos++]!;
      left = { kind: "logical", op: "||", left, right: parseAnd(t), column: t.column };
    }
    return left;
  };
  const parseAnd = (after?: Token): WhenExpr => {
    let left = parseCompare(after);
    while (isOp(peek(), "&&")) {
      const t = tokens[pos++]!;
      left = { kind: "logical", op: "&&", left, right: parseCompare(t), column: t.column };
    }
    return left;
  };
  const parseCompare = (after?: Token): WhenExpr => {
    const left = parseUnary(after);
    const t = peek();
    if (t.kind === "op" && compareOps.has(t.op)) {
      pos++;
      const right = parseUnary(t);
      const next = peek();
      if (next.kind === "op" && compareOps.has(next.op)) {
        throw new WhenSyntaxError(next.column, `comparisons cannot be chained; use parentheses and && / ||`);
      }
      return { kind: "compare", op: t.op as CompareOp, left, right, column: t.column };
    }
    return left;
  };
  const parseUnary = (after?: Token): WhenExpr => {
    const t = peek();
    if (isOp(t, "!")) {
      pos++;
      return { kind: "not", operand: parseUnary(t), column: t.column };
    }
    return parsePrimary(after);
  };
  const parsePrimary = (after?: Token): WhenExpr => {
    const t = peek();
    switch (t.kind) {
      case "literal":
        pos++;
        return { kind: "literal", value: t.value, column: t.column };
      case "ref":
        pos++;
        return { kind: "ref", ref: t.ref, column: t.column };
      case "op":
        if (t.op === "(") {
          pos++;
          const inner = parseOr();
          const close = peek();
          if (!isOp(close, ")")) throw new WhenSyntaxError(close.column, `expected ")" to close the "(" at column ${t.column}, found ${describe(close)}`);
          pos++;
          return inner;
        }
        break;
      case "end":
        break;
    }
    const where = after ? ` after "${after.text}"` : "";
    throw new WhenSyntaxError(t.column, `expected a value, a reference or "("${where}, found ${describe(t)}`);
  };

  if (tokens.length === 1) throw new WhenSyntaxError(1, "empty expression");
  const ast = parseOr();
  const rest = peek();
  if (rest.kind !== "end") {
    throw new WhenSyntaxError(rest.column, `unexpected ${describe(rest)}; expected an operator (==, !=, <, <=, >, >=, &&, ||) or the end`);
  }
  return ast;
}

/** All references in an expression, in source order. */
export function whenReferences(ast: WhenExpr): { ref: Reference; column: number }[] {
  switch (ast.kind) {
    case "literal":
      return [];
    case "ref":
      return [{ ref: ast.ref, column: ast.column }];
    case "not":
      return whenReferences(ast.operand);
    case "logical":
    case "compare":
      return [...whenReferences(ast.left), ...whenReferences(ast.right)];
  }
}

export type ExprType = "string" | "integer" | "number" | "boolean" | "array" | "object" | "any";

function literalType(v: LiteralValue): ExprType {
  return typeof v === "string" ? "string" : typeof v === "boolean" ? "boolean" : Number.isInteger(v) ? "integer" : "number";
}
const numeric = (t: ExprType) => t === "integer" || t === "number";

/**
 * Static type check. `refType` gives each reference's type (and, for statuses, the allowed
 * string values). Returns problems with their column; empty when fine.
 */
export function checkWhenTypes(
  ast: WhenExpr,
  refType: (ref: Reference) => { type: ExprType; values?: readonly string[] },
): { column: number; reason: string }[] {
  const issues: { column: number; reason: string }[] = [];
  const show = (e: WhenExpr): string =>
    e.kind === "ref" ? `{{${formatReference(e.ref)}}}` : e.kind === "literal" ? JSON.stringify(e.value) : "expression";
  const typeOf = (e: WhenExpr): ExprType => {
    switch (e.kind) {
      case "literal":
        return literalType(e.value);
      case "ref":
        return refType(e.ref).type;
      case "not": {
        const t = typeOf(e.operand);
        if (t !== "boolean" && t !== "any") issues.push({ column: e.column, reason: `"!" needs a boolean, ${show(e.operand)} is ${t}` });
        return "boolean";
      }
      case "logical": {
        for (const side of [e.left, e.right]) {
          const t = typeOf(side);
          if (t !== "boolean" && t !== "any") issues.push({ column: side.column, reason: `"${e.op}" needs booleans, ${show(side)} is ${t}` });
        }
        return "boolean";
      }
      case "compare": {
        const l = typeOf(e.left);
        const r = typeOf(e.right);
        if (l !== "any" && r !== "any") {
          if (e.op === "==" || e.op === "!=") {
            if (l !== r && !(numeric(l) && numeric(r))) {
              issues.push({ column: e.column, reason: `cannot compare ${show(e.left)} (${l}) with ${show(e.right)} (${r}): the result would always be ${e.op === "!="}` });
            }
          } else if (!((numeric(l) && numeric(r)) || (l === "string" && r === "string"))) {
            issues.push({ column: e.column, reason: `"${e.op}" needs two numbers or two strings, got ${l} and ${r}` });
          }
        }
        // Comparing a status with a literal: catch typos such as 'Succeded'.
        for (const [refSide, litSide] of [
          [e.left, e.right],
          [e.right, e.left],
        ] as const) {
          if (refSide.kind === "ref" && litSide.kind === "literal" && typeof litSide.value === "string") {
            const values = refType(refSide.ref).values;
            if (values && !values.includes(litSide.value)) {
              issues.push({ column: litSide.column, reason: `${show(refSide)} is never ${JSON.stringify(litSide.value)}; expected one of ${values.join(", ")}` });
            }
          }
        }
        return "boolean";
      }
    }
  };
  const t = typeOf(ast);
  if (t !== "boolean" && t !== "any") issues.push({ column: ast.column, reason: `must be a boolean expression; ${show(ast)} is ${t}` });
  return issues;
}

/** Deep equality of JSON values. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const keys = Object.keys(ao);
  return keys.length === Object.keys(bo).length && keys.every((k) => Object.hasOwn(bo, k) && jsonEqual(ao[k], bo[k]));
}

/** Evaluate with a resolver for references. Throws Error with a clear message on type errors. */
export function evaluateExpression(ast: WhenExpr, resolve: (ref: Reference) => unknown): boolean {
  const bool = (e: WhenExpr, what: string): boolean => {
    const v = value(e);
    if (typeof v !== "boolean") throw new Error(`${what} needs a boolean at column ${e.column}, got ${JSON.stringify(v)}`);
    return v;
  };
  const value = (e: WhenExpr): unknown => {
    switch (e.kind) {
      case "literal":
        return e.value;
      case "ref":
        return resolve(e.ref);
      case "not":
        return !bool(e.operand, '"!"');
      case "logical":
        return e.op === "&&" ? bool(e.left, '"&&"') && bool(e.right, '"&&"') : bool(e.left, '"||"') || bool(e.right, '"||"');
      case "compare": {
        const l = value(e.left);
        const r = value(e.right);
        switch (e.op) {
          case "==":
            return jsonEqual(l, r);
          case "!=":
            return !jsonEqual(l, r);
          case "<":
          case "<=":
          case ">":
          case ">=": {
            if (!((typeof l === "number" && typeof r === "number") || (typeof l === "string" && typeof r === "string"))) {
              throw new Error(`"${e.op}" at column ${e.column} needs two numbers or two strings, got ${JSON.stringify(l)} and ${JSON.stringify(r)}`);
            }
            return e.op === "<" ? l < r : e.op === "<=" ? l <= r : e.op === ">" ? l > r : l >= r;
          }
        }
      }
    }
  };
  return bool(ast, "the expression");
}
