/**
 * A work queue with the semantics of Kubernetes' client-go queue: a key is queued at most
 * once, a key being processed is never handed to a second worker (a re-add while it is
 * processed queues it again once `done`), and failures back off exponentially per key.
 */
export interface BackoffOptions {
  readonly baseMs: number;
  readonly maxMs: number;
}

export class WorkQueue<K extends string = string> {
  private readonly queue: K[] = [];
  private readonly dirty = new Set<K>();
  private readonly processing = new Set<K>();
  private readonly failures = new Map<K, number>();
  private readonly timers = new Map<K, { at: number; timer: NodeJS.Timeout }>();
  private readonly waiters: ((k: K | undefined) => void)[] = [];
  private shuttingDown = false;

  constructor(private readonly backoff: BackoffOptions = { baseMs: 50, maxMs: 60_000 }) {}

  get length(): number {
    return this.queue.length;
  }
  get inFlight(): number {
    return this.processing.size;
  }

  add(key: K): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    const waiter = this.waiters.shift();
    if (waiter) {
      this.dirty.delete(key);
      this.processing.add(key);
      waiter(key);
    } else this.queue.push(key);
  }

  /** Adds after `ms`; an earlier pending delayed add for the key wins. */
  addAfter(key: K, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) return this.add(key);
    const at = Date.now() + ms;
    const pending = this.timers.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    timer.unref();
    this.timers.set(key, { at, timer });
  }

  /** Requeues after this key's next backoff delay; returns the delay. */
  addRateLimited(key: K): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const delay = Math.min(this.backoff.baseMs * 2 ** n, this.backoff.maxMs);
    this.addAfter(key, delay);
    return delay;
  }

  retries(key: K): number {
    return this.failures.get(key) ?? 0;
  }

  /** Clears the key's failure count (after a successful reconcile). */
  forget(key: K): void {
    this.failures.delete(key);
  }

  /** Next key to process, or undefined once shut down. */
  get(): Promise<K | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) {
      this.dirty.delete(key);
      this.processing.add(key);
      return Promise.resolve(key);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  done(key: K): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) {
      this.dirty.delete(key);
      this.add(key);
    }
  }

  shutdown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
  }
}
