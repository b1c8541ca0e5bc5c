/**
 * The resource API's use cases: validate, authorize, persist. Transport-free: the HTTP
 * layer and in-process callers (bootstrap, tests) call these methods.
 */
import { AlreadyExistsError, ConflictError, ForbiddenError, InvalidInputError, NotFoundError, type FieldIssue } from "../platform/errors.ts";
import type { Authorizer } from "../auth/authorizer.ts";
import type { Principal } from "../auth/principal.ts";
import type { ProjectSpec } from "../projects/kind.ts";
import { PROJECT_FINALIZER } from "../projects/kind.ts";
import type { KindRegistry, RegisteredKind } from "./kinds.ts";
import { refOf, type Manifest, type Resource, type ResourceRef } from "./model.ts";
import type { ListResult, ResourceRepository, ResourceSession } from "./repository.ts";
import { parseSelector } from "./selectors.ts";

export type ApplyAction = "created" | "configured" | "unchanged";
export interface ApplyResult {
  readonly action: ApplyAction;
  readonly resource: Resource;
}

export interface ListParams {
  readonly kind: string;
  /** Required for project-scoped kinds unless listing across all readable projects. */
  readonly project?: string;
  readonly labelSelector?: string;
  readonly limit?: number;
  readonly continueToken?: string;
}

/** Per-kind hooks run inside the write transaction (e.g. a Project's creator becomes its owner). */
export interface AdmissionHook {
  readonly kind: string;
  admit(principal: Principal, manifest: Manifest, existing: Resource | undefined): Manifest;
  finalizers?(manifest: Manifest): string[];
}

export class ResourceService {
  private readonly hooks = new Map<string, AdmissionHook>();

  constructor(
    readonly registry: KindRegistry,
    private readonly repo: ResourceRepository,
    private readonly authz: Authorizer,
  ) {
    this.addHook(projectAdmission);
  }

  addHook(hook: AdmissionHook): void {
    this.hooks.set(hook.kind, hook);
  }

  async get(principal: Principal, ref: ResourceRef): Promise<Resource> {
    this.kindFor(ref.kind, ref.project);
    await this.authz.check(principal, "get", ref.kind, ref.project, ref.name);
    return this.present(await this.repo.mustGet(ref));
  }

  async list(principal: Principal, p: ListParams): Promise<ListResult> {
    const page = await this.listRaw(principal, p);
    return { ...page, items: page.items.map((r) => this.present(r)) };
  }

  private async listRaw(principal: Principal, p: ListParams): Promise<ListResult> {
    const reg = this.registry.get(p.kind);
    if (p.limit !== undefined && (!Number.isInteger(p.limit) || p.limit < 1 || p.limit > 1000)) {
      throw InvalidInputError.field("limit", "must be an integer from 1 to 1000");
    }
    const selector = p.labelSelector ? parseSelector(p.labelSelector) : undefined;
    const base = {
      kind: p.kind,
      ...(selector ? { selector } : {}),
      ...(p.limit ? { limit: p.limit } : {}),
      ...(p.continueToken ? { continueToken: p.continueToken } : {}),
    };
    if (reg.def.scope === "Cluster") {
      await this.authz.check(principal, "list", p.kind, "");
      if (p.kind === "Project") {
        const readable = await this.authz.readableProjects(principal);
        return this.repo.list({ ...base, project: "", ...(readable ? { namesIn: readable } : {}) });
      }
      return this.repo.list({ ...base, project: "" });
    }
    if (p.project) {
      await this.authz.check(principal, "list", p.kind, p.project);
      return this.repo.list({ ...base, project: p.project });
    }
    const readable = await this.authz.readableProjects(principal);
    return this.repo.list({ ...base, ...(readable ? { projectsIn: readable } : {}) });
  }

  async create(principal: Principal, doc: unknown): Promise<Resource> {
    const { reg, manifest } = this.registry.validateManifest(doc);
    this.assertUserWritable(reg);
    const ref = refOf(manifest);
    await this.authz.check(principal, "create", ref.kind, ref.project, ref.name);
    return this.present(await this.repo.transaction((s) => this.createIn(s, principal, reg, manifest)));
  }

  /** Replaces spec, labels and annotations. `metadata.resourceVersion`, when sent, must match (else 409). */
  async update(principal: Principal, ref: ResourceRef, doc: unknown): Promise<Resource> {
    const { reg, manifest } = this.registry.validateManifest(doc);
    this.assertUserWritable(reg);
    const docRef = refOf(manifest);
    const mismatch: FieldIssue[] = [];
    if (docRef.name !== ref.name) mismatch.push({ path: "metadata.name", reason: `must match the name in the URL ("${ref.name}")` });
    if (docRef.project !== ref.project) mismatch.push({ path: "metadata.project", reason: `must match the project in the URL ("${ref.project}")` });
    if (docRef.kind !== ref.kind) mismatch.push({ path: "kind", reason: `must be ${ref.kind}` });
    if (mismatch.length) throw InvalidInputError.of(mismatch);
    await this.authz.check(principal, "update", ref.kind, ref.project, ref.name);
    const updated = await this.repo.transaction(async (s) => {
      const existing = await s.mustGet(ref);
      const admitted = this.admit(principal, manifest, existing);
      return s.update(
        ref,
        { spec: admitted.spec, labels: admitted.metadata.labels ?? {}, annotations: admitted.metadata.annotations ?? {} },
        manifest.metadata.resourceVersion,
      );
    });
    return this.present(updated);
  }

  /**
   * Create-or-update of one or more documents, like `kubectl apply`. All documents are
   * validated and authorized first; then all are written in one transaction — a bad
   * document means nothing is written.
   */
  async apply(principal: Principal, docs: readonly unknown[]): Promise<ApplyResult[]> {
    if (docs.length === 0) throw InvalidInputError.field("items", "no resources to apply");
    const multi = docs.length > 1;
    const validated: { reg: RegisteredKind; manifest: Manifest }[] = [];
    const issues: FieldIssue[] = [];
    docs.forEach((doc, i) => {
      try {
        validated.push(this.registry.validateManifest(doc, multi ? `items[${i}]` : ""));
      } catch (e) {
        if (e instanceof InvalidInputError) issues.push(...e.details);
        else throw e;
      }
    });
    if (issues.length) throw InvalidInputError.of(issues);
    const seen = new Set<string>();
    for (const [i, { reg, manifest }] of validated.entries()) {
      this.assertUserWritable(reg);
      const ref = refOf(manifest);
      const key = `${ref.kind}/${ref.project}/${ref.name}`;
      if (seen.has(key)) throw InvalidInputError.field(multi ? `items[${i}].metadata.name` : "metadata.name", `${key} appears twice`);
      seen.add(key);
    }
    // Projects first, so that resources applied with their project can be authorized against it.
    const order = [...validated].sort((a, b) => Number(b.manifest.kind === "Project") - Number(a.manifest.kind === "Project"));
    const write = () => this.repo.transaction(async (s) => {
      const results: ApplyResult[] = [];
      for (const { reg, manifest } of order) {
        const ref = refOf(manifest);
        const existing = await s.get(ref);
        if (!existing) {
          await this.checkIn(s, principal, "create", ref);
          results.push({ action: "created", resource: await this.createIn(s, principal, reg, manifest) });
          continue;
        }
        await this.checkIn(s, principal, "update", ref);
        const admitted = this.admit(principal, manifest, existing);
        // A manifest that says which version it was edited from (`get -o yaml`, edit, apply)
        // must not overwrite a newer one: a stale resourceVersion is a 409, as kubectl apply's.
        const updated = await s.update(
          ref,
          {
            spec: admitted.spec,
            labels: admitted.metadata.labels ?? {},
            annotations: admitted.metadata.annotations ?? {},
          },
          manifest.metadata.resourceVersion,
        );
        results.push({ action: updated.metadata.resourceVersion === existing.metadata.resourceVersion ? "unchanged" : "configured", resource: updated });
      }
      // Report in the order submitted.
      return validated.map(({ manifest }) => results[order.findIndex((o) => o.manifest === manifest)]!);
    });
    // Apply is create-or-update: when a concurrent apply created a resource between this one's
    // read and its insert (PostgreSQL runs them side by side), do it again, as an update.
    const results = await write().catch((e: unknown) => (e instanceof AlreadyExistsError ? write() : Promise.reject(e instanceof Error ? e : new Error(String(e)))));
    return results.map((r) => ({ ...r, resource: this.present(r.resource) }));
  }

  async delete(principal: Principal, ref: ResourceRef, expectedVersion?: string): Promise<Resource> {
    this.kindFor(ref.kind, ref.project);
    await this.authz.check(principal, "delete", ref.kind, ref.project, ref.name);
    return this.present(await this.repo.delete(ref, expectedVersion));
  }

  /** What clients see of a resource (e.g. secret values are never returned). */
  private present(r: Resource): Resource {
    if (!this.registry.has(r.kind)) return r;
    const { def } = this.registry.get(r.kind);
    return def.present ? def.present(r) : r;
  }

  private kindFor(kind: string, project: string): RegisteredKind {
    const reg = this.registry.get(kind);
    if (reg.def.scope === "Project" && !project) throw InvalidInputError.field("metadata.project", `is required for ${kind}`);
    return reg;
  }

  private assertUserWritable(reg: RegisteredKind): void {
    if (reg.def.userWritable === false) throw new ForbiddenError(`${reg.def.kind} resources are created by the platform, not written directly`);
  }

  /**
   * Authorization inside an apply transaction, reading through the transaction: it sees
   * projects created earlier in the same apply (and never waits on the connection it holds).
   */
  private checkIn(s: ResourceSession, principal: Principal, verb: "create" | "update", ref: ResourceRef): Promise<void> {
    return this.authz.check(principal, verb, ref.kind, ref.project, ref.name, s);
  }

  private admit(principal: Principal, manifest: Manifest, existing: Resource | undefined): Manifest {
    return this.hooks.get(manifest.kind)?.admit(principal, manifest, existing) ?? manifest;
  }

  private async createIn(s: ResourceSession, principal: Principal, reg: RegisteredKind, manifest: Manifest): Promise<Resource> {
    if (reg.def.scope === "Project") {
      // Never create into a project that does not exist (an orphan no one could list or
      // clean up) or that is being deleted (its cleanup would race the new resource).
      const name = manifest.metadata.project ?? "";
      const p = await s.get({ kind: "Project", project: "", name });
      if (!p) throw new NotFoundError(`project "${name}" not found`);
      if (p.metadata.deletionTimestamp) throw new ConflictError(`project "${name}" is being deleted`);
    }
    const admitted = this.admit(principal, manifest, undefined);
    const hook = this.hooks.get(manifest.kind);
    return s.create({
      kind: admitted.kind,
      project: admitted.metadata.project ?? "",
      name: admitted.metadata.name,
      labels: admitted.metadata.labels ?? {},
      annotations: admitted.metadata.annotations ?? {},
      finalizers: hook?.finalizers?.(admitted) ?? [],
      spec: admitted.spec,
      status: reg.def.initialStatus(),
    });
  }
}

/**
 * A project's creator (unless a platform admin) becomes an owner; an update by a member may not
 * leave the project without an owner (only platform admins could manage it then); projects get
 * the cleanup finalizer.
 */
const projectAdmission: AdmissionHook = {
  kind: "Project",
  admit(principal, manifest, existing) {
    const spec = manifest.spec as ProjectSpec;
    if (existing && !principal.admin && principal.kind !== "system") {
      const hadOwner = (existing.spec as ProjectSpec).members.some((m) => m.role === "owner");
      if (hadOwner && !spec.members.some((m) => m.role === "owner")) {
        throw InvalidInputError.field("spec.members", "a project needs at least one owner: make another member owner first (a platform admin may remove the last one)");
      }
    }
    if (existing || principal.admin || principal.kind === "system") return manifest;
    if (spec.members.some((m) => m.user === principal.name)) return manifest;
    return { ...manifest, spec: { ...spec, members: [...spec.members, { user: principal.name, role: "owner" }] } };
  },
  finalizers: () => [PROJECT_FINALIZER],
};
