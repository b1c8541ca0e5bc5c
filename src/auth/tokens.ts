/**
 * API tokens: 256 random bits, shown once, stored as a SHA-256 hash (a fast hash is
 * enough for secrets of this entropy; see docs/adr/0006-authentication.md), revocable and
 * optionally expiring.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { Database } from "../store/database.ts";
import { ConflictError, ForbiddenError, InvalidInputError, NotFoundError, UnauthenticatedError } from "../platform/errors.ts";
import type { ResourceRepository } from "../resources/repository.ts";
import type { Principal } from "./principal.ts";

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
}

export interface CreatedToken extends TokenInfo {
  /** The secret. Returned once, never stored. */
  token: string;
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

interface UserSpecView {
  admin?: boolean;
  disabled?: boolean;
}

export class TokenService {
  private readonly lastTouched = new Map<string, number>();

  constructor(
    private readonly database: Database,
    private readonly resources: ResourceRepository,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async create(
    principal: Principal,
    input: { name: string; user?: string; expiresInSeconds?: number; expiresAt?: string },
  ): Promise<CreatedToken> {
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
      expiresAt = new Date(this.now().getTime() + input.expiresInSeconds * 1000).toISOString();
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
    return this.database.transaction(async (tx) => {
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
  }

  /** Resolves a bearer token to its user, or throws UnauthenticatedError (never says which check failed). */
  async authenticate(token: string): Promise<Principal> {
    const fail = () => new UnauthenticatedError("invalid, expired or revoked token");
    if (!token.startsWith(TOKEN_PREFIX) || token.length > 200) throw fail();
    const row = await this.database.db.selectFrom("tokens").selectAll().where("token_hash", "=", hashToken(token)).executeTakeFirst();
    const now = this.now();
    if (!row || row.revoked_at || (row.expires_at && Date.parse(row.expires_at) <= now.getTime())) throw fail();
    const user = await this.resources.get({ kind: "User", project: "", name: row.user_name });
    const spec = user?.spec as UserSpecView | undefined;
    if (!user || !spec || spec.disabled) throw fail();
    // A token older than its user belongs to a deleted user of the same name: never revive it.
    if (Date.parse(row.created_at) < Date.parse(user.metadata.createdAt)) throw fail();
    this.touch(row.id, now);
    return { kind: "user", name: row.user_name, admin: spec.admin === true, tokenId: row.id };
  }

  /** Records last use at most once a minute per token, off the request path. */
  private touch(id: string, now: Date): void {
    const last = this.lastTouched.get(id) ?? 0;
    if (now.getTime() - last < 60_000) return;
    this.lastTouched.set(id, now.getTime());
    this.database.db
      .updateTable("tokens")
      .set({ last_used_at: now.toISOString() })
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
  };
}
