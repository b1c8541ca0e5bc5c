/**
 * Tokenizer for MLflow search filter / order_by strings.
 *
 * Mirrors the parts of sqlparse's lexer that MLflow's grammar relies on:
 *  - `'single'` and `"double"` quoted strings, where `''`/`""` and backslash-escaped characters do
 *    not terminate the string; the token keeps the RAW text between the quotes (MLflow only trims
 *    the quotes, it never unescapes);
 *  - `` `backticked` `` names (no escapes);
 *  - numbers: optional leading `-`, integer / decimal / scientific notation (`1e-3`, `.5`, `2.`);
 *  - comparison operators, parentheses, commas, dots, semicolons;
 *  - bare words (letters, digits, underscore; Unicode letters included).
 */

export type TokenKind =
  | "word" // bare word: key segment, entity, keyword (AND, LIKE, IN, NOT, IS, NULL, ASC, ...)
  | "sq" // 'single quoted'
  | "dq" // "double quoted"
  | "bt" // `backticked`
  | "number"
  | "op" // = != <> == < <= > >=
  | "dot"
  | "lparen"
  | "rparen"
  | "comma"
  | "semicolon";

export interface Token {
  readonly kind: TokenKind;
  /** Source text of the token, quotes included. */
  readonly text: string;
  /** For sq/dq/bt: the raw text between the delimiters. For others: same as `text`. */
  readonly value: string;
  /** Offset of the first character in the input. */
  readonly start: number;
  /** Offset just past the last character. */
  readonly end: number;
}

export type LexResult =
  | { readonly ok: true; readonly tokens: readonly Token[] }
  | { readonly ok: false; readonly reason: "unterminated"; readonly text: string; readonly position: number }
  | { readonly ok: false; readonly reason: "unexpected"; readonly text: string; readonly position: number };

const WORD_CHAR = /[\p{L}\p{N}_]/u;
const NUMBER_AT = /-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/y;
const OPERATORS = ["<=", ">=", "!=", "<>", "==", "=", "<", ">"] as const;

export function tokenize(input: string): LexResult {
  const tokens: Token[] = [];
  let i = 0;
  const n = input.length;
  const push = (kind: TokenKind, start: number, end: number, value?: string): void => {
    const text = input.slice(start, end);
    tokens.push({ kind, text, value: value ?? text, start, end });
  };

  while (i < n) {
    const c = input[i] as string;
    if (/\s/u.test(c)) {
      i++;
      continue;
    }
    const start = i;
    if (c === "'" || c === '"') {
      const close = findClosingQuote(input, i + 1, c);
      if (close < 0) return { ok: false, reason: "unterminated", text: input.slice(start), position: start };
      push(c === "'" ? "sq" : "dq", start, close + 1, input.slice(start + 1, close));
      i = close + 1;
      continue;
    }
    if (c === "`") {
      const close = input.indexOf("`", i + 1);
      if (close < 0) return { ok: false, reason: "unterminated", text: input.slice(start), position: start };
      push("bt", start, close + 1, input.slice(start + 1, close));
      i = close + 1;
      continue;
    }
    const prev = tokens[tokens.length - 1];
    // A segment right after a dot is a key segment even if it starts with a digit (`metrics.1st`).
    const afterDot = prev?.kind === "dot" && prev.end === i;
    if (!afterDot && (c === "-" || c === "." || isDigit(c))) {
      NUMBER_AT.lastIndex = i;
      const m = NUMBER_AT.exec(input);
      if (m && !(i + m[0].length < n && isWordOrDot(input[i + m[0].length] as string))) {
        push("number", start, i + m[0].length);
        i += m[0].length;
        continue;
      }
      if (c !== ".") {
        // `1abc`, `-x`, `1.2.3`: not a number and not a word.
        let j = i + 1;
        while (j < n && isWordOrDot(input[j] as string)) j++;
        return { ok: false, reason: "unexpected", text: input.slice(start, j), position: start };
      }
    }
    if (c === ".") {
      push("dot", start, i + 1);
      i++;
      continue;
    }
    if (WORD_CHAR.test(c)) {
      let j = i + 1;
      while (j < n && WORD_CHAR.test(input[j] as string)) j++;
      push("word", start, j);
      i = j;
      continue;
    }
    const op = OPERATORS.find((o) => input.startsWith(o, i));
    if (op) {
      push("op", start, i + op.length);
      i += op.length;
      continue;
    }
    if (c === "(" || c === ")" || c === "," || c === ";") {
      push(c === "(" ? "lparen" : c === ")" ? "rparen" : c === "," ? "comma" : "semicolon", start, i + 1);
      i++;
      continue;
    }
    // Take the whole code point for the message.
    const cp = String.fromCodePoint(input.codePointAt(i) ?? 0xfffd);
    return { ok: false, reason: "unexpected", text: cp, position: start };
  }
  return { ok: true, tokens };
}

/** Index of the quote closing a string that opened just before `from`, or -1. */
function findClosingQuote(input: string, from: number, quote: string): number {
  let i = from;
  while (i < input.length) {
    const c = input[i];
    if (c === "\\") {
      i += 2; // backslash escapes the next character (sqlparse: \\ and \' / \")
      continue;
    }
    if (c === quote) {
      if (input[i + 1] === quote) {
        i += 2; // doubled quote
        continue;
      }
      return i;
    }
    i++;
  }
  return -1;
}

function isDigit(c: string): boolean {
  return c >= "0" && c <= "9";
}

function isWordOrDot(c: string): boolean {
  return c === "." || WORD_CHAR.test(c);
}

/** Case-insensitive keyword test for a bare word. */
export function isKeyword(t: Token | undefined, kw: string): boolean {
  return t !== undefined && t.kind === "word" && t.value.toUpperCase() === kw;
}
