/**
 * Filesystem adapter of the artifact store.
 *
 * Layout under `rootDir`:
 *   blobs/sha256/<first two hex>/<64 hex>   immutable, content-addressed blobs
 *   tmp/upload-<random>.partial             uploads in progress
 *
 * An upload is streamed into a temp file while being hashed, fsync'ed, then renamed into
 * place (atomic on POSIX), so a blob path only ever holds complete, verified content. A
 * crash mid-upload leaves a temp file behind and nothing visible; `sweep()` (also started
 * on construction) removes temp files that have not been written to for an hour.
 *
 * Paths are only ever derived from validated digests (`isDigest`), never from caller text.
 */
import { createHash, randomBytes } from "node:crypto";
import { constants as fsConstants } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { access, lstat, mkdir, open, readdir, rename, stat, unlink } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import type { Readable } from "node:stream";
import { InvalidInputError, NotFoundError, PayloadTooLargeError, UnavailableError } from "../platform/errors.ts";
import { isDigest } from "./port.ts";
import type { ArtifactStore, BlobInfo, Digest, PutOptions } from "./port.ts";

export interface FsArtifactStoreOptions {
  /** Directory holding `blobs/` and `tmp/`; created on first use. */
  readonly rootDir: string;
  /** Limit applied to `put()` calls that do not pass their own `maxBytes`. Unlimited if absent. */
  readonly defaultMaxBytes?: number;
}

/** Temp files idle (mtime) for longer than this are considered abandoned. */
export const DEFAULT_TMP_MAX_AGE_MS = 60 * 60 * 1000;

/** Small chunks are coalesced up to this size before hitting the disk. */
const WRITE_BUFFER_BYTES = 1024 * 1024;

const TMP_PREFIX = "upload-";
const TMP_SUFFIX = ".partial";

export class FsArtifactStore implements ArtifactStore {
  readonly name = "fs";
  readonly rootDir: string;
  private readonly blobsDir: string;
  private readonly tmpDir: string;
  private readonly defaultMaxBytes: number | undefined;
  private dirsReady: Promise<void> | undefined;

  constructor(options: FsArtifactStoreOptions) {
    if (typeof options.rootDir !== "string" || options.rootDir.trim() === "") {
      throw InvalidInputError.field("rootDir", "must be a non-empty path");
    }
    if (options.defaultMaxBytes !== undefined) checkByteCount("defaultMaxBytes", options.defaultMaxBytes);
    this.rootDir = resolve(options.rootDir);
    this.blobsDir = join(this.rootDir, "blobs", "sha256");
    this.tmpDir = join(this.rootDir, "tmp");
    this.defaultMaxBytes = options.defaultMaxBytes;
    // Best effort: leftovers of a crashed process. Only touches files idle for an hour,
    // so it cannot race with uploads of this instance.
    void this.sweep().catch(() => undefined);
  }

  async put(content: Readable | AsyncIterable<Uint8Array> | Uint8Array, options: PutOptions = {}): Promise<BlobInfo> {
    const maxBytes = options.maxBytes ?? this.defaultMaxBytes;
    if (maxBytes !== undefined) checkByteCount("maxBytes", maxBytes);
    const expected = options.expectedDigest;
    if (expected !== undefined) assertDigest(expected, "expectedDigest");
    const source = toChunks(content);

    const tmpPath = join(this.tmpDir, `${TMP_PREFIX}${randomBytes(12).toString("hex")}${TMP_SUFFIX}`);
    let fh: FileHandle | undefined = await this.openTemp(tmpPath);
    try {
      const hash = createHash("sha256");
      let size = 0;
      let pending: Uint8Array[] = [];
      let pendingBytes = 0;
      for await (const chunk of source) {
        if (!(chunk instanceof Uint8Array)) {
          throw InvalidInputError.field("content", "stream must yield bytes (Buffer/Uint8Array), not strings or objects");
        }
        size += chunk.byteLength;
        // Checked before writing: an oversized upload is refused as soon as it is detected,
        // leaving the rest of the stream unread (breaking out of for-await destroys it).
        if (maxBytes !== undefined && size > maxBytes) {
          throw new PayloadTooLargeError(`artifact exceeds the limit of ${maxBytes} bytes`);
        }
        hash.update(chunk);
        pending.push(chunk);
        pendingBytes += chunk.byteLength;
        if (pendingBytes >= WRITE_BUFFER_BYTES) {
          await writeAll(fh, pending, pendingBytes);
          pending = [];
          pendingBytes = 0;
        }
      }
      if (pendingBytes > 0) await writeAll(fh, pending, pendingBytes);
      await fh.sync();
      await fh.close();
      fh = undefined;

      const digest: Digest = `sha256:${hash.digest("hex")}`;
      if (expected !== undefined && digest !== expected) {
        throw InvalidInputError.field("expectedDigest", `content hashes to ${digest}, not ${expected}`);
      }
      const finalPath = this.blobPath(digest);
      const shardDir = dirname(finalPath);
      await mkdir(shardDir, { recursive: true });
      // Always rename, even if the blob already exists: identical content, atomic replace,
      // and the blob is guaranteed present when put() resolves even if a delete() raced us.
      await rename(tmpPath, finalPath);
      await fsyncDir(shardDir);
      return { digest, size };
    } catch (e) {
      if (fh) await fh.close().catch(() => undefined);
      await unlink(tmpPath).catch(() => undefined);
      throw e;
    }
  }

  async get(digest: Digest, range?: { start: number; end?: number }): Promise<Readable> {
    assertDigest(digest, "digest");
    if (range !== undefined) checkRangeShape(range);
    let fh: FileHandle;
    try {
      fh = await open(this.blobPath(digest), "r");
    } catch (e) {
      if (isErrno(e, "ENOENT")) throw new NotFoundError(`artifact ${digest} not found`);
      throw e;
    }
    try {
      // Size of the inode we hold open: a concurrent delete() cannot pull it from under us.
      const { size } = await fh.stat();
      if (range === undefined) return fh.createReadStream();
      const { start, end } = range;
      if (start > size || (end !== undefined && end >= size)) {
        throw InvalidInputError.field("range", `not satisfiable for a blob of ${size} bytes`);
      }
      // Without `end` the stream runs to EOF; start === size yields an empty stream.
      return fh.createReadStream(end === undefined ? { start } : { start, end });
    } catch (e) {
      await fh.close().catch(() => undefined);
      throw e;
    }
  }

  async stat(digest: Digest): Promise<BlobInfo | undefined> {
    assertDigest(digest, "digest");
    try {
      const st = await stat(this.blobPath(digest));
      return st.isFile() ? { digest, size: st.size } : undefined;
    } catch (e) {
      if (isErrno(e, "ENOENT")) return undefined;
      throw e;
    }
  }

  async delete(digest: Digest): Promise<void> {
    assertDigest(digest, "digest");
    try {
      await unlink(this.blobPath(digest));
    } catch (e) {
      if (!isErrno(e, "ENOENT")) throw e;
    }
  }

  async ping(): Promise<void> {
    try {
      await this.ensureDirs();
      await access(this.tmpDir, fsConstants.R_OK | fsConstants.W_OK);
      await access(this.blobsDir, fsConstants.R_OK | fsConstants.W_OK);
    } catch (e) {
      throw new UnavailableError(`artifact store at ${this.rootDir} is not usable`, [], { cause: e });
    }
  }

  /**
   * Remove temp files (abandoned uploads) not modified for `olderThanMs`.
   * Uploads in progress keep touching their temp file, so only idle ones go.
   * Returns how many files were removed.
   */
  async sweep(olderThanMs: number = DEFAULT_TMP_MAX_AGE_MS): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.tmpDir);
    } catch (e) {
      if (isErrno(e, "ENOENT")) return 0;
      throw e;
    }
    const cutoff = Date.now() - olderThanMs;
    let removed = 0;
    for (const name of names) {
      const path = join(this.tmpDir, name);
      try {
        const st = await lstat(path);
        if (!st.isFile() || st.mtimeMs > cutoff) continue;
        await unlink(path);
        removed++;
      } catch (e) {
        if (!isErrno(e, "ENOENT")) throw e;
      }
    }
    return removed;
  }

  /** Absolute path of a blob; `digest` must already be validated. */
  private blobPath(digest: Digest): string {
    const hex = digest.slice("sha256:".length);
    return join(this.blobsDir, hex.slice(0, 2), hex);
  }

  private async openTemp(tmpPath: string): Promise<FileHandle> {
    await this.ensureDirs();
    try {
      return await open(tmpPath, "wx", 0o644);
    } catch (e) {
      if (!isErrno(e, "ENOENT")) throw e;
      // tmp/ vanished behind our back (cleaned by an operator?): recreate once.
      this.dirsReady = undefined;
      await this.ensureDirs();
      return open(tmpPath, "wx", 0o644);
    }
  }

  private ensureDirs(): Promise<void> {
    this.dirsReady ??= (async () => {
      await mkdir(this.tmpDir, { recursive: true });
      await mkdir(this.blobsDir, { recursive: true });
    })().catch((e: unknown) => {
      this.dirsReady = undefined; // retry next time (e.g. volume mounted later)
      throw e;
    });
    return this.dirsReady;
  }
}

function assertDigest(value: unknown, field: string): asserts value is Digest {
  if (typeof value !== "string" || !isDigest(value)) {
    throw InvalidInputError.field(field, "must be a digest of the form sha256:<64 lowercase hex characters>");
  }
}

function checkByteCount(field: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw InvalidInputError.field(field, "must be a non-negative integer");
  }
}

function checkRangeShape(range: { start: number; end?: number }): void {
  if (!Number.isSafeInteger(range.start) || range.start < 0) {
    throw InvalidInputError.field("range.start", "must be a non-negative integer");
  }
  if (range.end !== undefined && (!Number.isSafeInteger(range.end) || range.end < range.start)) {
    throw InvalidInputError.field("range.end", "must be an integer >= range.start (inclusive)");
  }
}

function toChunks(content: Readable | AsyncIterable<Uint8Array> | Uint8Array): Iterable<unknown> | AsyncIterable<unknown> {
  if (content instanceof Uint8Array) return [content];
  if (content !== null && typeof content === "object" && Symbol.asyncIterator in content) {
    return content as AsyncIterable<unknown>;
  }
  throw InvalidInputError.field("content", "must be a Uint8Array, a Readable or an async iterable of bytes");
}

async function writeAll(fh: FileHandle, chunks: Uint8Array[], total: number): Promise<void> {
  const buf = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
  let offset = 0;
  while (offset < buf.byteLength) {
    const { bytesWritten } = await fh.write(buf, offset, buf.byteLength - offset);
    offset += bytesWritten;
  }
}

/** Make a rename durable. Not all platforms allow fsync on directories; that is fine. */
async function fsyncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, "r");
    await fh.sync();
  } catch {
    // best effort
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

function isErrno(e: unknown, code: string): boolean {
  return typeof e === "object" && e !== null && (e as NodeJS.ErrnoException).code === code;
}
