/**
 * Opaque page tokens: base64 of a JSON object with at least a non-negative integer `offset`
 * (MLflow: `base64(json.dumps({"offset": N}))`, e.g. `eyJvZmZzZXQiOiAxMDAwfQ==`; tokens minted by
 * MLflow decode here too). Extra fields are carried through, e.g. a hash of the query so a store can
 * reject a token reused with another filter.
 */
import { searchError } from "./errors.ts";

export interface PageToken {
  readonly offset: number;
  readonly [extra: string]: unknown;
}

/** Longest token accepted; real tokens are a few dozen characters. */
export const MAX_PAGE_TOKEN_LENGTH = 4096;

export function encodePageToken(token: PageToken): string {
  if (!Number.isSafeInteger(token.offset) || token.offset < 0) {
    throw new RangeError(`page token offset must be a non-negative integer, got ${String(token.offset)}`);
  }
  return Buffer.from(JSON.stringify(token), "utf8").toString("base64");
}

const BASE64 = /^[A-Za-z0-9+/\-_]*={0,2}$/u;

/**
 * Decodes a page token. An absent or empty token means the first page (`{ offset: 0 }`).
 * Accepts standard and URL-safe base64, with or without padding, and a `+` turned into a space
 * by form decoding.
 *
 * @throws InvalidInputError (`Invalid page token, ...`) on anything else.
 */
export function decodePageToken(token: string | null | undefined): PageToken {
  if (token === undefined || token === null || token === "") return { offset: 0 };
  const invalid = (why: string): never => {
    throw searchError("page_token", `Invalid page token, ${why}`);
  };
  if (token.length > MAX_PAGE_TOKEN_LENGTH) invalid(`longer than ${MAX_PAGE_TOKEN_LENGTH} characters`);
  const b64 = token.trim().replace(/ /gu, "+");
  if (!BASE64.test(b64) || b64.replace(/=+$/u, "").length % 4 === 1) invalid("could not base64-decode");
  const text = Buffer.from(b64.replace(/-/gu, "+").replace(/_/gu, "/"), "base64").toString("utf8");
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return invalid(`decoded value=${JSON.stringify(text)}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return invalid(`parsed value=${text}`);
  }
  const offset: unknown = (parsed as Record<string, unknown>)["offset"];
  // MLflow accepts an int or a string holding one.
  const n = typeof offset === "number" ? offset : typeof offset === "string" && /^\d+$/u.test(offset) ? Number(offset) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) return invalid(`parsed value=${text}`);
  return { ...(parsed as Record<string, unknown>), offset: n };
}
