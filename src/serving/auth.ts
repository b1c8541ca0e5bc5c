/**
 * Who may call a deployment: a platform token of a project member (viewer or more), or a
 * deployment key (`fsk_…`, created through the API, shown once, stored as SHA-256). Neither
 * costs a database read on the inference path once warm: platform tokens go through the
 * platform's own caches (TokenService, Authorizer — evicted at once on revocation and role
 * changes through this server, ADR 0012); keys are cached here for `keyTtlMs`, and revoking a
 * key through this server drops it from the cache at once.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { Authorizer } from "../auth/authorizer.ts";
import type { Principal } from "../auth/principal.ts";
import type { TokenService } from "../auth/tokens.ts";
import { ConflictError, ForbiddenError, InvalidInputError, NotFoundError, UnauthenticatedError } from "../platform/errors.ts";
import type { Database } from "../store/database.ts";
import { ServingError } from "./tensors.ts";

export const KEY_PREFIX = "fsk_";

export interface KeyInfo {
  id: string;
  name: string;
  prefix: string;
  createdAt: string;
  revokedAt?: string;
}

type Cached =
  | { readonly until: number; readonly credential: string; readonly project: string; readonly deployment?: string }
  | { readonly until: number; readonly status: number; readonly message: string };

const hash = (s: string) => createHash("sha256").update(s).digest("hex");

const tokenCredential = (p: Principal) => `token:${p.tokenId ?? p.name}`;

/** The secret of a `Bearer` Authorization header, if it is one. */
function bearerSecret(authorization: string): string | undefined {
  const space = authorization.indexOf(" ");
  if (space <= 0 || authorization.slice(0, space).toLowerCase() !== "bearer") return undefined;
  return authorization.slice(space + 1).trim() || undefined;
}

/** The secret of a `Bearer` Authorization header, or a ServingError 401. */
function secretOf(authorization: string | undefined): string {
  if (!authorization) throw new ServingError(401, "missing Authorization header: send 'Authorization: Bearer <token or deployment key>'");
  const secret = bearerSecret(authorization);
  if (!secret) throw new ServingError(401, "unsupported Authorization header: use 'Bearer <token or deployment key>'");
  return secret;
}

/** The caller's credential id if `c` allows calling `deployment` in `project`, else a ServingError. */
function verdict(c: Cached, project: string, deployment: string): string {
  if ("status" in c) throw new ServingError(c.status, c.message);
  if (c.project !== project) throw new ServingError(403, `this key belongs to a deployment of project "${c.project}", not "${project}"`);
  if (c.deployment !== undefined && c.deployment !== deployment) {
    throw new ServingError(403, `this key belongs to deployment "${c.deployment}", not "${deployment}"`);
  }
  return c.credential;
}

export class InferenceAuth {
  private cache = new Map<string, Cached>();

  constructor(
    private readonly deps: { database: Database; tokens: TokenService; authz: Authorizer },
    private readonly opts: { keyTtlMs: number } = { keyTtlMs: 30_000 },
  ) {}

  /**
   * The credential id (for rate limiting) of the caller allowed to call `deployment` in `project`,
   * or a ServingError 401/403.
   */
  async check(authorization: string | undefined, project: string, deployment: string): Promise<string> {
    const secret = secretOf(authorization);
    const now = Date.now();
    let c: Cached | undefined;
    if (secret.startsWith(KEY_PREFIX)) {
      c = this.cache.get(secret);
      if (!c || c.until <= now) {
        c = await this.lookupKey(secret, now);
        if (this.cache.size > 50_000) this.cache = new Map();
        this.cache.set(secret, c);
      }
    } else c = await this.lookupToken(secret, project, now);
    return verdict(c, project, deployment);
  }

  /**
   * `check` without waiting, for the inference path: the credential id when the caches alone
   * allow the call (a warm key or platform token), undefined when `check` must decide (a store
   * read, or an error to explain).
   */
  checkCached(authorization: string | undefined, project: string, deployment: string): string | undefined {
    const secret = authorization && bearerSecret(authorization);
    if (!secret) return undefined;
    try {
      if (secret.startsWith(KEY_PREFIX)) {
        const c = this.cache.get(secret);
        return c && c.until > Date.now() ? verdict(c, project, deployment) : undefined;
      }
      const principal = this.deps.tokens.authenticateCached(secret);
      return principal && this.deps.authz.allowsCached(principal, "get", project) ? tokenCredential(principal) : undefined;
    } catch {
      return undefined; // a refusal: check() words it
    }
  }

  private async lookupKey(key: string, now: number): Promise<Cached> {
    const row = await this.deps.database.db
      .selectFrom("serving_keys")
      .select(["id", "project", "deployment", "revoked_at"])
      .where("key_hash", "=", hash(key))
      .executeTakeFirst();
    const until = now + this.opts.keyTtlMs;
    if (!row || row.revoked_at) return { until, status: 401, message: "invalid or revoked deployment key" };
    return { until, credential: `key:${row.id}`, project: row.project, deployment: row.deployment };
  }

  private async lookupToken(token: string, project: string, now: number): Promise<Cached> {
    const until = now;
    try {
      const principal = await this.deps.tokens.authenticate(token);
      await this.deps.authz.check(principal, "get", "Deployment", project);
      return { until, credential: tokenCredential(principal), project };
    } catch (e) {
      if (e instanceof UnauthenticatedError) return { until, status: 401, message: e.message };
      if (e instanceof ForbiddenError) return { until, status: 403, message: e.message };
      throw e;
    }
  }

  // ---- keys -------------------------------------------------------------------------------

  async createKey(project: string, deployment: string, name: string): Promise<KeyInfo & { key: string }> {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9._-]{0,127}$/.test(name)) throw InvalidInputError.field("name", "must be 1-128 letters, digits, '.', '_' or '-'");
    const key = KEY_PREFIX + randomBytes(32).toString("base64url");
    const row = {
      id: randomUUID(),
      project,
      deployment,
      name,
      key_hash: hash(key),
      prefix: key.slice(0, KEY_PREFIX.length + 6),
      created_at: new Date().toISOString(),
      revoked_at: null,
    };
    await this.deps.database.transaction(async (tx) => {
      const clash = await tx
        .selectFrom("serving_keys")
        .select("id")
        .where("project", "=", project)
        .where("deployment", "=", deployment)
        .where("name", "=", name)
        .where("revoked_at", "is", null)
        .executeTakeFirst();
      if (clash) throw new ConflictError(`deployment "${deployment}" already has an active key named "${name}"; revoke it or choose another name`);
      await tx.insertInto("serving_keys").values(row).execute();
    });
    return { id: row.id, name, prefix: row.prefix, createdAt: row.created_at, key };
  }

  async listKeys(project: string, deployment: string): Promise<KeyInfo[]> {
    const rows = await this.deps.database.db
      .selectFrom("serving_keys")
      .selectAll()
      .where("project", "=", project)
      .where("deployment", "=", deployment)
      .orderBy("created_at")
      .execute();
    return rows.map((r) => ({ id: r.id, name: r.name, prefix: r.prefix, createdAt: r.created_at, ...(r.revoked_at ? { revokedAt: r.revoked_at } : {}) }));
  }

  /** Revokes by id or name; the key stops working at once on this server. */
  async revokeKey(project: string, deployment: string, idOrName: string): Promise<KeyInfo> {
    const db = this.deps.database.db;
    const row = await db
      .selectFrom("serving_keys")
      .selectAll()
      .where("project", "=", project)
      .where("deployment", "=", deployment)
      .where("revoked_at", "is", null)
      .where((eb) => eb.or([eb("id", "=", idOrName), eb("name", "=", idOrName)]))
      .executeTakeFirst();
    if (!row) throw new NotFoundError(`deployment "${deployment}" has no active key "${idOrName}"`);
    const revokedAt = new Date().toISOString();
    await db.updateTable("serving_keys").set({ revoked_at: revokedAt }).where("id", "=", row.id).execute();
    // Cached by secret, which we do not have: drop every entry of this key.
    for (const [k, c] of this.cache) if ("credential" in c && c.credential === `key:${row.id}`) this.cache.delete(k);
    return { id: row.id, name: row.name, prefix: row.prefix, createdAt: row.created_at, revokedAt };
  }

  /** Drops keys of a deleted deployment. */
  async deleteKeys(project: string, deployment: string): Promise<void> {
    await this.deps.database.db.deleteFrom("serving_keys").where("project", "=", project).where("deployment", "=", deployment).execute();
    for (const [k, c] of this.cache) if ("deployment" in c && c.project === project && c.deployment === deployment) this.cache.delete(k);
  }
}
