import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../platform/errors.ts";
import { decodePageToken, encodePageToken, MAX_PAGE_TOKEN_LENGTH } from "./index.ts";

const b64 = (s: string): string => Buffer.from(s, "utf8").toString("base64");

function invalid(token: string): void {
  let caught: unknown;
  try {
    decodePageToken(token);
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${JSON.stringify(token)} to be rejected`).toBeInstanceOf(InvalidInputError);
  expect((caught as InvalidInputError).message).toMatch(/^Invalid page token/u);
  expect((caught as InvalidInputError).details[0]?.path).toBe("page_token");
}

describe("page tokens", () => {
  it("round-trips the offset and extra fields", () => {
    const token = encodePageToken({ offset: 1000, q: "abc" });
    expect(token).toMatch(/^[A-Za-z0-9+/]+=*$/u);
    expect(decodePageToken(token)).toEqual({ offset: 1000, q: "abc" });
    expect(decodePageToken(encodePageToken({ offset: 0 }))).toEqual({ offset: 0 });
  });

  it("treats an absent token as the first page", () => {
    expect(decodePageToken(undefined)).toEqual({ offset: 0 });
    expect(decodePageToken(null)).toEqual({ offset: 0 });
    expect(decodePageToken("")).toEqual({ offset: 0 });
  });

  it("decodes tokens minted by MLflow", () => {
    expect(decodePageToken("eyJvZmZzZXQiOiAxMDAwfQ==")).toEqual({ offset: 1000 });
    expect(decodePageToken(b64('{"offset": "25"}'))).toEqual({ offset: 25 });
  });

  it("accepts URL-safe, unpadded and form-decoded variants", () => {
    const std = encodePageToken({ offset: 7, q: "??>>" });
    const urlSafe = std.replace(/\+/gu, "-").replace(/\//gu, "_").replace(/=+$/u, "");
    expect(decodePageToken(urlSafe)).toEqual({ offset: 7, q: "??>>" });
    expect(decodePageToken(std.replace(/\+/gu, " "))).toEqual({ offset: 7, q: "??>>" });
  });

  it.each([
    ["not base64!", "not base64!"],
    ["a", "a"],
    ["not json", b64("not json")],
    ["empty object", b64("{}")],
    ["wrong key", b64('{"offsoot": 7}')],
    ["string offset", b64('{"offset": "a"}')],
    ["negative", b64('{"offset": -1}')],
    ["fraction", b64('{"offset": 1.5}')],
    ["array", b64("[1]")],
    ["null", b64("null")],
    ["number", b64("3")],
    ["too long", "A".repeat(MAX_PAGE_TOKEN_LENGTH + 4)],
  ])("rejects %s", (_name, token) => {
    invalid(token);
  });

  it("refuses to encode an invalid offset", () => {
    expect(() => encodePageToken({ offset: -1 })).toThrow(RangeError);
    expect(() => encodePageToken({ offset: 1.5 })).toThrow(RangeError);
  });
});
