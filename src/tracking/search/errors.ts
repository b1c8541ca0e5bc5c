import { InvalidInputError } from "../../platform/errors.ts";

/** Which request field an error is about (reported in `details[].path`). */
export type SearchField = "filter" | "order_by" | "page_token";

/**
 * An InvalidInputError whose message is the MLflow-style text unchanged (no `path:` prefix, so
 * clients see the same wording as from MLflow); the field goes into `details`.
 */
export function searchError(field: SearchField, message: string): InvalidInputError {
  return new InvalidInputError(message, [{ path: field, reason: message }]);
}

/** Python-style repr of a string, as MLflow messages print them: `'x'`. */
export function pyStr(s: string): string {
  return `'${s}'`;
}

/** Python-style repr of a set of strings (fixed order): `{'a', 'b'}`. */
export function pySet(items: readonly string[]): string {
  return `{${items.map(pyStr).join(", ")}}`;
}

/** Python-style repr of a list of strings: `['a', 'b']`. */
export function pyList(items: readonly string[]): string {
  return `[${items.map(pyStr).join(", ")}]`;
}
