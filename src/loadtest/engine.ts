/**
 * The load-test engine: closed-loop virtual users (like Locust's), ramped up at a spawn rate,
 * an optional global requests-per-second cap (GCRA token bucket), bounded by a duration and an
 * absolute request count. HTTP through undici with a keep-alive agent sized to the users.
 *
 * Latency is measured from sending the request to the last byte of the response body, for
 * every request that got an HTTP answer (2xx/3xx succeed, 4xx/5xx are errors "HTTP <status>");
 * timeouts and connection errors count as errors without a latency. Requests still in flight
 * when the duration ends are cancelled and not counted (reported as `cancelled`).
 */
import { Agent, request, type Dispatcher } from "undici";
import { InvalidInputError } from "../platform/errors.ts";
import { LatencyHistogram, round3, type LatencySummary } from "./histogram.ts";

export interface LoadTestOptions {
  readonly url: string;
  /** Default: POST when there is a body, else GET. */
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Uint8Array;
  /** Concurrent closed-loop users. */
  readonly users: number;
  /** Users started per second (user i starts at i / spawnRate s). Default: users (all within 1 s). */
  readonly spawnRate?: number;
  readonly durationMs: number;
  /** Absolute cap on requests sent. Default 10,000,000. */
  readonly maxRequests?: number;
  /** Global requests-per-second cap over all users. */
  readonly rps?: number;
  /** Per-request timeout (connect to last byte). Default 10 s. */
  readonly timeoutMs?: number;
  /** How often onProgress is called (and a history entry is kept). Default 1 s. */
  readonly progressIntervalMs?: number;
  readonly signal?: AbortSignal;
  /** Label of the target in reports (default: the URL's path). */
  readonly name?: string;
  /** Use this dispatcher instead of a fresh keep-alive agent (not closed by the engine). */
  readonly dispatcher?: Dispatcher;
}

export type StopReason = "duration" | "requests" | "aborted";

export interface LoadTestProgress {
  readonly elapsedMs: number;
  /** Users running now, and the target. */
  readonly users: number;
  readonly targetUsers: number;
  /** Completed requests so far (successes and failures). */
  readonly requests: number;
  readonly failures: number;
  /** Over the last interval. */
  readonly rps: number;
  readonly intervalFailures: number;
  readonly latencyMs: { readonly p50: number; readonly p95: number; readonly p99: number };
}

export interface LoadTestError {
  /** "HTTP <status>", "timeout", "connection error" or "request error". */
  readonly type: string;
  readonly count: number;
  /** The first occurrence's message (response body start, or the error code). */
  readonly message: string;
}

export interface LoadTestReport {
  readonly target: { readonly method: string; readonly url: string; readonly name: string };
  readonly config: {
    readonly users: number;
    readonly spawnRate: number;
    readonly durationMs: number;
    readonly maxRequests: number;
    readonly rps: number | null;
    readonly timeoutMs: number;
  };
  readonly startedAt: string;
  readonly elapsedMs: number;
  readonly stoppedBy: StopReason;
  /** Completed requests: successes + failures. */
  readonly requests: number;
  readonly successes: number;
  readonly failures: number;
  /** failures / requests (0–1). */
  readonly errorRate: number;
  /** requests / elapsed seconds. */
  readonly rps: number;
  readonly failuresPerSecond: number;
  readonly bytesReceived: number;
  /** Latency of requests that got an HTTP answer, in ms. */
  readonly latencyMs: LatencySummary;
  /** Locust's percentile columns ("50%" … "100%"), ms. */
  readonly percentilesMs: Readonly<Record<string, number>>;
  readonly statusCodes: Readonly<Record<string, number>>;
  readonly errors: readonly LoadTestError[];
  /** Requests in flight when the duration ended (aborted, not counted). */
  readonly cancelled: number;
  readonly history: readonly LoadTestProgress[];
}

/** The report, by its short name. */
export type Report = LoadTestReport;

const STOP = Symbol("stop");
const TIMEOUT = Symbol("timeout");

const TIMEOUT_CODES = new Set(["UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "ETIMEDOUT"]);
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EADDRNOTAVAIL",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
]);

function errorCode(e: unknown): string | undefined {
  for (let cur: unknown = e, depth = 0; cur && typeof cur === "object" && depth < 4; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === "string") return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Classifies a failed request (no HTTP answer). */
export function classifyError(e: unknown): { type: string; message: string } {
  const code = errorCode(e);
  const msg = e instanceof Error ? e.message : String(e);
  if (code && TIMEOUT_CODES.has(code)) return { type: "timeout", message: code };
  if (code && CONNECTION_CODES.has(code)) return { type: "connection error", message: code };
  return { type: "request error", message: code ? `${code}: ${msg}` : msg };
}

const MAX_TIMER_MS = 2 ** 31 - 1;

function validate(o: LoadTestOptions): void {
  const positive = (v: number | undefined, path: string, int = false) => {
    if (v === undefined) return;
    if (!Number.isFinite(v) || v <= 0 || (int && !Number.isInteger(v))) throw InvalidInputError.field(path, `must be a positive ${int ? "integer" : "number"}, got ${v}`);
  };
  positive(o.users, "users", true);
  positive(o.spawnRate, "spawnRate");
  positive(o.durationMs, "duration");
  positive(o.maxRequests, "maxRequests", true);
  positive(o.rps, "rps");
  positive(o.timeoutMs, "timeout");
  // Node's timers hold at most 2^31-1 ms (24.8 days); a longer one fires at once.
  for (const [v, path] of [[o.durationMs, "duration"], [o.timeoutMs, "timeout"], [o.progressIntervalMs, "progressInterval"]] as const) {
    if (v !== undefined && v > MAX_TIMER_MS) throw InvalidInputError.field(path, `must be at most 24 days (${MAX_TIMER_MS} ms), got ${v} ms`);
  }
  positive(o.progressIntervalMs, "progressInterval");
  let u: URL;
  try {
    u = new URL(o.url);
  } catch {
    throw InvalidInputError.field("url", `"${o.url}" is not a URL`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw InvalidInputError.field("url", `"${o.url}" is not an http(s) URL`);
}

/**
 * Runs a load test and resolves with its report. onProgress is called every
 * progressIntervalMs with the figures of the last interval.
 */
export async function runLoadTest(options: LoadTestOptions, onProgress?: (p: LoadTestProgress) => void): Promise<LoadTestReport> {
  validate(options);
  const users = options.users;
  const spawnRate = options.spawnRate ?? users;
  const maxRequests = options.maxRequests ?? 10_000_000;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.progressIntervalMs ?? 1000;
  const method = (options.method ?? (options.body !== undefined ? "POST" : "GET")).toUpperCase();
  const url = new URL(options.url);
  const name = options.name ?? url.pathname;
  const ownAgent = options.dispatcher
    ? undefined
    : new Agent({ connections: users, pipelining: 1, keepAliveTimeout: 30_000, connect: { timeout: timeoutMs }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  const dispatcher: Dispatcher = options.dispatcher ?? ownAgent!;
  const body = typeof options.body === "string" ? Buffer.from(options.body) : options.body;

  const total = new LatencyHistogram();
  const interval = new LatencyHistogram();
  const statusCodes: Record<string, number> = {};
  const errors = new Map<string, { count: number; message: string }>();
  const history: LoadTestProgress[] = [];
  let issued = 0;
  let completed = 0;
  let failures = 0;
  let bytes = 0;
  let cancelled = 0;
  let intervalCompleted = 0;
  let intervalFailures = 0;
  let running = 0;

  const start = performance.now();
  const startedAt = new Date().toISOString();
  let endTime: number | undefined;
  let stoppedBy: StopReason | undefined;
  let stopped = false;
  const inFlight = new Set<AbortController>();
  const sleepers = new Set<() => void>();

  const timers: NodeJS.Timeout[] = [];
  let resolveStopped!: () => void;
  const whenStopped = new Promise<void>((r) => (resolveStopped = r));
  const stop = (why: StopReason, abortInFlight: boolean) => {
    if (stopped) return;
    stopped = true;
    resolveStopped();
    stoppedBy = why;
    endTime = performance.now();
    for (const t of timers) clearTimeout(t);
    for (const wake of [...sleepers]) wake();
    if (abortInFlight) for (const c of [...inFlight]) c.abort(STOP);
  };
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(t);
        sleepers.delete(wake);
        resolve();
      };
      const t = setTimeout(wake, ms);
      sleepers.add(wake);
    });

  // GCRA ("token bucket" of capacity 1): slots every 1/rps s, reserved in order.
  const slotMs = options.rps ? 1000 / options.rps : 0;
  let nextSlot = start;
  const reserve = (): number => {
    const now = performance.now();
    const at = Math.max(now, nextSlot);
    nextSlot = at + slotMs;
    return at - now;
  };

  const fail = (type: string, message: string) => {
    failures++;
    intervalFailures++;
    const e = errors.get(type);
    if (e) e.count++;
    else errors.set(type, { count: 1, message: message.slice(0, 300) });
  };

  const once = async (): Promise<void> => {
    const ctl = new AbortController();
    inFlight.add(ctl);
    const timer = setTimeout(() => ctl.abort(TIMEOUT), timeoutMs);
    const t0 = performance.now();
    try {
      const res = await request(url, { method, headers: options.headers, body, dispatcher, signal: ctl.signal });
      let text = "";
      if (res.statusCode >= 400) text = await res.body.text();
      else bytes += (await res.body.arrayBuffer()).byteLength;
      if (res.statusCode >= 400) bytes += Buffer.byteLength(text);
      const ms = performance.now() - t0;
      completed++;
      intervalCompleted++;
      total.record(ms);
      interval.record(ms);
      statusCodes[res.statusCode] = (statusCodes[res.statusCode] ?? 0) + 1;
      if (res.statusCode >= 400) fail(`HTTP ${res.statusCode}`, errorMessage(text));
    } catch (e) {
      if (ctl.signal.reason === STOP) {
        cancelled++;
        return;
      }
      completed++;
      intervalCompleted++;
      if (ctl.signal.reason === TIMEOUT) fail("timeout", `no complete answer within ${timeoutMs} ms`);
      else {
        const c = classifyError(e);
        fail(c.type, c.message);
      }
    } finally {
      clearTimeout(timer);
      inFlight.delete(ctl);
    }
  };

  const user = async (): Promise<void> => {
    running++;
    try {
      while (!stopped) {
        if (slotMs > 0) {
          const wait = reserve();
          if (wait > 0.5) await sleep(wait);
          if (stopped) break;
        }
        if (issued >= maxRequests) {
          stop("requests", false);
          break;
        }
        issued++;
        await once();
      }
    } finally {
      running--;
    }
  };

  const loops: Promise<void>[] = [];
  let spawned = 0;
  const spawnDue = () => {
    if (stopped) return;
    const due = Math.min(users, Math.floor(((performance.now() - start) / 1000) * spawnRate) + 1);
    while (spawned < due) {
      spawned++;
      loops.push(user());
    }
    if (spawned >= users) clearInterval(spawnTimer);
  };
  const spawnTimer = setInterval(spawnDue, Math.max(5, Math.min(100, 1000 / spawnRate)));
  timers.push(spawnTimer);

  const snapshot = (now: number, windowMs: number): LoadTestProgress => {
    const p: LoadTestProgress = {
      elapsedMs: Math.round(now - start),
      users: running,
      targetUsers: users,
      requests: completed,
      failures,
      rps: round3(windowMs > 0 ? (intervalCompleted * 1000) / windowMs : 0),
      intervalFailures,
      latencyMs: { p50: round3(interval.percentile(50)), p95: round3(interval.percentile(95)), p99: round3(interval.percentile(99)) },
    };
    interval.reset();
    intervalCompleted = 0;
    intervalFailures = 0;
    return p;
  };
  let lastTick = start;
  const progressTimer = setInterval(() => {
    const now = performance.now();
    const p = snapshot(now, now - lastTick);
    lastTick = now;
    history.push(p);
    onProgress?.(p);
  }, intervalMs);
  timers.push(progressTimer);
  timers.push(setTimeout(() => stop("duration", true), options.durationMs));

  const onAbort = () => stop("aborted", true);
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener("abort", onAbort, { once: true });

  try {
    spawnDue();
    await whenStopped;
    await Promise.all(loops);
  } finally {
    for (const t of timers) clearTimeout(t);
    options.signal?.removeEventListener("abort", onAbort);
    for (const wake of [...sleepers]) wake();
    if (ownAgent) await ownAgent.destroy().catch(() => undefined);
  }
  const end = stoppedBy === "requests" ? performance.now() : (endTime ?? performance.now());
  if (intervalCompleted > 0) history.push(snapshot(end, end - lastTick));
  const elapsedMs = end - start;
  const secs = elapsedMs / 1000;
  const report: LoadTestReport = {
    target: { method, url: url.toString(), name },
    config: { users, spawnRate, durationMs: options.durationMs, maxRequests, rps: options.rps ?? null, timeoutMs },
    startedAt,
    elapsedMs: Math.round(elapsedMs),
    stoppedBy: stoppedBy ?? "duration",
    requests: completed,
    successes: completed - failures,
    failures,
    errorRate: completed ? failures / completed : 0,
    rps: round3(secs > 0 ? completed / secs : 0),
    failuresPerSecond: round3(secs > 0 ? failures / secs : 0),
    bytesReceived: bytes,
    latencyMs: total.summary(),
    percentilesMs: total.percentiles(),
    statusCodes,
    errors: [...errors.entries()].map(([type, e]) => ({ type, count: e.count, message: e.message })).sort((a, b) => b.count - a.count || a.type.localeCompare(b.type)),
    cancelled,
    history,
  };
  total.destroy();
  interval.destroy();
  return report;
}

/** OIP's {"error": "..."} and Forja's {"error": {"message"}} bodies as one line. */
function errorMessage(text: string): string {
  try {
    const j = JSON.parse(text) as { error?: unknown };
    if (typeof j.error === "string") return j.error;
    if (j.error && typeof j.error === "object" && typeof (j.error as { message?: unknown }).message === "string") return (j.error as { message: string }).message;
  } catch {
    /* not JSON */
  }
  return text.replace(/\s+/g, " ").trim();
}
