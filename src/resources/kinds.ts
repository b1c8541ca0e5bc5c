/**
 * Kinds plug into the platform by declaring a KindDefinition: its schemas (which validate
 * requests, type the client and generate the OpenAPI document), its scope, how the CLI prints
 * it, and optional semantic validation. Controllers are registered separately
 * (src/controllers/), so a kind can exist without one.
 */
import type { Static, TSchema } from "@sinclair/typebox";
import type { Ajv } from "ajv";
import { InvalidInputError, NotFoundError, type FieldIssue } from "../platform/errors.ts";
import { manifestSchema, resourceSchema, type Manifest, type Resource, type Scope } from "./model.ts";
import { SchemaValidator } from "./validation.ts";

export interface PrintColumn {
  readonly header: string;
  /** Dotted path into the resource, e.g. "status.phase". */
  readonly path: string;
  readonly format?: "age" | "duration" | "list" | "count";
}

export interface KindDefinition<S extends TSchema = TSchema, St extends TSchema = TSchema> {
  readonly kind: string;
  /** URL segment and CLI name: "projects", "pipelineruns". */
  readonly plural: string;
  readonly singular: string;
  readonly shortNames?: readonly string[];
  readonly scope: Scope;
  readonly description: string;
  readonly spec: S;
  readonly status: St;
  /** Status of a new resource before any controller has seen it. */
  initialStatus(): Static<St>;
  /** Checks beyond the schema (cross-field rules). Issues' paths are relative to the document, e.g. `spec.x`. */
  validate?(manifest: Manifest<Static<S>>): FieldIssue[];
  /** Columns for `forja get` tables after NAME (and PROJECT). */
  readonly columns?: readonly PrintColumn[];
  /** What API responses show of a resource, e.g. with secret values removed. Default: all of it. */
  present?(resource: Resource): Resource;
  /** Users may create/update/delete through the generic API (false for platform-made kinds). */
  readonly userWritable?: boolean;
}

export type AnyKind = KindDefinition;

export class KindRegistry {
  private readonly byKind = new Map<string, RegisteredKind>();
  private readonly byName = new Map<string, RegisteredKind>();

  constructor(private readonly ajv: Ajv) {}

  register<S extends TSchema, St extends TSchema>(def: KindDefinition<S, St>): void {
    if (this.byKind.has(def.kind)) throw new Error(`kind ${def.kind} registered twice`);
    const reg: RegisteredKind = {
      def,
      manifest: new SchemaValidator(this.ajv, manifestSchema(def.kind, def.spec)),
      resourceSchema: resourceSchema(def.kind, def.spec, def.status),
      manifestSchema: manifestSchema(def.kind, def.spec),
    };
    this.byKind.set(def.kind, reg);
    for (const n of [def.kind.toLowerCase(), def.plural, def.singular, ...(def.shortNames ?? [])]) this.byName.set(n.toLowerCase(), reg);
  }

  all(): RegisteredKind[] {
    return [...this.byKind.values()];
  }

  get(kind: string): RegisteredKind {
    const reg = this.byKind.get(kind);
    if (!reg) throw new NotFoundError(`unknown kind "${kind}"`);
    return reg;
  }

  has(kind: string): boolean {
    return this.byKind.has(kind);
  }

  /** Resolve "projects", "project", "Project", "proj" → the registered kind; undefined when unknown. */
  lookup(name: string): RegisteredKind | undefined {
    return this.byName.get(name.toLowerCase());
  }

  /**
   * Validates a submitted document (schema + the kind's own rules) and applies schema defaults.
   * `prefix` locates the document in a multi-document request, e.g. `items[2]`.
   */
  validateManifest(doc: unknown, prefix = ""): { reg: RegisteredKind; manifest: Manifest } {
    const at = (p: string) => (prefix ? (p ? `${prefix}.${p}` : prefix) : p);
    if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
      throw InvalidInputError.field(prefix, "must be an object with apiVersion, kind, metadata and spec");
    }
    const kind = (doc as { kind?: unknown }).kind;
    if (typeof kind !== "string" || !kind) throw InvalidInputError.field(at("kind"), "is required");
    const reg = this.byKind.get(kind);
    if (!reg) {
      throw InvalidInputError.field(at("kind"), `unknown kind "${kind}"; known kinds: ${[...this.byKind.keys()].join(", ")}`);
    }
    const issues = reg.manifest.issues(doc, prefix);
    if (issues.length === 0) {
      const manifest = doc as Manifest;
      const project = manifest.metadata.project;
      if (reg.def.scope === "Project" && !project) issues.push({ path: at("metadata.project"), reason: `is required for ${kind}` });
      if (reg.def.scope === "Cluster" && project) issues.push({ path: at("metadata.project"), reason: `must be empty: ${kind} is not in a project` });
      for (const i of reg.def.validate?.(manifest) ?? []) issues.push({ path: at(i.path), reason: i.reason });
    }
    if (issues.length) throw InvalidInputError.of(issues);
    return { reg, manifest: doc as Manifest };
  }
}

export interface RegisteredKind {
  readonly def: AnyKind;
  readonly manifest: SchemaValidator<Manifest>;
  readonly resourceSchema: TSchema;
  readonly manifestSchema: TSchema;
}

export type TypedResource<K extends KindDefinition> = Resource<Static<K["spec"]>, Static<K["status"]>>;
