/**
 * The artifact store port: immutable blobs addressed by the sha256 of their content.
 * Adapters: local filesystem (src/artifacts/fs-store.ts) now; S3 later, without changes
 * to callers. Every adapter must pass src/artifacts/contract.ts.
 *
 * Callers that need names ("model/model.onnx" of run X) keep a name → digest index in
 * their own tables; the store itself only knows digests, which makes path traversal
 * impossible by construction.
 */
import type { Readable } from "node:stream";

/** "sha256:<64 lowercase hex>" */
export type Digest = `sha256:${string}`;

export interface BlobInfo {
  readonly digest: Digest;
  readonly size: number;
}

export interface PutOptions {
  /** Refuse (PayloadTooLargeError) once more than this many bytes have been received. */
  readonly maxBytes?: number;
  /** If given, the upload fails (InvalidInputError) unless the content hashes to it. */
  readonly expectedDigest?: Digest;
}

export interface ArtifactStore {
  readonly name: string;
  /**
   * Stream content in; it becomes visible only once fully written and verified (atomic).
   * Putting content that is already stored is fine and yields the same digest (dedupe).
   * Errors: PayloadTooLargeError (over `maxBytes`, detected while streaming),
   * InvalidInputError (digest mismatch, bad options, non-byte chunks). On any error
   * nothing new is stored. Errors of the source stream are passed through.
   */
  put(content: Readable | AsyncIterable<Uint8Array> | Uint8Array, options?: PutOptions): Promise<BlobInfo>;
  /**
   * Stream content out; NotFoundError when absent. Supports a byte range for resumable
   * downloads: `start` and `end` are byte offsets, `end` INCLUSIVE (like HTTP Range and S3),
   * defaulting to the last byte. Valid: 0 <= start <= size, start <= end < size;
   * `start === size` without `end` gives an empty stream. Anything else: InvalidInputError.
   * All methods taking a digest reject a malformed one with InvalidInputError.
   */
  get(digest: Digest, range?: { start: number; end?: number }): Promise<Readable>;
  /** undefined when absent. */
  stat(digest: Digest): Promise<BlobInfo | undefined>;
  /** Idempotent: deleting an absent blob is not an error. */
  delete(digest: Digest): Promise<void>;
  /** For health checks; rejects (UnavailableError) when the backend is not usable. */
  ping(): Promise<void>;
}

const digestRe = /^sha256:[0-9a-f]{64}$/;
export function isDigest(value: string): value is Digest {
  return digestRe.test(value);
}
