/** Who is calling. Built by authentication, consulted by authorization. */
export interface Principal {
  readonly kind: "user" | "system";
  readonly name: string;
  readonly admin: boolean;
  /** Id of the API token used, when authenticated by token. */
  readonly tokenId?: string;
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
