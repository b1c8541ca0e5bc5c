import type { Token } from "./lexer.ts";

/**
 * `[entity "."] key` as written, before entity/key validation.
 *
 *  - `status`                → entity undefined, key `status`
 *  - `metrics.rmse`          → entity `metrics`, key `rmse`
 *  - `metrics.a.b`           → entity `metrics`, key `a.b` (MLflow splits at the FIRST dot)
 *  - `metrics."my metric"`   → key `my metric`;  `` tags.`a.b` `` → key `a.b`
 *  - `` `metric`.a ``        → entity `metric` (a backticked entity is allowed)
 */
export interface RawIdentifier {
  readonly entity: string | undefined;
  readonly key: string;
  /** The identifier's source text, for messages. */
  readonly text: string;
}

export type IdentifierResult =
  | { readonly ok: true; readonly id: RawIdentifier; readonly next: number }
  | { readonly ok: false; readonly message: string };

const isSegment = (t: Token | undefined): boolean =>
  t !== undefined && (t.kind === "word" || t.kind === "dq" || t.kind === "bt");

/** Reads an identifier starting at `tokens[pos]`. Dots must touch their neighbours. */
export function readIdentifier(source: string, tokens: readonly Token[], pos: number): IdentifierResult {
  const first = tokens[pos];
  if (first === undefined || !isSegment(first)) {
    return {
      ok: false,
      message: `Invalid comparison clause. Expected 'Identifier' found '${first?.text ?? ""}'`,
    };
  }
  const segments: Token[] = [first];
  let i = pos + 1;
  for (;;) {
    const dot = tokens[i];
    const last = segments[segments.length - 1] as Token;
    if (dot?.kind !== "dot" || dot.start !== last.end) break;
    const seg = tokens[i + 1];
    if (seg === undefined || !isSegment(seg) || seg.start !== dot.end) {
      return { ok: false, message: `Invalid identifier '${source.slice(first.start, dot.end)}': missing key after '.'` };
    }
    segments.push(seg);
    i += 2;
  }
  const lastSeg = segments[segments.length - 1] as Token;
  const text = source.slice(first.start, lastSeg.end);
  if (segments.length === 1) return { ok: true, id: { entity: undefined, key: first.value, text }, next: i };

  if (first.kind === "dq") {
    // MLflow only trims backticks from the entity part; "metrics".x is an unknown entity.
    return { ok: true, id: { entity: first.text, key: keyOf(segments.slice(1)) ?? "", text }, next: i };
  }
  const key = keyOf(segments.slice(1));
  if (key === undefined) {
    return {
      ok: false,
      message: `Invalid identifier '${text}'. Quote the whole key: ${first.value}."a.b c" or ${first.value}.\`a.b c\``,
    };
  }
  return { ok: true, id: { entity: first.value, key, text }, next: i };
}

/** Key from the segments after the entity: one quoted segment, or bare words joined by dots. */
function keyOf(rest: readonly Token[]): string | undefined {
  if (rest.length === 1) return (rest[0] as Token).value;
  if (rest.every((t) => t.kind === "word")) return rest.map((t) => t.value).join(".");
  return undefined;
}
