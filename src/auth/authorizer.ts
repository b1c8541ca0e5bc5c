/**
 * Authorization: platform admins may do anything; otherwise a project's members act on
 * it by role (viewer reads, editor writes, owner also manages members and the project).
 * Every route asks here before touching the store.
 */
import { ForbiddenError } from "../platform/errors.ts";
import type { ResourceRepository } from "../resources/repository.ts";
import type { ResourceRef, Resource } from "../resources/model.ts";

/** Something that reads resources: the repository, or a session inside a transaction. */
export interface ResourceReader {
  get(ref: ResourceRef): Promise<Resource | undefined>;
}
import type { ProjectSpec } from "../projects/kind.ts";
import { roleAtLeast, type Principal, type ProjectRole, type Verb } from "./principal.ts";

export class Authorizer {
  constructor(
    private readonly resources: ResourceRepository,
    private readonly options: { selfServiceProjects: boolean } = { selfServiceProjects: true },
  ) {}

  async roleIn(principal: Principal, project: string, reader: ResourceReader = this.resources): Promise<ProjectRole | undefined> {
    if (principal.admin) return "owner";
    const p = await reader.get({ kind: "Project", project: "", name: project });
    const spec = p?.spec as ProjectSpec | undefined;
    return spec?.members.find((m) => m.user === principal.name)?.role;
  }

  /** Projects the principal can read; undefined means all (admins). */
  async readableProjects(principal: Principal): Promise<string[] | undefined> {
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
    if (principal.admin) return;
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
    const needed: ProjectRole = verb === "get" || verb === "list" ? "viewer" : "editor";
    if (roleAtLeast(role, needed)) return;
    deny(role ? `requires the ${needed} role (you are ${role})` : "not a member");
  }
}
