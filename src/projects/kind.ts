/** The Project kind: the unit of tenancy. Members hold roles; every namespaced resource lives in one. */
import { Type, type Static } from "@sinclair/typebox";
import { Condition, NAME_PATTERN } from "../resources/model.ts";
import type { KindDefinition } from "../resources/kinds.ts";
import type { FieldIssue } from "../platform/errors.ts";

export const Member = Type.Object(
  {
    user: Type.String({ pattern: NAME_PATTERN, description: "a user name" }),
    role: Type.Union([Type.Literal("owner"), Type.Literal("editor"), Type.Literal("viewer")], {
      description: "owner: manage members and everything; editor: create and change resources; viewer: read",
    }),
  },
  { additionalProperties: false },
);

export const Quota = Type.Object(
  {
    maxConcurrentWorkloads: Type.Optional(Type.Integer({ minimum: 0 })),
    cpu: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: "cores one workload may use at most" })),
    memory: Type.Optional(Type.String({ pattern: "^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|K|M|G|T)?$", description: "memory one workload may use at most, e.g. 2Gi" })),
  },
  { additionalProperties: false },
);

export const ProjectSpec = Type.Object(
  {
    displayName: Type.Optional(Type.String({ maxLength: 256 })),
    description: Type.Optional(Type.String({ maxLength: 4096 })),
    members: Type.Array(Member, { default: [] }),
    quota: Type.Optional(Quota),
  },
  { additionalProperties: false },
);
export type ProjectSpec = Static<typeof ProjectSpec>;

export const ProjectPhase = Type.Union([Type.Literal("Pending"), Type.Literal("Active"), Type.Literal("Terminating")]);
export type ProjectPhase = Static<typeof ProjectPhase>;

export const ProjectStatus = Type.Object({
  phase: ProjectPhase,
  observedGeneration: Type.Optional(Type.Integer()),
  members: Type.Optional(Type.Integer()),
  conditions: Type.Optional(Type.Array(Condition)),
});
export type ProjectStatus = Static<typeof ProjectStatus>;

export const PROJECT_FINALIZER = "forja.dev/project-cleanup";

export const ProjectKind: KindDefinition<typeof ProjectSpec, typeof ProjectStatus> = {
  kind: "Project",
  plural: "projects",
  singular: "project",
  shortNames: ["proj"],
  scope: "Cluster",
  description: "A team's workspace: members with roles, quotas, and the resources they own.",
  spec: ProjectSpec,
  status: ProjectStatus,
  initialStatus: () => ({ phase: "Pending" }),
  validate(m) {
    const issues: FieldIssue[] = [];
    const seen = new Map<string, number>();
    m.spec.members.forEach((member, i) => {
      const prev = seen.get(member.user);
      if (prev !== undefined) issues.push({ path: `spec.members[${i}].user`, reason: `"${member.user}" is already listed at spec.members[${prev}]` });
      seen.set(member.user, i);
    });
    return issues;
  },
  columns: [
    { header: "PHASE", path: "status.phase" },
    { header: "MEMBERS", path: "spec.members", format: "count" },
    { header: "AGE", path: "metadata.createdAt", format: "age" },
  ],
};
