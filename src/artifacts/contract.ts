/**
 * Behavioural contract every ArtifactStore adapter must pass. Written only against the
 * port (and the domain errors), so an S3 adapter can run the same suite:
 *
 *   artifactStoreContract("S3ArtifactStore", async () => ({ store: ..., cleanup: async () => ... }));
 *
 * `make` is called before every test and `cleanup` after it; each test gets a fresh store.
 */
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { setImmediate as tick } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InvalidInputError, NotFoundError, PayloadTooLargeError } from "../platform/errors.ts";
import type { ArtifactStore, Digest } from "./port.ts";

export interface ArtifactStoreFixture {
  readonly store: ArtifactStore;
  cleanup(): Promise<void>;
}

const MiB = 1024 * 1024;
const EMPTY_SHA256: Digest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

export function sha256(data: Uint8Array): Digest {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** Stream `data` in irregular slices, yielding to the event loop in between. */
async function* slices(data: Uint8Array, sizes: readonly number[] = [1, 17, 4096, 65_536, 250_000]): AsyncGenerator<Uint8Array> {
  let offset = 0;
  let i = 0;
  while (offset < data.byteLength) {
    const n = sizes[i++ % sizes.length]!;
    yield data.subarray(offset, offset + n);
    offset += n;
    await tick();
  }
}

/** Malformed digests, including path traversal attempts. None may ever reach a backend. */
export const INVALID_DIGESTS: readonly string[] = [
  "",
  "sha256:",
  "sha256:abc",
  "../../etc/passwd",
  "sha256:../../etc/passwd",
  `sha256:../../../../../../../../etc/passwd${"a".repeat(23)}`, // 64 chars after the prefix
  `sha256:${"a".repeat(62)}/.`,
  `sha256:${"a".repeat(61)}/..`,
  `sha256:${"A".repeat(64)}`,
  `sha256:${"a".repeat(63)}`,
  `sha256:${"a".repeat(65)}`,
  `sha256:${"a".repeat(64)}\n`,
  `sha256:${"a".repeat(63)}\0`,
  ` sha256:${"a".repeat(64)}`,
  `sha512:${"a".repeat(64)}`,
  `SHA256:${"a".repeat(64)}`,
  "a".repeat(64),
  `sha256:${"g".repeat(64)}`,
];

export function artifactStoreContract(name: string, make: () => Promise<ArtifactStoreFixture>): void {
  describe(`ArtifactStore contract: ${name}`, () => {
    let fixture: ArtifactStoreFixture | undefined;
    const store = (): ArtifactStore => {
      if (!fixture) throw new Error("store fixture not initialised");
      return fixture.store;
    };

    beforeEach(async () => {
      fixture = await make();
    });
    afterEach(async () => {
      await fixture?.cleanup();
      fixture = undefined;
    });

    it("has a name and answers ping", async () => {
      expect(store().name).toMatch(/\S/);
      await expect(store().ping()).resolves.toBeUndefined();
    });

    it("round-trips a multi-megabyte streamed upload", async () => {
      const total = 8 * MiB + 12_345;
      const expected = createHash("sha256");
      let produced = 0;
      const source = Readable.from(
        (async function* () {
          while (produced < total) {
            const chunk = randomBytes(Math.min(64 * 1024 + (produced % 7_919), total - produced));
            produced += chunk.byteLength;
            expected.update(chunk);
            yield chunk;
            await tick();
          }
        })(),
      );
      const info = await store().put(source);
      const digest: Digest = `sha256:${expected.digest("hex")}`;
      expect(info).toEqual({ digest, size: total });
      expect(await store().stat(digest)).toEqual({ digest, size: total });

      const out = createHash("sha256");
      let size = 0;
      for await (const chunk of (await store().get(digest)) as AsyncIterable<Buffer>) {
        out.update(chunk);
        size += chunk.byteLength;
      }
      expect(size).toBe(total);
      expect(`sha256:${out.digest("hex")}`).toBe(digest);
    });

    it("accepts a Uint8Array, a Buffer, a Readable and an async iterable", async () => {
      const data = new TextEncoder().encode("hello, forja");
      const digest = sha256(data);
      const inputs = [data, Buffer.from(data), Readable.from([Buffer.from(data)]), slices(data, [3])];
      for (const input of inputs) {
        expect(await store().put(input)).toEqual({ digest, size: data.byteLength });
      }
      expect((await readAll(await store().get(digest))).toString()).toBe("hello, forja");
    });

    it("dedupes identical content", async () => {
      const data = randomBytes(300_000);
      const a = await store().put(data);
      const b = await store().put(slices(data));
      expect(b).toEqual(a);
      expect(a.digest).toBe(sha256(data));
      expect((await readAll(await store().get(a.digest))).equals(data)).toBe(true);
    });

    it("stores the empty blob", async () => {
      const info = await store().put(new Uint8Array(0));
      expect(info).toEqual({ digest: EMPTY_SHA256, size: 0 });
      expect(await store().put(Readable.from([]))).toEqual(info);
      expect(await store().stat(EMPTY_SHA256)).toEqual(info);
      expect((await readAll(await store().get(EMPTY_SHA256))).byteLength).toBe(0);
      expect((await readAll(await store().get(EMPTY_SHA256, { start: 0 }))).byteLength).toBe(0);
    });

    it("serves byte ranges (end inclusive)", async () => {
      const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
      const { digest } = await store().put(data);
      const range = async (start: number, end?: number): Promise<Buffer> =>
        readAll(await store().get(digest, end === undefined ? { start } : { start, end }));

      expect((await range(10, 19)).equals(data.subarray(10, 20))).toBe(true);
      expect((await range(0, 0)).equals(data.subarray(0, 1))).toBe(true);
      expect((await range(999, 999)).equals(data.subarray(999))).toBe(true);
      expect((await range(0, 999)).equals(data)).toBe(true);
      expect((await range(990)).equals(data.subarray(990))).toBe(true);
      expect((await range(0)).equals(data)).toBe(true);
      expect((await range(1000)).byteLength).toBe(0); // resume of a complete download
    });

    it("rejects invalid or unsatisfiable ranges", async () => {
      const { digest } = await store().put(randomBytes(100));
      const bad: { start: number; end?: number }[] = [
        { start: -1 },
        { start: 1.5 },
        { start: Number.NaN },
        { start: Number.POSITIVE_INFINITY },
        { start: 10, end: 9 },
        { start: 0, end: 100 },
        { start: 0, end: 0.5 },
        { start: 101 },
        { start: 100, end: 100 },
      ];
      for (const r of bad) {
        await expect(store().get(digest, r), JSON.stringify(r)).rejects.toBeInstanceOf(InvalidInputError);
      }
    });

    it("enforces maxBytes while streaming and stores nothing", async () => {
      const data = randomBytes(200_000);
      await expect(store().put(slices(data), { maxBytes: 199_999 })).rejects.toBeInstanceOf(PayloadTooLargeError);
      await expect(store().put(data, { maxBytes: 1000 })).rejects.toBeInstanceOf(PayloadTooLargeError);
      expect(await store().stat(sha256(data))).toBeUndefined();
      // exactly at the limit is fine
      expect(await store().put(slices(data), { maxBytes: 200_000 })).toEqual({ digest: sha256(data), size: 200_000 });
      expect(await store().put(new Uint8Array(0), { maxBytes: 0 })).toEqual({ digest: EMPTY_SHA256, size: 0 });
    });

    it("aborts an oversized upload early, without draining the source", async () => {
      let pulled = 0;
      let closed = false;
      const endless = (async function* () {
        try {
          for (;;) {
            pulled++;
            yield new Uint8Array(64 * 1024);
            await tick();
          }
        } finally {
          closed = true;
        }
      })();
      await expect(store().put(endless, { maxBytes: MiB })).rejects.toBeInstanceOf(PayloadTooLargeError);
      expect(pulled).toBeLessThanOrEqual(17);
      expect(closed).toBe(true);
    });

    it("rejects a digest mismatch and stores nothing", async () => {
      const data = randomBytes(50_000);
      const other = sha256(randomBytes(10));
      await expect(store().put(slices(data), { expectedDigest: other })).rejects.toBeInstanceOf(InvalidInputError);
      expect(await store().stat(sha256(data))).toBeUndefined();
      expect(await store().stat(other)).toBeUndefined();
      expect(await store().put(slices(data), { expectedDigest: sha256(data) })).toEqual({
        digest: sha256(data),
        size: data.byteLength,
      });
    });

    it("rejects malformed digests everywhere, including path traversal attempts", async () => {
      for (const bad of INVALID_DIGESTS) {
        const d = bad as Digest;
        const label = JSON.stringify(bad);
        await expect(store().get(d), `get ${label}`).rejects.toBeInstanceOf(InvalidInputError);
        await expect(store().get(d, { start: 0 }), `get range ${label}`).rejects.toBeInstanceOf(InvalidInputError);
        await expect(store().stat(d), `stat ${label}`).rejects.toBeInstanceOf(InvalidInputError);
        await expect(store().delete(d), `delete ${label}`).rejects.toBeInstanceOf(InvalidInputError);
        await expect(store().put(new Uint8Array(1), { expectedDigest: d }), `put ${label}`).rejects.toBeInstanceOf(
          InvalidInputError,
        );
      }
    });

    it("rejects non-byte input", async () => {
      const strings = Readable.from(["not", "bytes"], { objectMode: true });
      await expect(store().put(strings)).rejects.toBeInstanceOf(InvalidInputError);
      await expect(store().put(42 as unknown as Uint8Array)).rejects.toBeInstanceOf(InvalidInputError);
    });

    it("propagates a failing source and stores nothing", async () => {
      const data = randomBytes(100_000);
      const failing = (async function* () {
        yield data.subarray(0, 50_000);
        await tick();
        throw new Error("client went away");
      })();
      await expect(store().put(failing)).rejects.toThrow("client went away");
      expect(await store().stat(sha256(data.subarray(0, 50_000)))).toBeUndefined();
    });

    it("handles concurrent puts of the same content", async () => {
      const data = randomBytes(2 * MiB);
      const digest = sha256(data);
      const results = await Promise.all(Array.from({ length: 8 }, () => store().put(Readable.from(slices(data)))));
      for (const r of results) expect(r).toEqual({ digest, size: data.byteLength });
      expect((await readAll(await store().get(digest))).equals(data)).toBe(true);
    });

    it("reports unknown digests as not found", async () => {
      const unknown = sha256(randomBytes(32));
      await expect(store().get(unknown)).rejects.toBeInstanceOf(NotFoundError);
      await expect(store().get(unknown, { start: 0, end: 0 })).rejects.toBeInstanceOf(NotFoundError);
      expect(await store().stat(unknown)).toBeUndefined();
    });

    it("deletes idempotently", async () => {
      const data = randomBytes(1000);
      const { digest } = await store().put(data);
      await store().delete(digest);
      expect(await store().stat(digest)).toBeUndefined();
      await expect(store().get(digest)).rejects.toBeInstanceOf(NotFoundError);
      await expect(store().delete(digest)).resolves.toBeUndefined();
      // and can be stored again
      expect(await store().put(data)).toEqual({ digest, size: 1000 });
      expect((await readAll(await store().get(digest))).equals(data)).toBe(true);
    });
  });
}
