/**
 * The inference data plane: Open Inference Protocol v2 REST and V1 `:predict`, per project under
 * `/serving/{project}`. It is served straight from node:http, mounted by the HTTP layer ahead of
 * Fastify (see `RawMount` in http/app.ts and ADR 0011): inference is the one latency-critical
 * path of the platform, with its own authentication (platform token of a project member, or a
 * deployment key; cached, see auth.ts), its own error body (`{"error": "..."}`) and raw bodies
 * (JSON or the binary tensor extension), so Fastify's request pipeline (hooks, content-type
 * parsers, schema compilation, reply serialisation) would be pure overhead here.
 *
 * Routes (GET also answers HEAD):
 *   GET  v2/health/live · v2/health/ready · v2
 *   GET  v2/models/{name}[/versions/{v}] · v2/models/{name}[/versions/{v}]/ready
 *   POST v2/models/{name}[/versions/{v}]/infer
 *   GET  v1/models/{name} · POST v1/models/{name}:predict
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { RawHandler } from "../http/app.ts";
import { discardBody, readLimitedBody, readLimitedBodyThen, type BodyErrors } from "../http/body.ts";
import { statusFor } from "../http/errors.ts";
import { errorMessage, isForjaError } from "../platform/errors.ts";
import type { PlatformContext } from "../server/feature.ts";
import { VERSION } from "../server/version.ts";
import type { InferenceAuth } from "./auth.ts";
import type { LiveDeployment, LoadedVersion, ServingEngine } from "./engine.ts";
import type { Feeds, Outputs } from "./runner.ts";
import { encodeResponse, encodeV1, parseBody, parseInferRequest, parseV1Request } from "./infer.ts";
import { ServingError } from "./tensors.ts";

export interface DataPlaneDeps {
  readonly ctx: PlatformContext;
  readonly engine: ServingEngine;
  readonly auth: InferenceAuth;
}

export const DATA_PLANE_PREFIX = "/serving/";

/** Which deployment (and version) a request is about. */
interface Target {
  readonly project: string;
  readonly name: string;
  readonly version?: string;
}

interface Request {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly method: string;
  /** The path without its query string, for messages. */
  readonly path: string;
  readonly project: string;
  /** An answer is queued (see Turn): nothing else may be sent. */
  answered: boolean;
  /** The queued answer. */
  status: number;
  body: string | Buffer | undefined;
  headers: Record<string, string> | undefined;
}

type Route =
  | { readonly kind: "live" | "ready" | "server" }
  | { readonly kind: "model-meta" | "model-ready" | "infer" | "v1-ready" | "v1-predict"; readonly name: string; readonly version?: string };

const JSON_TYPE = "application/json; charset=utf-8";

/** Matches the path below `/serving/{project}/` (already split on "/" and decoded). */
function match(method: string, s: readonly string[]): Route | undefined {
  const get = method === "GET" || method === "HEAD";
  const post = method === "POST";
  const a = s[0];
  const b = s[1];
  const c = s[2];
  const d = s[3];
  const e = s[4];
  const f = s[5];
  if (a === "v2") {
    if (s.length === 1) return get ? { kind: "server" } : undefined;
    if (b === "health" && s.length === 3) return get && c === "live" ? { kind: "live" } : get && c === "ready" ? { kind: "ready" } : undefined;
    if (b !== "models" || !c) return undefined;
    // v2/models/{name}[/versions/{version}][/ready|/infer]
    let version: string | undefined;
    let action: string | undefined;
    if (d === "versions") {
      if (!e) return undefined;
      version = e;
      if (s.length > 6) return undefined;
      action = f;
    } else {
      if (s.length > 4) return undefined;
      action = d;
    }
    const v = version !== undefined ? { version } : {};
    if (action === undefined) return get ? { kind: "model-meta", name: c, ...v } : undefined;
    if (action === "ready") return get ? { kind: "model-ready", name: c, ...v } : undefined;
    if (action === "infer") return post ? { kind: "infer", name: c, ...v } : undefined;
    return undefined;
  }
  if (a === "v1" && b === "models" && c && s.length === 3) {
    if (get) return { kind: "v1-ready", name: c };
    const colon = c.lastIndexOf(":");
    if (post && colon > 0 && c.slice(colon + 1) === "predict") return { kind: "v1-predict", name: c.slice(0, colon) };
  }
  return undefined;
}

/**
 * The work of one turn of the event loop, done at its end (setImmediate runs after every socket
 * read in the turn has been handled): first the model runs of the requests read in the turn, one
 * after the other, then every answer ready, written in one burst.
 *
 * Runs together: run one by one between the reads of their requests, the same inline runs cost
 * about twice as much (~18 µs a run against ~9 µs back to back; 90–100 against 62–70 µs of
 * server CPU per request at c=16, ADR 0013) — the model's code and data are cold after each
 * request's parsing. Answers together: every write to a client that is waiting in epoll wakes it;
 * on a virtual machine that wake-up (an inter-processor interrupt, a VM exit) costs more than the
 * write itself, and one per response made writev the biggest single cost of a request under
 * concurrent load. Written in a burst, a client is woken once and reads the rest while it runs
 * (c=64, alternating runs: 6.4–8.8k → 10.2–13.8k req/s; ADR 0011).
 *
 * A model run elsewhere (worker threads, adaptive batching) answers when its outputs arrive:
 * with the others of its burst once none is left running, and at the latest at the end of the
 * next turn. An answer with no run pending (an error, a metadata call) is written at once.
 */
class Turn {
  private runs: (() => void)[] = [];
  private answers: Request[] = [];
  private scheduled = false;
  private flushing = false;
  /** Runs started on asynchronous runners whose outputs have not arrived. */
  asyncRuns = 0;
  private readonly flush = () => {
    this.scheduled = false;
    this.flushing = true;
    try {
      const runs = this.runs;
      if (runs.length) {
        this.runs = [];
        for (const run of runs) run();
      }
    } finally {
      this.flushing = false;
      this.writeAnswers();
    }
  };

  private writeAnswers(): void {
    const answers = this.answers;
    if (!answers.length) return;
    this.answers = [];
    for (const r of answers) {
      try {
        write(r);
      } catch {
        // One connection's failure (it went away mid-write) must not cost the others their answer.
        r.res.destroy();
      }
    }
  }

  /** `run` (which must not throw) at the end of this turn, before the answers are written. */
  defer(run: () => void): void {
    this.runs.push(run);
    this.schedule();
  }

  answer(r: Request): void {
    this.answers.push(r);
    if (this.flushing) return; // written when the turn's runs are done
    if (this.asyncRuns === 0 && this.runs.length === 0) return this.writeAnswers();
    this.schedule();
  }

  private schedule(): void {
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }
}
const turn = new Turn();

function write(r: Request): void {
  const body = r.body ?? "";
  const size = typeof body === "string" ? Buffer.byteLength(body) : body.length;
  const headers = r.headers;
  if (headers === undefined) r.res.writeHead(r.status, ["content-type", JSON_TYPE, "content-length", String(size)]);
  else r.res.writeHead(r.status, { "content-type": JSON_TYPE, "content-length": size, ...headers });
  r.res.end(r.method === "HEAD" ? undefined : body);
}

function send(r: Request, status: number, body: string | Buffer, headers?: Record<string, string>): void {
  if (r.answered) return; // one answer per request (fail() logs the attempt at a second)
  r.answered = true;
  // An answer before the body was read (or after it was refused): drop the rest, bounded.
  discardBody(r.req);
  r.status = status;
  r.body = body;
  r.headers = headers;
  turn.answer(r);
}

const sendJson = (r: Request, status: number, value: unknown) => send(r, status, JSON.stringify(value));

/** A model error as the caller sees it (counted for the version). */
function executionError(v: LoadedVersion, e: unknown): ServingError {
  v.count(e instanceof ServingError ? e.status : 500);
  return e instanceof ServingError ? e : new ServingError(500, `model execution failed: ${errorMessage(e)}`);
}

/**
 * A request for `v` is in flight from the moment its version is chosen, before its body is read:
 * a version retired meanwhile (a rollout, a rollback, a deleted deployment) waits for it before
 * it closes its session (LoadedVersion.close).
 */
function begin(d: LiveDeployment, v: LoadedVersion): void {
  v.inFlight++;
  d.inFlight++;
}

function finished(d: LiveDeployment, v: LoadedVersion): void {
  v.inFlight--;
  d.inFlight--;
}

export function createDataPlane({ ctx, engine, auth }: DataPlaneDeps): RawHandler {
  const { metrics } = engine;
  const limit = ctx.config.bodyLimitBytes;
  // The platform's body limit, in the OIP error format.
  const bodyErrors: BodyErrors = {
    tooLarge: () => new ServingError(413, `request body is larger than ${limit} bytes`),
    incomplete: () => new ServingError(400, "the request body is incomplete: the client closed the connection"),
  };
  const log = ctx.logger.child({ component: "serving" });

  const deployment = (t: Target): LiveDeployment => {
    const d = engine.get(t.project, t.name);
    if (!d) throw new ServingError(404, `model '${t.name}' is not deployed in project '${t.project}'`);
    return d;
  };
  const versionOf = (d: LiveDeployment, t: Target): LoadedVersion => {
    const route = d.route;
    if (!route) throw new ServingError(503, `model '${d.name}' is not ready`);
    if (t.version === undefined) return route.primary;
    const v = /^\d+$/.test(t.version) ? route.served.get(Number(t.version)) : undefined;
    if (!v) throw new ServingError(404, `model '${d.name}' has no served version '${t.version}'; served: ${[...route.served.keys()].join(", ")}`);
    return v;
  };
  const authorize = (r: Request, t: Target) => auth.check(r.req.headers.authorization, t.project, t.name);

  /** A refusal by the deployment's rate limit, counted (before a version is chosen, so without one). */
  const rateLimited = (r: Request, d: LiveDeployment, waitSeconds: number) => {
    metrics.requests.inc({ project: d.project, deployment: d.name, version: "", status: "429" });
    const rl = d.rateLimit;
    send(r, 429, JSON.stringify({ error: `rate limit exceeded: ${rl?.rps} requests/s (burst ${rl?.burst}) per credential for deployment '${d.name}'` }), { "retry-after": String(waitSeconds) });
  };

  /**
   * Parses a request for `v`, runs the model and answers, with the version's error counts. The
   * request is in flight already (begin()): execute ends it, on every path. An inline version
   * (v.runSync) runs at the end of the turn, with the other runs of the turn (see Turn); others
   * through their runner's promise.
   */
  const execute = <P extends { readonly feeds: Feeds }>(r: Request, d: LiveDeployment, v: LoadedVersion, parse: () => P, answer: (p: P, out: Outputs) => void): Promise<void> | undefined => {
    let p: P;
    try {
      p = parse();
    } catch (e) {
      finished(d, v);
      throw executionError(v, e);
    }
    const runSync = v.runSync;
    if (runSync) {
      turn.defer(() => {
        try {
          answer(p, runSync(p.feeds));
        } catch (e) {
          fail(r, executionError(v, e));
        } finally {
          finished(d, v);
        }
      });
      return undefined;
    }
    turn.asyncRuns++;
    let running: Promise<Outputs>;
    try {
      running = v.run(p.feeds);
    } catch (e) {
      turn.asyncRuns--;
      finished(d, v);
      throw executionError(v, e);
    }
    return running
      .then(
        (out) => {
          turn.asyncRuns--;
          answer(p, out);
        },
        (e: unknown) => {
          turn.asyncRuns--;
          throw executionError(v, e);
        },
      )
      .finally(() => finished(d, v));
  };

  const infer = (r: Request, t: Target): Promise<void> | undefined => {
    const t0 = performance.now();
    // Warm credentials are checked without a promise; the rest (and every refusal) by check().
    const credential = auth.checkCached(r.req.headers.authorization, t.project, t.name);
    if (credential === undefined) return authorize(r, t).then((c) => inferAs(r, t, c, t0));
    return inferAs(r, t, credential, t0);
  };

  const inferAs = (r: Request, t: Target, credential: string, t0: number): Promise<void> | undefined => {
    const d = deployment(t);
    const wait = d.take(credential);
    if (wait > 0) {
      rateLimited(r, d, wait);
      return undefined;
    }
    const v = t.version === undefined ? (d.pick() ?? versionOf(d, t)) : versionOf(d, t);
    begin(d, v);
    const headerLength = r.req.headers["inference-header-content-length"];
    readLimitedBodyThen(r.req, limit, bodyErrors, (err, body) => {
      if (err) {
        finished(d, v);
        return fail(r, err);
      }
      try {
        execute(
          r,
          d,
          v,
          () => parseInferRequest(v, parseBody(body, headerLength)),
          (parsed, out) => {
            const enc = encodeResponse(d.name, v, parsed, out);
            if (d.route?.shadow && t.version === undefined) d.mirror(parsed.feeds, out);
            ctx.hooks.inferenceServed?.({ project: t.project, deployment: d.name, version: v.version, inputs: parsed.feeds, outputs: out });
            v.count(200);
            v.latency.observe((performance.now() - t0) / 1000);
            if (enc.headerLength !== undefined) {
              send(r, 200, enc.body, { "content-type": "application/octet-stream", "inference-header-content-length": String(enc.headerLength) });
            } else send(r, 200, enc.body);
          },
        )?.catch((e: unknown) => fail(r, e));
      } catch (e) {
        fail(r, e);
      }
    });
    return undefined;
  };

  const predictV1 = async (r: Request, t: Target) => {
    const t0 = performance.now();
    const credential = auth.checkCached(r.req.headers.authorization, t.project, t.name) ?? (await authorize(r, t));
    const d = deployment(t);
    const wait = d.take(credential);
    if (wait > 0) return rateLimited(r, d, wait);
    const v = d.pick() ?? versionOf(d, t);
    begin(d, v);
    let body: Buffer | undefined;
    try {
      body = await readLimitedBody(r.req, limit, bodyErrors);
    } catch (e) {
      finished(d, v);
      throw e;
    }
    await execute(
      r,
      d,
      v,
      () => parseV1Request(v, parseBody(body, undefined).json),
      ({ feeds, rows }, out) => {
        if (d.route?.shadow) d.mirror(feeds, out);
        ctx.hooks.inferenceServed?.({ project: t.project, deployment: d.name, version: v.version, inputs: feeds, outputs: out });
        v.count(200);
        v.latency.observe((performance.now() - t0) / 1000);
        send(r, 200, encodeV1(v, out, rows));
      },
    );
  };

  const modelMeta = async (r: Request, t: Target) => {
    await authorize(r, t);
    const d = deployment(t);
    const v = versionOf(d, t);
    sendJson(r, 200, {
      name: d.name,
      versions: [...(d.route?.served.keys() ?? [])].map(String),
      platform: "onnx_onnxv1",
      inputs: v.inputs.map((i) => i.meta),
      outputs: v.outputs,
    });
  };

  const modelReady = async (r: Request, t: Target) => {
    await authorize(r, t);
    const d = deployment(t);
    const ready = t.version === undefined ? d.route !== undefined : d.route?.served.has(Number(t.version)) === true;
    sendJson(r, ready ? 200 : 503, { name: d.name, ready });
  };

  const v1Ready = async (r: Request, t: Target) => {
    await authorize(r, t);
    const d = deployment(t);
    sendJson(r, d.route ? 200 : 503, { name: d.name, ready: d.route !== undefined });
  };

  /** Server-level endpoints: any credential valid for the project (a key of any of its deployments). */
  const serverMeta = async (r: Request) => {
    await auth.check(r.req.headers.authorization, r.project, "").catch((e: unknown) => {
      if (e instanceof ServingError && e.status === 403 && e.message.startsWith("this key belongs to deployment")) return "";
      throw e;
    });
    sendJson(r, 200, { name: "forja", version: VERSION, extensions: ["binary_tensor_data"] });
  };

  const dispatch = (r: Request, route: Route): Promise<void> | undefined => {
    switch (route.kind) {
      case "live":
        sendJson(r, 200, { live: true });
        return undefined;
      case "ready": {
        const ready = engine.inProject(r.project).every((d) => d.route !== undefined);
        sendJson(r, ready ? 200 : 503, { ready });
        return undefined;
      }
      case "server":
        return serverMeta(r);
      case "model-meta":
        return modelMeta(r, { project: r.project, ...route });
      case "model-ready":
        return modelReady(r, { project: r.project, ...route });
      case "infer":
        return infer(r, { project: r.project, ...route });
      case "v1-ready":
        return v1Ready(r, { project: r.project, name: route.name });
      case "v1-predict":
        return predictV1(r, { project: r.project, name: route.name });
    }
  };

  const fail = (r: Request, e: unknown) => {
    if (r.answered) {
      log.error({ err: errorMessage(e), method: r.method, path: r.path }, "inference failed after its answer");
      r.res.destroy();
      return;
    }
    let status: number;
    let message: string;
    if (e instanceof ServingError) [status, message] = [e.status, e.message];
    else if (isForjaError(e)) [status, message] = [statusFor(e.code), e.message];
    else {
      log.error({ err: errorMessage(e), method: r.method, path: r.path }, "inference failed");
      [status, message] = [500, "internal error"];
    }
    send(r, status, JSON.stringify({ error: message }));
  };

  return (req, res) => {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    const method = req.method ?? "GET";
    // The segments below the prefix, decoded; the first is the project, the rest is matched.
    let segments = path.slice(DATA_PLANE_PREFIX.length).split("/");
    try {
      for (let i = 0; i < segments.length; i++) {
        const seg = segments[i] as string;
        if (seg.includes("%")) segments[i] = decodeURIComponent(seg);
      }
    } catch {
      segments = [];
    }
    const project = segments.shift() ?? "";
    const r: Request = { req, res, method, path, project, answered: false, status: 0, body: undefined, headers: undefined };
    const route = project ? match(method, segments) : undefined;
    if (!route) {
      req.resume();
      return fail(r, new ServingError(404, `no route for ${method} ${path}`));
    }
    if (route.kind !== "infer" && route.kind !== "v1-predict") req.resume();
    try {
      dispatch(r, route)?.catch((e: unknown) => fail(r, e));
    } catch (e) {
      fail(r, e);
    }
  };
}
