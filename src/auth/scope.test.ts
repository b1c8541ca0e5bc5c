/**
 * Project-scoped tokens (pipeline step tokens, docs/adr/0015-pipeline-run-identity-and-step-tokens.md):
 * they act only in their project, with their user's role there capped at the scope's role,
 * never as a platform admin, and cannot mint or revoke tokens.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ForbiddenError } from "../platform/errors.ts";
import { ResourceRepository } from "../resources/repository.ts";
import { openDatabase, type Database } from "../store/database.ts";
import { coreMigrations, migrate } from "../store/migrations.ts";
import { Authorizer } from "./authorizer.ts";
import { SYSTEM } from "./principal.ts";
import { TokenService } from "./tokens.ts";

describe("project-scoped tokens", () => {
  let dir: string;
  let database: Database;
  let tokens: TokenService;
  let authz: Authorizer;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "forja-auth-scope-"));
    database = openDatabase({ url: `sqlite:${join(dir, "forja.db")}` });
    await migrate(database, coreMigrations());
    const repo = new ResourceRepository(database);
    tokens = new TokenService(database, repo);
    authz = new Authorizer(repo, { selfServiceProjects: true });
    await repo.create({ kind: "User", project: "", name: "root", spec: { admin: true, disabled: false }, status: {} });
    await repo.create({ kind: "User", project: "", name: "vic", spec: { admin: false, disabled: false }, status: {} });
    for (const name of ["p", "q"]) await repo.create({ kind: "Project", project: "", name, spec: { members: [{ user: "vic", role: "viewer" }] }, status: {} });
  });
  afterEach(async () => {
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("an admin's token scoped to p as editor: editor in p, nothing elsewhere, not an admin", async () => {
    const t = await tokens.create(SYSTEM, { name: "step", user: "root", scope: { project: "p", role: "editor" } });
    expect(t.scope).toEqual({ project: "p", role: "editor" });
    const p = await authz.roleIn(await tokens.authenticate(t.token), "p"); // warms the member cache too
    expect(p).toBe("editor");
    const me = await tokens.authenticate(t.token);
    expect(me.admin).toBe(false);
    expect(await authz.roleIn(me, "q")).toBeUndefined();
    expect(await authz.readableProjects(me)).toEqual(["p"]);
    await authz.check(me, "update", "Run", "p");
    await expect(authz.check(me, "get", "Run", "q")).rejects.toBeInstanceOf(ForbiddenError);
    await expect(authz.check(me, "delete", "Project", "", "p")).rejects.toBeInstanceOf(ForbiddenError);
    await expect(authz.check(me, "create", "User", "")).rejects.toBeInstanceOf(ForbiddenError);
    expect(authz.allowsCached(me, "update", "p")).toBe(true);
    expect(authz.allowsCached(me, "get", "q")).toBeUndefined();
  });

  it("the cap never raises a role: a viewer's editor-scoped token still only reads", async () => {
    const me = await tokens.authenticate((await tokens.create(SYSTEM, { name: "step", user: "vic", scope: { project: "p", role: "editor" } })).token);
    expect(await authz.roleIn(me, "p")).toBe("viewer");
    await expect(authz.check(me, "update", "Run", "p")).rejects.toBeInstanceOf(ForbiddenError);
    expect(authz.allowsCached(me, "update", "p")).toBeUndefined();
    expect(await authz.roleIn(me, "q")).toBeUndefined();
  });

  it("a scoped token cannot create or revoke tokens", async () => {
    const t = await tokens.create(SYSTEM, { name: "step", user: "root", scope: { project: "p", role: "editor" } });
    const other = await tokens.create(SYSTEM, { name: "cli", user: "root" });
    const me = await tokens.authenticate(t.token);
    await expect(tokens.create(me, { name: "escape" })).rejects.toBeInstanceOf(ForbiddenError);
    await expect(tokens.revoke(me, other.id)).rejects.toBeInstanceOf(ForbiddenError);
  });
});
