import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { InvalidInputError, PayloadTooLargeError, UnavailableError } from "../platform/errors.ts";
import { artifactStoreContract, readAll, sha256 } from "./contract.ts";
import { FsArtifactStore } from "./fs-store.ts";

artifactStoreContract("FsArtifactStore", async () => {
  const rootDir = await mkdtemp(join(tmpdir(), "forja-artifacts-"));
  return { store: new FsArtifactStore({ rootDir }), cleanup: () => rm(rootDir, { recursive: true, force: true }) };
});

/** All regular files below `dir`, relative, sorted. */
async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

describe("FsArtifactStore (filesystem specifics)", () => {
  let rootDir: string;
  beforeEach(async () => {
    rootDir = await mkdtemp(join(tmpdir(), "forja-artifacts-"));
  });
  afterEach(async () => {
    await rm(rootDir, { recursive: true, force: true });
  });
  const tmpFiles = (): Promise<string[]> => listFiles(join(rootDir, "tmp"));
  const blobFiles = (): Promise<string[]> => listFiles(join(rootDir, "blobs"));

  it("lays blobs out as blobs/sha256/<ab>/<hex> and dedupes on disk", async () => {
    const store = new FsArtifactStore({ rootDir });
    const data = randomBytes(10_000);
    const { digest } = await store.put(data);
    await store.put(data);
    const hex = digest.slice("sha256:".length);
    expect(await blobFiles()).toEqual([join("sha256", hex.slice(0, 2), hex)]);
    expect((await readFile(join(rootDir, "blobs", "sha256", hex.slice(0, 2), hex))).equals(data)).toBe(true);
    expect(await tmpFiles()).toEqual([]);
  });

  it("leaves nothing behind when over the size limit", async () => {
    const store = new FsArtifactStore({ rootDir });
    const src = new PassThrough();
    const pending = store.put(src, { maxBytes: 1000 });
    src.write(randomBytes(600));
    src.write(randomBytes(600)); // never ended: the store must abort on its own
    await expect(pending).rejects.toBeInstanceOf(PayloadTooLargeError);
    expect(src.destroyed).toBe(true);
    expect(await tmpFiles()).toEqual([]);
    expect(await blobFiles()).toEqual([]);
  });

  it("applies defaultMaxBytes unless a call passes its own maxBytes", async () => {
    const store = new FsArtifactStore({ rootDir, defaultMaxBytes: 100 });
    await expect(store.put(randomBytes(101))).rejects.toBeInstanceOf(PayloadTooLargeError);
    await expect(store.put(randomBytes(100))).resolves.toMatchObject({ size: 100 });
    await expect(store.put(randomBytes(5000), { maxBytes: 10_000 })).resolves.toMatchObject({ size: 5000 });
    expect(await tmpFiles()).toEqual([]);
  });

  it("leaves nothing behind on digest mismatch or a failing source", async () => {
    const store = new FsArtifactStore({ rootDir });
    const data = randomBytes(5000);
    await expect(store.put(data, { expectedDigest: sha256(randomBytes(1)) })).rejects.toBeInstanceOf(InvalidInputError);
    const src = new PassThrough();
    const pending = store.put(src);
    src.write(data);
    await sleep(20);
    src.destroy(new Error("boom"));
    await expect(pending).rejects.toThrow("boom");
    expect(await tmpFiles()).toEqual([]);
    expect(await blobFiles()).toEqual([]);
  });

  it("keeps an upload in progress invisible until it completes", async () => {
    const store = new FsArtifactStore({ rootDir });
    const data = randomBytes(3 * 1024 * 1024);
    const src = new PassThrough();
    const pending = store.put(src);
    src.write(data.subarray(0, 2 * 1024 * 1024));
    await vi.waitFor(async () => expect(await tmpFiles()).toHaveLength(1));
    expect(await blobFiles()).toEqual([]);
    expect(await store.stat(sha256(data))).toBeUndefined();
    src.end(data.subarray(2 * 1024 * 1024));
    await expect(pending).resolves.toEqual({ digest: sha256(data), size: data.byteLength });
    expect(await tmpFiles()).toEqual([]);
  });

  it("sweeps stale temp files on construction and on sweep(), sparing fresh ones", async () => {
    const tmp = join(rootDir, "tmp");
    await mkdir(tmp, { recursive: true });
    const old = join(tmp, "upload-crashed.partial");
    const fresh = join(tmp, "upload-live.partial");
    await writeFile(old, "half an upload");
    await writeFile(fresh, "in progress");
    const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await utimes(old, twoHoursAgo, twoHoursAgo);

    const store = new FsArtifactStore({ rootDir });
    await vi.waitFor(async () => expect(await tmpFiles()).toEqual(["upload-live.partial"]));

    await writeFile(old, "again");
    await utimes(old, twoHoursAgo, twoHoursAgo);
    expect(await store.sweep()).toBe(1);
    expect(await tmpFiles()).toEqual(["upload-live.partial"]);
    expect(await store.sweep(0)).toBe(1);
    expect(await tmpFiles()).toEqual([]);
  });

  it("creates its directories lazily and tolerates a missing root on construction", async () => {
    const nested = join(rootDir, "does", "not", "exist");
    const store = new FsArtifactStore({ rootDir: nested });
    expect(await store.sweep()).toBe(0);
    await store.ping();
    expect((await stat(join(nested, "tmp"))).isDirectory()).toBe(true);
    expect((await store.put(new Uint8Array([1, 2, 3]))).size).toBe(3);
  });

  it("recreates tmp/ if it is removed while running", async () => {
    const store = new FsArtifactStore({ rootDir });
    await store.ping();
    await rm(join(rootDir, "tmp"), { recursive: true });
    await expect(store.put(new Uint8Array([7]))).resolves.toMatchObject({ size: 1 });
  });

  it("keeps serving an open download after the blob is deleted", async () => {
    const store = new FsArtifactStore({ rootDir });
    const data = randomBytes(2 * 1024 * 1024);
    const { digest } = await store.put(data);
    const stream = await store.get(digest);
    await store.delete(digest);
    expect((await readAll(stream)).equals(data)).toBe(true);
  });

  it("fails ping with UnavailableError when the root is unusable", async () => {
    const file = join(rootDir, "a-file");
    await writeFile(file, "x");
    const store = new FsArtifactStore({ rootDir: file });
    await expect(store.ping()).rejects.toBeInstanceOf(UnavailableError);
  });

  it("validates its options", () => {
    expect(() => new FsArtifactStore({ rootDir: "" })).toThrow(InvalidInputError);
    expect(() => new FsArtifactStore({ rootDir, defaultMaxBytes: -1 })).toThrow(InvalidInputError);
    expect(() => new FsArtifactStore({ rootDir, defaultMaxBytes: 1.5 })).toThrow(InvalidInputError);
  });

  it("rejects a bad maxBytes per call", async () => {
    const store = new FsArtifactStore({ rootDir });
    await expect(store.put(new Uint8Array(1), { maxBytes: -5 })).rejects.toBeInstanceOf(InvalidInputError);
    expect(await tmpFiles()).toEqual([]);
  });
});
