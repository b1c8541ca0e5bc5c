/** A tiny MLflow REST client for tests: exact status and JSON body of each call. */
import type { TestDatabase } from "../support/databases.ts";
import type { TestServer } from "../support/server.ts";

export interface Res {
  status: number;
  body: Record<string, unknown>;
  text: string;
}

export interface MlflowTestClient {
  get(path: string, query?: Record<string, string | number | string[]>): Promise<Res>;
  post(path: string, body?: unknown): Promise<Res>;
  /** Throws unless 200; returns the body. */
  ok(method: "GET" | "POST", path: string, bodyOrQuery?: Record<string, unknown>): Promise<Record<string, unknown>>;
}

export function dbUrl(db: TestDatabase): string {
  return db.engine === "sqlite" ? `sqlite:${db.filename}` : db.url;
}

export function mlflowClient(server: TestServer, opts: { token?: string | null; base?: string } = {}): MlflowTestClient {
  const base = opts.base ?? "/api/2.0/mlflow";
  const headers = (): Record<string, string> => (opts.token === null ? {} : { authorization: `Bearer ${opts.token ?? server.adminToken}` });
  const parse = async (r: Response): Promise<Res> => {
    const text = await r.text();
    let body: Record<string, unknown> = {};
    try {
      body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      body = {};
    }
    return { status: r.status, body, text };
  };
  const client: MlflowTestClient = {
    async get(path, query = {}) {
      const qs = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) for (const x of Array.isArray(v) ? v : [v]) qs.append(k, String(x));
      return parse(await fetch(`${server.url}${base}/${path}${qs.size ? `?${qs.toString()}` : ""}`, { headers: headers() }));
    },
    async post(path, body = {}) {
      return parse(await fetch(`${server.url}${base}/${path}`, { method: "POST", headers: { ...headers(), "content-type": "application/json" }, body: JSON.stringify(body) }));
    },
    async ok(method, path, arg = {}) {
      const r = method === "GET" ? await client.get(path, arg as Record<string, string>) : await client.post(path, arg);
      if (r.status !== 200) throw new Error(`${method} ${path} → ${r.status} ${r.text}`);
      return r.body;
    },
  };
  return client;
}
