/**
 * The resource model. Everything a user manages is a declarative resource: metadata, a
 * `spec` written by users (intent) and a `status` written only by the platform (observed).
 */
import { Type, type Static, type TSchema } from "@sinclair/typebox";

export const API_VERSION = "forja.dev/v1";

/** DNS-label-like names: lowercase alphanumerics and '-', starting with a letter or digit. */
export const NAME_PATTERN = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$";
const LABEL_KEY_PATTERN = "^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$";
const LABEL_VALUE_PATTERN = "^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$";

export const Name = Type.String({ pattern: NAME_PATTERN, maxLength: 63, description: "lowercase letters, digits and '-', at most 63 characters" });
export const Labels = Type.Record(Type.String({ pattern: LABEL_KEY_PATTERN }), Type.String({ pattern: LABEL_VALUE_PATTERN, maxLength: 63 }), {
  description: "key/value pairs used to select resources",
  additionalProperties: false,
});
/** Keys are qualified names, as label keys (Kubernetes' rule); values are free text. */
export const Annotations = Type.Record(Type.String({ pattern: LABEL_KEY_PATTERN }), Type.String({ maxLength: 65536 }), {
  description: "non-identifying metadata: qualified-name keys ([prefix/]name), free-text values",
  additionalProperties: false,
});

/** Metadata as written by users (what apply/create accept). */
export const ObjectMetaInput = Type.Object(
  {
    name: Name,
    project: Type.Optional(Name),
    labels: Type.Optional(Labels),
    annotations: Type.Optional(Annotations),
    /** Optimistic concurrency precondition: an update or apply carrying a stale one is a 409. */
    resourceVersion: Type.Optional(Type.String({ pattern: "^[0-9]+$" })),
    // Read-only fields are accepted (so `get -o yaml | apply` round-trips) and ignored.
    uid: Type.Optional(Type.String()),
    generation: Type.Optional(Type.Integer()),
    createdAt: Type.Optional(Type.String()),
    updatedAt: Type.Optional(Type.String()),
    deletionTimestamp: Type.Optional(Type.String()),
    finalizers: Type.Optional(Type.Array(Type.String())),
  },
  { additionalProperties: false },
);

export const ObjectMeta = Type.Object({
  name: Type.String(),
  project: Type.Optional(Type.String()),
  uid: Type.String(),
  resourceVersion: Type.String({ description: "changes on every write; send it back on update to detect conflicting writes" }),
  generation: Type.Integer({ description: "increments when spec changes" }),
  labels: Labels,
  annotations: Annotations,
  finalizers: Type.Optional(Type.Array(Type.String())),
  createdAt: Type.String({ format: "date-time" }),
  updatedAt: Type.String({ format: "date-time" }),
  deletionTimestamp: Type.Optional(Type.String({ format: "date-time" })),
});
export type ObjectMeta = Static<typeof ObjectMeta>;

export interface Resource<Spec = unknown, Status = unknown> {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: Spec;
  status: Status;
}

/** A resource as submitted: metadata without server fields, no status. */
export interface Manifest<Spec = unknown> {
  apiVersion: string;
  kind: string;
  metadata: Static<typeof ObjectMetaInput>;
  spec: Spec;
}

export type Scope = "Project" | "Cluster";

export interface ResourceRef {
  readonly kind: string;
  /** "" for cluster-scoped kinds. */
  readonly project: string;
  readonly name: string;
}

export function refOf(r: { kind: string; metadata: { project?: string | undefined; name: string } }): ResourceRef {
  return { kind: r.kind, project: r.metadata.project ?? "", name: r.metadata.name };
}

export function formatRef(ref: ResourceRef): string {
  return ref.project ? `${ref.kind} ${ref.project}/${ref.name}` : `${ref.kind} ${ref.name}`;
}

/** The full resource document schema of a kind, for validation and OpenAPI. */
export function resourceSchema(kind: string, spec: TSchema, status: TSchema) {
  return Type.Object(
    {
      apiVersion: Type.Literal(API_VERSION),
      kind: Type.Literal(kind),
      metadata: ObjectMeta,
      spec,
      status,
    },
    { $id: `${kind}` },
  );
}

export function manifestSchema(kind: string, spec: TSchema) {
  return Type.Object(
    {
      apiVersion: Type.Literal(API_VERSION),
      kind: Type.Literal(kind),
      metadata: ObjectMetaInput,
      spec,
      // Accepted and ignored: status is written by the platform only.
      status: Type.Optional(Type.Unknown()),
    },
    { additionalProperties: false },
  );
}

/** Conventional condition, as in Kubernetes. */
export const Condition = Type.Object({
  type: Type.String(),
  status: Type.Union([Type.Literal("True"), Type.Literal("False"), Type.Literal("Unknown")]),
  reason: Type.Optional(Type.String()),
  message: Type.Optional(Type.String()),
  lastTransitionTime: Type.String(),
});
export type Condition = Static<typeof Condition>;
