/**
 * API tokens: 256 random bits, shown once, stored as a SHA-256 hash (a fast hash is
 * enough for secrets of this entropy; see docs/adr/0005-authentication-and-authorization.md),
 * revocable and optionally expiring. A token may be restricted to one project and a role
 * (`scope`, used for pipeline step tokens): it then acts only there, with at most that role,
 * never as a platform admin, and cannot create or revoke tokens.
 *
 * Authentication answers are cached in memory by token hash, so that a request costs no
 * database read (docs/adr/0012-tracking-write-path-and-auth-caches.md). Revoking a token, and
 * changing or deleting its user, through this server evict it at once; changes made by other
 * servers sharing the database take effect within `cacheTtlMs` (AUTH_CACHE_TTL_MS). Expiry is
 * checked on every request.
 */
import { hash, randomBytes, randomUUID } from "node:crypto";
import type { Database } from "../store/database.ts";
import { ConflictError, ForbiddenError, InvalidInputError, NotFoundError, UnauthenticatedError } from "../platform/errors.ts";
import type { ResourceRepository } from "../resources/repository.ts";
import { PROJECT_ROLES, type Principal, type ProjectRole, type TokenScope } from "./principal.ts";

export const TOKEN_PREFIX = "forja_";

export interface TokenInfo {
  id: string;
  user: string;
  name: string;
  prefix: string;
  createdAt: string;
  expiresAt?: string;
  lastUsedAt?: string;
  revokedAt?: string;
  /** Set for a project-scoped token. */
  scope?: TokenScope;
}

export interface CreatedToken extends TokenInfo {
  /** The secret. Returned once, never stored. */
  token: string;
}

export function hashToken(token: string): string {
  // The one-shot hash: a third cheaper than createHash for a short input (every request pays it).
  return hash("sha256", token, "hex");
}

interface UserSpecView {
  admin?: boolean;
  disabled?: boolean;
}

/** How long another server's revocation may go unnoticed here (see the file comment). */
export const AUTH_CACHE_TTL_MS = 5_000;
/** Cached tokens at most (the oldest is dropped first). */
const AUTH_CACHE_MAX = 10_000;
/** The one answer to every failed authentication: it never says which check failed. */
const fail = () => new UnauthenticatedError("invalid, expired or revoked token");

interface CachedPrincipal {
  readonly principal: Principal & { readonly tokenId: string };
  /** Token expiry, epoch ms. */
  readonly expiresAt: number | undefined;
  /** Entry expiry (cacheTtlMs after the lookup), epoch ms. */
  readonly until: number;
}

export class TokenService {
  private readonly lastTouched = new Map<string, number>();
  /** Principals by token hash (never the token itself). */
  private readonly cache = new Map<string, CachedPrincipal>();
  /**
   * Bumped by every eviction: a lookup that read the database before an eviction does not
   * cache what it read, which may be what the eviction was about.
   */
  private generation = 0;

  constructor(
    private readonly database: Database,
    private readonly resources: ResourceRepository,
    private readonly now: () => Date = () => new Date(),
    private readonly cacheTtlMs = AUTH_CACHE_TTL_MS,
  ) {
    // A user disabled, made (or no longer) admin, or deleted: their tokens are looked up afresh.
    resources.watch((e) => {
      if (e.resource.kind === "User" && !e.statusOnly) this.evict((c) => c.principal.name === e.resource.metadata.name);
    });
  }

  async create(
    principal: Principal,
    input: { name: string; user?: string; expiresInSeconds?: number; expiresAt?: string; scope?: TokenScope },
  ): Promise<CreatedToken> {
    // Else a scoped token could mint an unscoped one for its (perhaps admin) user.
    if (principal.scope) throw new ForbiddenError("a project-scoped token cannot create tokens");
    const user = input.user ?? principal.name;
    if (user !== principal.name && !principal.admin) throw new ForbiddenError("only platform admins may create tokens for other users");
    if (!/^[a-zA-Z0-9][a-zA-Z0-9._-]{0,127}$/.test(input.name)) {
      throw InvalidInputError.field("name", "must be 1-128 letters, digits, '.', '_' or '-'");
    }
    if (!(await this.resources.get({ kind: "User", project: "", name: user }))) throw InvalidInputError.field("user", `user "${user}" does not exist`);
    let expiresAt: string | undefined;
    if (input.expiresAt !== undefined) {
      const t = Date.parse(input.expiresAt);
      if (Number.isNaN(t)) throw InvalidInputError.field("expiresAt", "must be an ISO-8601 date-time");
      if (t <= this.now().getTime()) throw InvalidInputError.field("expiresAt", "must be in the future");
      expiresAt = new Date(t).toISOString();
    } else if (input.expiresInSeconds !== undefined) {
      if (!Number.isInteger(input.expiresInSeconds) || input.expiresInSeconds <= 0) {
        throw InvalidInputError.field("expiresInSeconds", "must be a positive integer");
      }
      const at = new Date(this.now().getTime() + input.expiresInSeconds * 1000);
      if (!Number.isFinite(at.getTime())) throw InvalidInputError.field("expiresInSeconds", `is too large (${input.expiresInSeconds}): the expiry must be a date`);
      expiresAt = at.toISOString();
    }
    if (input.scope !== undefined && (!input.scope.project || !PROJECT_ROLES.includes(input.scope.role))) {
      throw InvalidInputError.field("scope", "needs a project and a role (owner, editor or viewer)");
    }
    const token = TOKEN_PREFIX + randomBytes(32).toString("base64url");
    const row = {
      id: randomUUID(),
      user_name: user,
      name: input.name,
      token_hash: hashToken(token),
      prefix: token.slice(0, TOKEN_PREFIX.length + 6),
      created_at: this.now().toISOString(),
      expires_at: expiresAt ?? null,
      last_used_at: null,
      revoked_at: null,
      scope_project: input.scope?.project ?? null,
      scope_role: input.scope?.role ?? null,
    };
    await this.database.transaction(async (tx) => {
      const clash = await tx
        .selectFrom("tokens")
        .select("id")
        .where("user_name", "=", user)
        .where("name", "=", input.name)
        .where("revoked_at", "is", null)
        .executeTakeFirst();
      if (clash) throw new ConflictError(`user "${user}" already has an active token named "${input.name}"; revoke it or choose another name`);
      await tx.insertInto("tokens").values(row).execute();
    });
    return { ...toInfo(row), token };
  }

  async list(principal: Principal, opts: { user?: string; includeRevoked?: boolean } = {}): Promise<TokenInfo[]> {
    const user = opts.user ?? (principal.admin ? undefined : principal.name);
    if (user !== undefined && user !== principal.name && !principal.admin) throw new ForbiddenError("only platform admins may list other users' tokens");
    let q = this.database.db.selectFrom("tokens").selectAll().orderBy("created_at");
    if (user !== undefined) q = q.where("user_name", "=", user);
    if (!opts.includeRevoked) q = q.where("revoked_at", "is", null);
    return (await q.execute()).map(toInfo);
  }

  async revoke(principal: Principal, idOrName: string): Promise<TokenInfo> {
    if (principal.scope) throw new ForbiddenError("a project-scoped token cannot revoke tokens");
    const info = await this.database.transaction(async (tx) => {
      const rows = await tx
        .selectFrom("tokens")
        .selectAll()
        .where((eb) => eb.or([eb("id", "=", idOrName), eb.and([eb("name", "=", idOrName), eb("user_name", "=", principal.name)])]))
        .where("revoked_at", "is", null)
        .execute();
      const row = rows[0];
      if (!row) throw new NotFoundError(`no active token "${idOrName}"`);
      if (row.user_name !== principal.name && !principal.admin) throw new NotFoundError(`no active token "${idOrName}"`);
      const revokedAt = this.now().toISOString();
      await tx.updateTable("tokens").set({ revoked_at: revokedAt }).where("id", "=", row.id).execute();
      return toInfo({ ...row, revoked_at: revokedAt });
    });
    this.evict((c) => c.principal.tokenId === info.id);
    return info;
  }

  /**
   * `authenticate` without waiting, for a hot path: the token's user while its answer is cached,
   * undefined when only `authenticate` can tell (a store read). Throws UnauthenticatedError
   * for what is known to fail without a read.
   */
  authenticateCached(token: string): Principal | undefined {
    if (!token.startsWith(TOKEN_PREFIX) || token.length > 200) throw fail();
    return this.fromCache(hashToken(token), this.now().getTime());
  }

  private fromCache(hash: string, now: number): Principal | undefined {
    const cached = this.cache.get(hash);
    if (!cached || cached.until <= now) return undefined;
    if (cached.expiresAt !== undefined && cached.expiresAt <= now) throw fail();
    this.touch(cached.principal.tokenId, now);
    return cached.principal;
  }

  /** Resolves a bearer token to its user, or throws UnauthenticatedError (never says which check failed). */
  async authenticate(token: string): Promise<Principal> {
    if (!token.startsWith(TOKEN_PREFIX) || token.length > 200) throw fail();
    const hash = hashToken(token);
    const now = this.now().getTime();
    const hit = this.fromCache(hash, now);
    if (hit) return hit;
    const generation = this.generation;
    const row = await this.database.db.selectFrom("tokens").selectAll().where("token_hash", "=", hash).executeTakeFirst();
    const expiresAt = row?.expires_at ? Date.parse(row.expires_at) : undefined;
    if (!row || row.revoked_at || (expiresAt !== undefined && expiresAt <= now)) throw fail();
    const user = await this.resources.get({ kind: "User", project: "", name: row.user_name });
    const spec = user?.spec as UserSpecView | undefined;
    if (!user || !spec || spec.disabled) throw fail();
    // A token older than its user belongs to a deleted user of the same name: never revive it.
    if (Date.parse(row.created_at) < Date.parse(user.metadata.createdAt)) throw fail();
    this.touch(row.id, now);
    // Frozen: every request authenticated by this token shares it while it is cached.
    const admin = spec.admin === true;
    const principal: Principal & { readonly tokenId: string } = Object.freeze(
      row.scope_project !== null && row.scope_role !== null
        ? { kind: "user", name: row.user_name, admin: false, tokenId: row.id, scope: Object.freeze({ project: row.scope_project, role: row.scope_role, userAdmin: admin }) }
        : { kind: "user", name: row.user_name, admin, tokenId: row.id },
    );
    if (generation === this.generation) {
      this.cache.delete(hash);
      if (this.cache.size >= AUTH_CACHE_MAX) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(hash, { principal, expiresAt, until: now + this.cacheTtlMs });
    }
    return principal;
  }

  /** Drops cached principals (and invalidates lookups in flight). */
  private evict(match: (c: CachedPrincipal) => boolean): void {
    this.generation++;
    for (const [hash, c] of this.cache) if (match(c)) this.cache.delete(hash);
  }

  /** Records last use at most once a minute per token, off the request path. */
  private touch(id: string, now: number): void {
    const last = this.lastTouched.get(id) ?? 0;
    if (now - last < 60_000) return;
    this.lastTouched.set(id, now);
    this.database.db
      .updateTable("tokens")
      .set({ last_used_at: new Date(now).toISOString() })
      .where("id", "=", id)
      .execute()
      .catch(() => undefined);
  }
}

function toInfo(row: {
  id: string;
  user_name: string;
  name: string;
  prefix: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
  scope_project: string | null;
  scope_role: ProjectRole | null;
}): TokenInfo {
  return {
    id: row.id,
    user: row.user_name,
    name: row.name,
    prefix: row.prefix,
    createdAt: row.created_at,
    ...(row.expires_at ? { expiresAt: row.expires_at } : {}),
    ...(row.last_used_at ? { lastUsedAt: row.last_used_at } : {}),
    ...(row.revoked_at ? { revokedAt: row.revoked_at } : {}),
    ...(row.scope_project !== null && row.scope_role !== null ? { scope: { project: row.scope_project, role: row.scope_role } } : {}),
  };
}
