/**
 * Reading a request body on the raw (node:http) mounts (ADR 0011), with the limit checks both
 * share: a `Content-Length` over the limit is refused before anything is read; a streamed body
 * is refused as soon as it passes the limit (reading stops; the caller answers and closes the
 * connection); a client that goes away mid-body settles the promise.
 */
import type { IncomingMessage } from "node:http";

export interface BodyErrors {
  /** The body is larger than the limit. */
  readonly tooLarge: () => Error;
  /** The client closed the connection before the body was complete. */
  readonly incomplete: () => Error;
}

/** The whole body as one Buffer, or undefined if it is empty. */
export function readLimitedBody(req: IncomingMessage, limit: number, errors: BodyErrors): Promise<Buffer | undefined> {
  if (Number(req.headers["content-length"]) > limit) return Promise.reject(errors.tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners("data");
        req.pause();
        reject(errors.tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(chunks.length === 1 ? chunks[0] : chunks.length ? Buffer.concat(chunks, size) : undefined));
    req.on("error", reject);
    req.on("close", () => {
      if (!req.complete) reject(errors.incomplete());
    });
  });
}
