/** Who is calling. Built by authentication, consulted by authorization. */
export interface Principal {
  readonly kind: "user" | "system";
  readonly name: string;
  /** Platform admin. Always false for a project-scoped token (see `scope`). */
  readonly admin: boolean;
  /** Id of the API token used, when authenticated by token. */
  readonly tokenId?: string;
  /**
   * Set when the token is restricted to one project (pipeline step tokens): the principal acts
   * only in `project`, with its user's role there capped at `role`, and never as a platform admin.
   */
  readonly scope?: PrincipalScope;
}

export interface TokenScope {
  readonly project: string;
  /** The most the token may do in the project. */
  readonly role: ProjectRole;
}

export interface PrincipalScope extends TokenScope {
  /** The token's user is a platform admin: their role in `project` before the cap is owner. */
  readonly userAdmin: boolean;
}

/** The platform itself (controllers, bootstrap). Never reachable from the API. */
export const SYSTEM: Principal = Object.freeze({ kind: "system", name: "system:forja", admin: true });

export type ProjectRole = "owner" | "editor" | "viewer";
export const PROJECT_ROLES: readonly ProjectRole[] = ["owner", "editor", "viewer"];

export type Verb = "get" | "list" | "create" | "update" | "delete";

const rank: Record<ProjectRole, number> = { viewer: 1, editor: 2, owner: 3 };

export function roleAtLeast(role: ProjectRole | undefined, needed: ProjectRole): boolean {
  return role !== undefined && rank[role] >= rank[needed];
}

/** The lesser of two roles (no role is the least). */
export function minRole(a: ProjectRole | undefined, b: ProjectRole | undefined): ProjectRole | undefined {
  if (a === undefined || b === undefined) return undefined;
  return rank[a] <= rank[b] ? a : b;
}
