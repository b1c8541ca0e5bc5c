/**
 * Authorization: platform admins may do anything; otherwise a project's members act on
 * it by role (viewer reads, editor writes, owner also manages members and the project).
 * A project-scoped token (`Principal.scope`, pipeline step tokens) acts only in its project,
 * with its user's role there (owner for a platform admin) capped at the scope's role.
 * Every route asks here before touching the store.
 *
 * Project memberships are cached in memory (docs/adr/0012-tracking-write-path-and-auth-caches.md):
 * a change to a Project through this server (members, roles, deletion) evicts it at once;
 * changes made by other servers sharing the database take effect within `cacheTtlMs`
 * (AUTH_CACHE_TTL_MS). Reads inside a transaction (an explicit `reader`) bypass the cache.
 */
import { ForbiddenError } from "../platform/errors.ts";
import type { ResourceRepository } from "../resources/repository.ts";
import type { ResourceRef, Resource } from "../resources/model.ts";
import type { ProjectSpec } from "../projects/kind.ts";
import { minRole, roleAtLeast, type Principal, type ProjectRole, type Verb } from "./principal.ts";
import { AUTH_CACHE_TTL_MS } from "./tokens.ts";

/** Something that reads resources: the repository, or a session inside a transaction. */
export interface ResourceReader {
  get(ref: ResourceRef): Promise<Resource | undefined>;
}

/** Projects whose members are cached at most (the oldest is dropped first). */
const MEMBERS_CACHE_MAX = 10_000;

interface CachedMembers {
  /** Role by user name; undefined when the project does not exist. */
  readonly roles: ReadonlyMap<string, ProjectRole> | undefined;
  /** Entry expiry, epoch ms. */
  readonly until: number;
}

export class Authorizer {
  private readonly members = new Map<string, CachedMembers>();
  /** Bumped by every eviction, so that a read older than it is not cached (see TokenService). */
  private generation = 0;

  constructor(
    private readonly resources: ResourceRepository,
    private readonly options: { selfServiceProjects: boolean; cacheTtlMs?: number; now?: () => number } = { selfServiceProjects: true },
  ) {
    // Members are in the spec: a status-only write (the project controller's) changes none.
    resources.watch((e) => {
      if (e.resource.kind !== "Project" || e.statusOnly) return;
      this.generation++;
      this.members.delete(e.resource.metadata.name);
    });
  }

  async roleIn(principal: Principal, project: string, reader: ResourceReader = this.resources): Promise<ProjectRole | undefined> {
    const scope = principal.scope;
    if (scope) {
      // A project-scoped token: its user's role in that project, capped; nothing elsewhere.
      if (project !== scope.project) return undefined;
      return minRole(scope.userAdmin ? "owner" : await this.memberRole(principal.name, project, reader), scope.role);
    }
    if (principal.admin) return "owner";
    return this.memberRole(principal.name, project, reader);
  }

  private async memberRole(user: string, project: string, reader: ResourceReader): Promise<ProjectRole | undefined> {
    if (reader !== this.resources) return rolesOf(await reader.get({ kind: "Project", project: "", name: project }))?.get(user);
    const now = (this.options.now ?? Date.now)();
    let cached = this.members.get(project);
    if (!cached || cached.until <= now) {
      const generation = this.generation;
      cached = { roles: rolesOf(await this.resources.get({ kind: "Project", project: "", name: project })), until: now + (this.options.cacheTtlMs ?? AUTH_CACHE_TTL_MS) };
      if (generation === this.generation) {
        this.members.delete(project);
        if (this.members.size >= MEMBERS_CACHE_MAX) this.members.delete(this.members.keys().next().value as string);
        this.members.set(project, cached);
      }
    }
    return cached.roles?.get(user);
  }

  /**
   * `check` of a project-scoped kind without waiting, for a hot path: true when the cached
   * members already allow it, undefined when only `check` can tell (a store read, or a refusal
   * to word).
   */
  allowsCached(principal: Principal, verb: Verb, project: string): true | undefined {
    const scope = principal.scope;
    if (principal.admin && !scope) return true;
    if (scope && scope.project !== project) return undefined;
    if (scope?.userAdmin) return roleAtLeast(scope.role, neededRole(verb)) ? true : undefined;
    const cached = this.members.get(project);
    if (!cached || cached.until <= (this.options.now ?? Date.now)()) return undefined;
    const role = cached.roles?.get(principal.name);
    return roleAtLeast(scope ? minRole(role, scope.role) : role, neededRole(verb)) ? true : undefined;
  }

  /** Projects the principal can read; undefined means all (admins). */
  async readableProjects(principal: Principal): Promise<string[] | undefined> {
    if (principal.scope) return (await this.roleIn(principal, principal.scope.project)) ? [principal.scope.project] : [];
    if (principal.admin) return undefined;
    const all = await this.resources.listAll({ kind: "Project", project: "" });
    return all.filter((p) => (p.spec as ProjectSpec).members.some((m) => m.user === principal.name)).map((p) => p.metadata.name);
  }

  /** Throws ForbiddenError unless `principal` may do `verb` on a resource of `kind` in `project` ("" for cluster-scoped). */
  async check(
    principal: Principal,
    verb: Verb,
    kind: string,
    project: string,
    name?: string,
    reader: ResourceReader = this.resources,
  ): Promise<void> {
    if (principal.admin && !principal.scope) return;
    const deny = (why: string): never => {
      throw new ForbiddenError(`${principal.name} may not ${verb} ${kind.toLowerCase()}${name ? ` "${name}"` : ""}${project ? ` in project "${project}"` : ""}: ${why}`);
    };
    if (kind === "User") {
      if (verb === "get" || verb === "list") return;
      deny("only platform admins manage users");
    }
    if (kind === "Project") {
      switch (verb) {
        case "list":
          return; // filtered to the caller's projects by the service
        case "create":
          if (this.options.selfServiceProjects) return;
          return deny("only platform admins create projects on this server");
        case "get":
          if (roleAtLeast(await this.roleIn(principal, name ?? "", reader), "viewer")) return;
          return deny("not a member");
        case "update":
        case "delete":
          if (roleAtLeast(await this.roleIn(principal, name ?? "", reader), "owner")) return;
          return deny("requires the owner role");
      }
    }
    if (!project) return deny("only platform admins manage this kind");
    const role = await this.roleIn(principal, project, reader);
    const needed = neededRole(verb);
    if (roleAtLeast(role, needed)) return;
    deny(role ? `requires the ${needed} role (you are ${role})` : "not a member");
  }
}

/** The role a verb on a project-scoped kind needs. */
const neededRole = (verb: Verb): ProjectRole => (verb === "get" || verb === "list" ? "viewer" : "editor");

function rolesOf(project: Resource | undefined): ReadonlyMap<string, ProjectRole> | undefined {
  const spec = project?.spec as ProjectSpec | undefined;
  if (!spec) return undefined;
  const roles = new Map<string, ProjectRole>();
  // A user listed twice has the role of the first entry.
  for (const m of spec.members) if (!roles.has(m.user)) roles.set(m.user, m.role);
  return roles;
}
