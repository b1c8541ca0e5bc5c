/** The User kind: platform accounts. Cluster-scoped; admins manage them. */
import { Type } from "@sinclair/typebox";
import type { KindDefinition } from "../resources/kinds.ts";

export const UserSpec = Type.Object(
  {
    displayName: Type.Optional(Type.String({ maxLength: 256 })),
    email: Type.Optional(Type.String({ format: "email", maxLength: 256 })),
    admin: Type.Boolean({ default: false, description: "platform administrator: manages users and every project" }),
    disabled: Type.Boolean({ default: false, description: "a disabled user's tokens stop working" }),
  },
  { additionalProperties: false },
);

export const UserStatus = Type.Object({
  tokens: Type.Optional(Type.Integer({ description: "active API tokens" })),
});

export const UserKind: KindDefinition<typeof UserSpec, typeof UserStatus> = {
  kind: "User",
  plural: "users",
  singular: "user",
  scope: "Cluster",
  description: "A person or service account that can sign in and hold API tokens.",
  spec: UserSpec,
  status: UserStatus,
  initialStatus: () => ({}),
  columns: [
    { header: "ADMIN", path: "spec.admin" },
    { header: "EMAIL", path: "spec.email" },
    { header: "AGE", path: "metadata.createdAt", format: "age" },
  ],
};
