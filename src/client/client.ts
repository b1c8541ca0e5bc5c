/**
 * The typed API client. The CLI uses it (and only it) to talk to the server; the web UI
 * will too. Types come from the same modules that define the server's schemas.
 */
import type { Static } from "@sinclair/typebox";
import { ErrorCode, ForjaError, type FieldIssue } from "../platform/errors.ts";
import type { CreatedToken, TokenInfo } from "../auth/tokens.ts";
import type { KindDefinition, PrintColumn } from "../resources/kinds.ts";
import type { Resource, Scope } from "../resources/model.ts";
import type { ApplyAction } from "../resources/service.ts";

/** An error answered by the server (or the connection), with the server's code and field details. */
export class ApiError extends ForjaError {
  readonly code: ErrorCode;
  constructor(
    code: ErrorCode,
    message: string,
    readonly status: number,
    details: readonly FieldIssue[] = [],
  ) {
    super(message, details);
    this.code = code;
  }
}

export interface KindInfo {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  scope: Scope;
  description: string;
  columns: PrintColumn[];
  userWritable: boolean;
}

export interface ListOptions {
  project?: string;
  labelSelector?: string;
  limit?: number;
  continue?: string;
}

export interface ResourceList<R = Resource> {
  items: R[];
  metadata: { continue?: string };
}

export interface WhoAmI {
  user: string;
  admin: boolean;
  projects: { name: string; role: string }[];
}

export type Typed<K extends KindDefinition> = Resource<Static<K["spec"]>, Static<K["status"]>>;

export interface ClientOptions {
  readonly server: string;
  readonly token?: string;
  readonly fetch?: typeof fetch;
  readonly timeoutMs?: number;
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** Raw body (e.g. YAML text) sent with this Content-Type. */
  rawBody?: { contentType: string; data: string | Uint8Array };
  signal?: AbortSignal;
}

export class ForjaClient {
  readonly server: string;
  private readonly token: string | undefined;
  private readonly fetchImpl: typeof fetch;
  private readonly timeoutMs: number;
  private kindsCache: KindInfo[] | undefined;

  constructor(options: ClientOptions) {
    this.server = options.server.replace(/\/+$/, "");
    this.token = options.token;
    this.fetchImpl = options.fetch ?? fetch;
    this.timeoutMs = options.timeoutMs ?? 60_000;
  }

  /** Low-level call; throws ApiError for any non-2xx answer or connection failure. */
  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.raw(method, path, opts);
    const text = await res.text();
    if (!text) return undefined as T;
    return JSON.parse(text) as T;
  }

  /** Like request, but returns the Response (for streams). */
  async raw(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let body: string | Uint8Array | undefined;
    if (opts.rawBody) {
      headers["content-type"] = opts.rawBody.contentType;
      body = opts.rawBody.data;
    } else if (opts.body !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(opts.body);
    }
    const signal = opts.signal ?? AbortSignal.timeout(this.timeoutMs);
    let res: Response;
    try {
      res = await this.fetchImpl(url, { method, headers, body, signal });
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause?.code;
      throw new ApiError(ErrorCode.Unavailable, `cannot reach ${this.server}${cause ? ` (${cause})` : ""}: is the server running? (forja up)`, 0);
    }
    if (res.ok) return res;
    const text = await res.text();
    let parsed: { error?: { code?: string; message?: string; details?: FieldIssue[] } } | undefined;
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      /* not JSON */
    }
    const code = (parsed?.error?.code && parsed.error.code in ErrorCode ? parsed.error.code : codeForStatus(res.status)) as ErrorCode;
    throw new ApiError(code, parsed?.error?.message ?? (text.slice(0, 200) || `HTTP ${res.status}`), res.status, parsed?.error?.details ?? []);
  }

  // ---- discovery -------------------------------------------------------------------------
  async kinds(): Promise<KindInfo[]> {
    this.kindsCache ??= (await this.request<{ items: KindInfo[] }>("GET", "/api/v1/kinds")).items;
    return this.kindsCache;
  }

  /** Resolves "pipelineruns", "pipelinerun", "PipelineRun" or a short name. */
  async resolveKind(name: string): Promise<KindInfo> {
    const n = name.toLowerCase();
    const all = await this.kinds();
    const k = all.find((k) => k.kind.toLowerCase() === n || k.plural === n || k.singular === n || k.shortNames.includes(n));
    if (!k) throw new ApiError(ErrorCode.InvalidInput, `unknown resource type "${name}"; known: ${all.map((k) => k.plural).join(", ")}`, 0);
    return k;
  }

  // ---- resources -------------------------------------------------------------------------
  private collectionPath(k: KindInfo, project?: string): string {
    if (k.scope === "Cluster") return `/api/v1/${k.plural}`;
    return project ? `/api/v1/projects/${encodeURIComponent(project)}/${k.plural}` : `/api/v1/${k.plural}`;
  }
  private memberPath(k: KindInfo, name: string, project?: string): string {
    if (k.scope === "Project" && !project) throw new ApiError(ErrorCode.InvalidInput, `${k.kind} lives in a project: pass --project`, 0);
    return `${this.collectionPath(k, project)}/${encodeURIComponent(name)}`;
  }

  async list(kind: string, opts: ListOptions = {}): Promise<ResourceList> {
    const k = await this.resolveKind(kind);
    return this.request<ResourceList>("GET", this.collectionPath(k, opts.project), {
      query: { labelSelector: opts.labelSelector, limit: opts.limit, continue: opts.continue },
    });
  }

  /** Every item, following pages. */
  async listAll(kind: string, opts: Omit<ListOptions, "continue" | "limit"> = {}): Promise<Resource[]> {
    const out: Resource[] = [];
    let token: string | undefined;
    do {
      const page = await this.list(kind, { ...opts, limit: 500, ...(token ? { continue: token } : {}) });
      out.push(...page.items);
      token = page.metadata.continue;
    } while (token);
    return out;
  }

  async get<R = Resource>(kind: string, name: string, project?: string): Promise<R> {
    const k = await this.resolveKind(kind);
    return this.request<R>("GET", this.memberPath(k, name, project));
  }

  async getTyped<K extends KindDefinition>(def: K, name: string, project?: string): Promise<Typed<K>> {
    return this.get<Typed<K>>(def.kind, name, project);
  }

  async create<R = Resource>(doc: { kind: string; metadata: { project?: string } }): Promise<R> {
    const k = await this.resolveKind(doc.kind);
    return this.request<R>("POST", this.collectionPath(k, doc.metadata.project), { body: doc });
  }

  async update<R = Resource>(doc: { kind: string; metadata: { name: string; project?: string } }): Promise<R> {
    const k = await this.resolveKind(doc.kind);
    return this.request<R>("PUT", this.memberPath(k, doc.metadata.name, doc.metadata.project), { body: doc });
  }

  async delete(kind: string, name: string, project?: string): Promise<Resource> {
    const k = await this.resolveKind(kind);
    return this.request<Resource>("DELETE", this.memberPath(k, name, project));
  }

  async apply(docs: unknown[] | { yaml: string }): Promise<{ items: { action: ApplyAction; resource: Resource }[] }> {
    if (Array.isArray(docs)) return this.request("POST", "/api/v1/apply", { body: docs });
    return this.request("POST", "/api/v1/apply", { rawBody: { contentType: "application/yaml", data: docs.yaml } });
  }

  // ---- identity & tokens ---------------------------------------------------------------------
  whoami(): Promise<WhoAmI> {
    return this.request("GET", "/api/v1/whoami");
  }
  createToken(input: { name: string; user?: string; expiresInSeconds?: number; expiresAt?: string }): Promise<CreatedToken> {
    return this.request("POST", "/api/v1/tokens", { body: input });
  }
  async listTokens(opts: { user?: string; includeRevoked?: boolean } = {}): Promise<TokenInfo[]> {
    return (await this.request<{ items: TokenInfo[] }>("GET", "/api/v1/tokens", { query: opts })).items;
  }
  revokeToken(idOrName: string): Promise<TokenInfo> {
    return this.request("DELETE", `/api/v1/tokens/${encodeURIComponent(idOrName)}`);
  }
}

function codeForStatus(status: number): ErrorCode {
  if (status === 400 || status === 415 || status === 422) return ErrorCode.InvalidInput;
  if (status === 401) return ErrorCode.Unauthenticated;
  if (status === 403) return ErrorCode.Forbidden;
  if (status === 404) return ErrorCode.NotFound;
  if (status === 409) return ErrorCode.Conflict;
  if (status === 413) return ErrorCode.PayloadTooLarge;
  if (status === 503) return ErrorCode.Unavailable;
  return ErrorCode.Internal;
}
