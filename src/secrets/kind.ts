/**
 * The Secret kind: named key/value secrets in a project, used by pipeline steps through
 * `env: {NAME: {secret, key}}`. Write-only through the API: responses show the keys, never
 * the values; applying a document whose value is the redaction marker keeps the stored value
 * (so `get -o yaml | apply` round-trips).
 */
import { Type } from "@sinclair/typebox";
import type { AdmissionHook } from "../resources/service.ts";
import type { KindDefinition } from "../resources/kinds.ts";
import type { Resource } from "../resources/model.ts";

export const REDACTED = "<redacted>";

export const SecretSpec = Type.Object(
  {
    data: Type.Record(Type.String({ pattern: "^[A-Za-z0-9._-]{1,253}$" }), Type.String({ maxLength: 65536 }), {
      additionalProperties: false,
      default: {},
      description: "key → value; values are never returned by the API",
    }),
  },
  { additionalProperties: false },
);

export const SecretStatus = Type.Object({});

interface SecretSpecView {
  data: Record<string, string>;
}

export const SecretKind: KindDefinition<typeof SecretSpec, typeof SecretStatus> = {
  kind: "Secret",
  plural: "secrets",
  singular: "secret",
  scope: "Project",
  description: "Key/value secrets for pipeline steps; write-only through the API.",
  spec: SecretSpec,
  status: SecretStatus,
  initialStatus: () => ({}),
  present(r: Resource): Resource {
    const data = (r.spec as SecretSpecView).data;
    return { ...r, spec: { data: Object.fromEntries(Object.keys(data).map((k) => [k, REDACTED])) } };
  },
  columns: [
    { header: "KEYS", path: "spec.data", format: "count" },
    { header: "AGE", path: "metadata.createdAt", format: "age" },
  ],
};

/** Keeps stored values where an update sends the redaction marker back. */
export const secretAdmission: AdmissionHook = {
  kind: "Secret",
  admit(_principal, manifest, existing) {
    if (!existing) return manifest;
    const before = (existing.spec as SecretSpecView).data;
    const after = (manifest.spec as SecretSpecView).data;
    const data = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v === REDACTED && before[k] !== undefined ? before[k] : v]));
    return { ...manifest, spec: { data } };
  },
};
