/**
 * Helpers for the registry tests: MLflow calls the way the Python client makes them (GET with
 * a query string, other methods with a JSON body, including DELETE), against a real server.
 */
import type { TestServer } from "../support/server.ts";

/** Parsed JSON answers: tests navigate them freely (shapes are what they assert). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

export interface Reply<T = Json> {
  status: number;
  body: T;
  text: string;
}

/** `path` is relative to the MLflow root, e.g. "registered-models/create"; `root` picks the URI form. */
export async function mlflow<T = Json>(
  s: Pick<TestServer, "fetch">,
  method: "GET" | "POST" | "PATCH" | "DELETE",
  path: string,
  input: Record<string, unknown> = {},
  opts: { token?: string | null; root?: string } = {},
): Promise<Reply<T>> {
  const root = opts.root ?? "/api/2.0/mlflow";
  let url = `${root}/${path}`;
  const init: RequestInit & { token?: string | null } = { method };
  if (opts.token !== undefined) init.token = opts.token;
  if (method === "GET") {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(input)) {
      for (const item of Array.isArray(v) ? v : [v]) q.append(k, String(item));
    }
    const qs = q.toString();
    if (qs) url += `?${qs}`;
  } else {
    init.body = JSON.stringify(input);
    init.headers = { "content-type": "application/json" };
  }
  const res = await s.fetch(url, init);
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  return { status: res.status, body: body as T, text };
}

/** Like `mlflow` but throws unless 200. */
export async function ok<T = Json>(...args: Parameters<typeof mlflow>): Promise<T> {
  const r = await mlflow<T>(...args);
  if (r.status !== 200) throw new Error(`${args[1]} ${args[2]} → ${r.status} ${r.text}`);
  return r.body;
}

/** JSON call to the native API. */
export async function native<T = Json>(s: Pick<TestServer, "fetch">, method: string, path: string, body?: unknown, token?: string): Promise<Reply<T>> {
  const res = await s.fetch(path, {
    method,
    ...(token !== undefined ? { token } : {}),
    ...(body !== undefined ? { body: JSON.stringify(body), headers: { "content-type": "application/json" } } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T, text };
}

export interface TestRun {
  readonly runId: string;
  readonly experimentId: string;
  readonly artifactUri: string;
}

/** An experiment (new unless given) and a run in it, through tracking's MLflow API. */
export async function newRun(s: Pick<TestServer, "fetch">, opts: { token?: string | null; root?: string; experimentId?: string; tags?: { key: string; value: string }[] } = {}): Promise<TestRun> {
  const experimentId =
    opts.experimentId ?? (await ok<{ experiment_id: string }>(s, "POST", "experiments/create", { name: `exp-${Math.random().toString(36).slice(2)}` }, opts)).experiment_id;
  const created = await ok<{ run: { info: { run_id: string; artifact_uri: string } } }>(
    s,
    "POST",
    "runs/create",
    { experiment_id: experimentId, start_time: Date.now(), tags: opts.tags ?? [] },
    opts,
  );
  return { runId: created.run.info.run_id, experimentId, artifactUri: created.run.info.artifact_uri };
}
