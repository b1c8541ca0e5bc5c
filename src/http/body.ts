/**
 * Reading a request body on the raw (node:http) mounts (ADR 0011), with the limit checks both
 * share: a `Content-Length` over the limit is refused before anything is read; a streamed body
 * is refused as soon as it passes the limit; a client that goes away mid-body settles the promise.
 *
 * A refused body is not left unread: the server answers while the client may still be sending,
 * and a socket closed with unread data is reset, which can discard the answer before the client
 * reads it (it then sees EPIPE or ECONNRESET instead of the 413). So the rest of the body is read
 * and dropped — for at most {@link LINGER_MS}, after which the connection is closed (nginx's
 * and Apache's "lingering close"). A client that finishes its body in time keeps its connection.
 */
import type { IncomingMessage } from "node:http";

export interface BodyErrors {
  /** The body is larger than the limit. */
  readonly tooLarge: () => Error;
  /** The client closed the connection before the body was complete. */
  readonly incomplete: () => Error;
}

/** How long the rest of a refused body is read and dropped before the connection is closed. */
export const LINGER_MS = 5_000;

const drop = (): void => undefined;
const discarding = new WeakSet<IncomingMessage>();

/**
 * Reads and drops whatever is left of a request body that will not be used (a refused body, or an
 * answer sent before the body was read), closing the connection if it has not ended after
 * `lingerMs`. Without this, node:http would drain it with no bound in time or size.
 */
export function discardBody(req: IncomingMessage, lingerMs = LINGER_MS): void {
  if (req.complete || req.destroyed || discarding.has(req)) return;
  discarding.add(req);
  req.removeAllListeners("data");
  req.on("data", drop);
  req.resume();
  const timer = setTimeout(() => req.socket.destroy(), lingerMs);
  timer.unref();
  const done = () => clearTimeout(timer);
  req.once("end", done);
  req.once("close", done);
}

/** The whole body as one Buffer, or undefined if it is empty. */
export function readLimitedBody(req: IncomingMessage, limit: number, errors: BodyErrors, lingerMs = LINGER_MS): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => readLimitedBodyThen(req, limit, errors, (err, body) => (err ? reject(err) : resolve(body)), lingerMs));
}

/**
 * readLimitedBody with a callback, called once: for a hot path that would otherwise pay a promise
 * and a microtask per request (the inference data plane).
 */
export function readLimitedBodyThen(req: IncomingMessage, limit: number, errors: BodyErrors, done: (err: Error | undefined, body?: Buffer) => void, lingerMs = LINGER_MS): void {
  if (Number(req.headers["content-length"]) > limit) {
    discardBody(req, lingerMs);
    done(errors.tooLarge());
    return;
  }
  new BodyRead(req, limit, errors, done, lingerMs);
}

/** One body being read: the listeners are its methods' closures, settled once. */
class BodyRead {
  private settled = false;
  private chunks: Buffer[] = [];
  private size = 0;

  constructor(
    private readonly req: IncomingMessage,
    private readonly limit: number,
    private readonly errors: BodyErrors,
    private readonly done: (err: Error | undefined, body?: Buffer) => void,
    private readonly lingerMs: number,
  ) {
    req.on("data", (chunk: Buffer) => this.data(chunk));
    req.on("end", () => this.settle(undefined, this.body()));
    // The only errors a request emits are the client's: it closed or reset the connection.
    req.on("error", () => this.settle(this.errors.incomplete()));
    req.on("close", () => {
      if (!this.req.complete) this.settle(this.errors.incomplete());
    });
  }

  private data(chunk: Buffer): void {
    this.size += chunk.length;
    if (this.size > this.limit) {
      this.chunks = [];
      discardBody(this.req, this.lingerMs);
      this.settle(this.errors.tooLarge());
      return;
    }
    this.chunks.push(chunk);
  }

  private body(): Buffer | undefined {
    const c = this.chunks;
    return c.length === 1 ? c[0] : c.length ? Buffer.concat(c, this.size) : undefined;
  }

  private settle(err: Error | undefined, body?: Buffer): void {
    if (this.settled) return;
    this.settled = true;
    this.done(err, body);
  }
}
