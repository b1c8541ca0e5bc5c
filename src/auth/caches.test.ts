/**
 * The authentication and membership caches (docs/adr/0012-tracking-write-path-and-auth-caches.md):
 * changes made through this process evict at once; changes made by another server sharing the
 * database (simulated by writing the database directly, or through a second repository whose
 * events this process does not see) take effect within AUTH_CACHE_TTL_MS.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ForbiddenError, UnauthenticatedError } from "../platform/errors.ts";
import { ResourceRepository } from "../resources/repository.ts";
import { openDatabase, type Database } from "../store/database.ts";
import { coreMigrations, migrate } from "../store/migrations.ts";
import { Authorizer } from "./authorizer.ts";
import { SYSTEM, type Principal } from "./principal.ts";
import { AUTH_CACHE_TTL_MS, TokenService } from "./tokens.ts";

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection");
}

describe("auth caches", () => {
  let dir: string;
  let database: Database;
  let repo: ResourceRepository;
  let tokens: TokenService;
  let authz: Authorizer;
  let now: number;
  const ada: Principal = { kind: "user", name: "ada", admin: false };
  const members = (list: { user: string; role: string }[]) => ({ spec: { members: list } });

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "forja-auth-cache-"));
    database = openDatabase({ url: `sqlite:${join(dir, "forja.db")}` });
    await migrate(database, coreMigrations());
    now = Date.parse("2024-05-01T10:00:00Z");
    const clock = () => new Date(now);
    repo = new ResourceRepository(database, clock);
    tokens = new TokenService(database, repo, clock);
    authz = new Authorizer(repo, { selfServiceProjects: true, now: () => now });
    await repo.create({ kind: "User", project: "", name: "ada", spec: { admin: false, disabled: false }, status: {} });
    await repo.create({ kind: "Project", project: "", name: "p", ...members([{ user: "ada", role: "editor" }]), status: {} });
  });
  afterEach(async () => {
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a token revoked by another server keeps working here until its cache entry expires", async () => {
    const t = await tokens.create(SYSTEM, { name: "ci", user: "ada" });
    expect((await tokens.authenticate(t.token)).name).toBe("ada");
    await database.db.updateTable("tokens").set({ revoked_at: new Date(now).toISOString() }).where("id", "=", t.id).execute();
    now += AUTH_CACHE_TTL_MS - 1;
    expect((await tokens.authenticate(t.token)).name).toBe("ada");
    now += 1;
    expect(await rejection(tokens.authenticate(t.token))).toBeInstanceOf(UnauthenticatedError);
  });

  it("a token revoked, or a user disabled, through this server is refused at once", async () => {
    const t = await tokens.create(SYSTEM, { name: "ci", user: "ada" });
    const u = await tokens.create(SYSTEM, { name: "other", user: "ada" });
    await tokens.authenticate(t.token);
    await tokens.authenticate(u.token);
    await tokens.revoke(SYSTEM, t.id);
    expect(await rejection(tokens.authenticate(t.token))).toBeInstanceOf(UnauthenticatedError);
    expect((await tokens.authenticate(u.token)).name).toBe("ada");
    await repo.update({ kind: "User", project: "", name: "ada" }, { spec: { admin: false, disabled: true } });
    expect(await rejection(tokens.authenticate(u.token))).toBeInstanceOf(UnauthenticatedError);
  });

  it("an expired token is refused even while cached", async () => {
    const t = await tokens.create(SYSTEM, { name: "short", user: "ada", expiresInSeconds: 1 });
    await tokens.authenticate(t.token);
    now += 1000;
    expect(await rejection(tokens.authenticate(t.token))).toBeInstanceOf(UnauthenticatedError);
  });

  it("a membership changed through this server applies at once; by another server, within the TTL", async () => {
    await authz.check(ada, "update", "Run", "p");
    await repo.update({ kind: "Project", project: "", name: "p" }, members([{ user: "ada", role: "viewer" }]));
    expect(await rejection(authz.check(ada, "update", "Run", "p"))).toBeInstanceOf(ForbiddenError);
    await authz.check(ada, "get", "Run", "p");

    const otherServer = new ResourceRepository(database, () => new Date(now));
    await otherServer.update({ kind: "Project", project: "", name: "p" }, members([]));
    now += AUTH_CACHE_TTL_MS - 1;
    await authz.check(ada, "get", "Run", "p");
    now += 1;
    expect(await rejection(authz.check(ada, "get", "Run", "p"))).toBeInstanceOf(ForbiddenError);
  });

  it("a project created after a lookup found none is seen at once", async () => {
    expect(await authz.roleIn(ada, "q")).toBeUndefined();
    await repo.create({ kind: "Project", project: "", name: "q", ...members([{ user: "ada", role: "owner" }]), status: {} });
    expect(await authz.roleIn(ada, "q")).toBe("owner");
  });
});
