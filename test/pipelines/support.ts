/**
 * Helpers for the pipeline integration tests: apply pipelines, start runs and wait for them
 * through the real HTTP API, and look at the processes the steps started.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parse } from "yaml";
import type { NodeStatus, PipelineRunSpec, PipelineRunStatus } from "../../src/pipelines/kinds.ts";
import type { Resource } from "../../src/resources/model.ts";

export const REPO = resolve(import.meta.dirname, "../..");
export const EXAMPLES = join(REPO, "examples/pipelines");
export const PROJECT = "default";

export type Run = Resource<PipelineRunSpec, PipelineRunStatus>;

/** What the tests need of a server: an authenticated fetch relative to its URL. */
export interface Api {
  fetch(path: string, init?: RequestInit & { token?: string | null }): Promise<Response>;
}

// Replies are arbitrary JSON that assertions dig into; typed callers pass T.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface Reply<T = any> {
  status: number;
  body: T;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function call<T = any>(s: Api, method: string, path: string, body?: unknown): Promise<Reply<T>> {
  const res = await s.fetch(path, {
    method,
    ...(body !== undefined ? { body: JSON.stringify(body), headers: { "content-type": "application/json" } } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** A Pipeline manifest in the test project. */
export function pipeline(name: string, spec: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: "forja.dev/v1", kind: "Pipeline", metadata: { name, project: PROJECT }, spec };
}

/** Applies manifests (objects or YAML text); returns the raw reply (tests check the 400s). */
export async function apply(s: Api, docs: Record<string, unknown>[] | string): Promise<Reply> {
  if (typeof docs !== "string") return call(s, "POST", "/api/v1/apply", docs);
  const res = await s.fetch("/api/v1/apply", { method: "POST", body: docs, headers: { "content-type": "application/yaml" } });
  return { status: res.status, body: await res.json() };
}

export async function applyOk(s: Api, docs: Record<string, unknown>[] | string): Promise<void> {
  const r = await apply(s, docs);
  if (r.status !== 200) throw new Error(`apply failed (${r.status}): ${JSON.stringify(r.body)}`);
}

/** The example pipelines as manifests, with the test project filled in. */
export function example(file: string): Record<string, unknown> {
  const doc = parse(readFileSync(join(EXAMPLES, file), "utf8")) as { metadata: Record<string, unknown> };
  doc.metadata.project = PROJECT;
  return doc;
}

export const runPath = (name: string) => `/api/v1/projects/${PROJECT}/pipelineruns/${name}`;

export async function startRun(
  s: Api,
  pipelineName: string,
  body: { params?: Record<string, unknown>; cache?: boolean; timeoutSeconds?: number; name?: string } = {},
): Promise<Run> {
  const r = await call<Run>(s, "POST", `/api/v1/projects/${PROJECT}/pipelines/${pipelineName}/runs`, body);
  if (r.status !== 201) throw new Error(`start run failed (${r.status}): ${JSON.stringify(r.body)}`);
  return r.body;
}

export async function getRun(s: Api, name: string): Promise<Run> {
  const r = await call<Run>(s, "GET", runPath(name));
  if (r.status !== 200) throw new Error(`get run ${name} failed (${r.status}): ${JSON.stringify(r.body)}`);
  return r.body;
}

const TERMINAL = new Set(["Succeeded", "Failed", "Cancelled"]);
export const isTerminal = (run: Run) => TERMINAL.has(run.status.phase);

/** Polls the run until `until` holds (default: it ended and any requested retry was picked up). */
export async function waitRun(s: Api, name: string, opts: { timeoutMs?: number; until?: (run: Run) => boolean } = {}): Promise<Run> {
  const until = opts.until ?? ((r: Run) => isTerminal(r) && (r.status.observedRetry ?? 0) >= r.spec.retry);
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  let last: Run | undefined;
  while (Date.now() < deadline) {
    try {
      last = await getRun(s, name);
      if (until(last)) return last;
    } catch (e) {
      // The server may be restarting (crash tests): keep polling until the deadline.
      if (!(e instanceof TypeError)) throw e;
    }
    await sleep(100);
  }
  throw new Error(`run ${name} did not reach the expected state within ${opts.timeoutMs ?? 20_000} ms; last status:\n${JSON.stringify(last?.status, null, 2)}`);
}

/** Polls `check` until it returns a value other than undefined/false. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function node(run: Run, id: string): NodeStatus {
  const n = run.status.nodes[id];
  if (!n) throw new Error(`run ${run.metadata.name} has no node "${id}" (nodes: ${Object.keys(run.status.nodes).join(", ")})`);
  return n;
}

/** Node phases (with the reason and message of those that did not succeed): for assertion messages. */
export function phases(run: Run): Record<string, string> {
  return Object.fromEntries(
    Object.entries(run.status.nodes).map(([id, n]) => [id, n.phase === "Succeeded" ? n.phase : [n.phase, n.reason, n.message].filter(Boolean).join(": ")]),
  );
}

/** Whether a process exists (a zombie counts as gone: it is no longer running anything). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** Reads the text of a run's logs (optionally of one step). */
export async function logs(s: Api, run: string, query = ""): Promise<Reply<string>> {
  const res = await s.fetch(`${runPath(run)}/logs${query}`);
  return { status: res.status, body: await res.text() };
}
