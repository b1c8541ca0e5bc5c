/**
 * Persistence of resources, on both store engines. Every write bumps the global
 * resourceVersion counter in the same transaction, so versions are unique and ordered;
 * updates carry an optimistic-concurrency precondition. Change events are published
 * only after the transaction commits.
 */
import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import { sql, type ExpressionBuilder, type Selectable } from "kysely";
import type { Database, Db, Tx } from "../store/database.ts";
import type { ResourcesTable, Tables } from "../store/tables.ts";
import { AlreadyExistsError, ConflictError, InvalidInputError, NotFoundError } from "../platform/errors.ts";
import { API_VERSION, formatRef, type Resource, type ResourceRef } from "./model.ts";
import type { Requirement } from "./selectors.ts";

export type ResourceEventType = "ADDED" | "MODIFIED" | "DELETED";
export interface ResourceEvent {
  readonly type: ResourceEventType;
  readonly resource: Resource;
  /** MODIFIED by a write that changed only status (what controllers write); lets them skip their own writes. */
  readonly statusOnly?: boolean;
}

export interface ListQuery {
  readonly kind: string;
  /** Exact project; undefined = every project (for cluster-scoped kinds use ""). */
  readonly project?: string;
  /** Restrict to these projects (authorization); undefined = no restriction. */
  readonly projectsIn?: readonly string[];
  readonly selector?: readonly Requirement[];
  /** Restrict to these names (authorization of cluster-scoped kinds). */
  readonly namesIn?: readonly string[];
  readonly limit?: number;
  readonly continueToken?: string;
}

export interface ListResult {
  readonly items: Resource[];
  /** Present when more items follow; pass it back as `continue`. */
  readonly continueToken?: string;
}

export interface NewResource {
  readonly kind: string;
  readonly project: string;
  readonly name: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
  readonly finalizers?: readonly string[];
  readonly spec: unknown;
  readonly status: unknown;
}

export interface ResourcePatch {
  readonly spec?: unknown;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
  readonly finalizers?: readonly string[];
  readonly status?: unknown;
}

type Row = Selectable<ResourcesTable>;

function toResource(row: Row): Resource {
  const finalizers = JSON.parse(row.finalizers) as string[];
  return {
    apiVersion: row.api_version,
    kind: row.kind,
    metadata: {
      name: row.name,
      ...(row.project ? { project: row.project } : {}),
      uid: row.uid,
      resourceVersion: String(row.resource_version),
      generation: Number(row.generation),
      labels: JSON.parse(row.labels) as Record<string, string>,
      annotations: JSON.parse(row.annotations) as Record<string, string>,
      ...(finalizers.length ? { finalizers } : {}),
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      ...(row.deletion_timestamp ? { deletionTimestamp: row.deletion_timestamp } : {}),
    },
    spec: JSON.parse(row.spec) as unknown,
    status: JSON.parse(row.status) as unknown,
  };
}

function encodeContinue(project: string, name: string): string {
  return Buffer.from(JSON.stringify([project, name])).toString("base64url");
}
function decodeContinue(token: string): [string, string] {
  try {
    const v = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as unknown;
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === "string" && typeof v[1] === "string") return [v[0], v[1]];
  } catch {
    /* fall through */
  }
  throw InvalidInputError.field("continue", "is not a token returned by a previous list call");
}

function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  return err.code === "23505" || err.code === "SQLITE_CONSTRAINT_UNIQUE" || err.code === "SQLITE_CONSTRAINT_PRIMARYKEY";
}

const stableJson = (v: unknown) => JSON.stringify(v ?? {});

/** JSON with object keys sorted, so that documents differing only in key order compare equal. */
function canonicalJson(text: string): string {
  return JSON.stringify(JSON.parse(text), (_key, value: unknown) =>
    value && typeof value === "object" && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : value,
  );
}
/** `incoming`, unless it is the same document as `stored` (then `stored`, keeping its key order). */
const unlessSame = (incoming: string, stored: string) => (incoming === stored || canonicalJson(incoming) === canonicalJson(stored) ? stored : incoming);

/** Reads and writes bound to one executor (the database, or a transaction). */
export class ResourceSession {
  constructor(
    private readonly exec: Db | Tx,
    private readonly events: ResourceEvent[],
    private readonly now: () => Date,
  ) {}

  private async nextVersion(): Promise<number> {
    const row = await this.exec
      .updateTable("counters")
      .set((eb) => ({ value: eb("value", "+", 1) }))
      .where("name", "=", "resourceVersion")
      .returning("value")
      .executeTakeFirstOrThrow();
    return Number(row.value);
  }

  async get(ref: ResourceRef): Promise<Resource | undefined> {
    const row = await this.exec
      .selectFrom("resources")
      .selectAll()
      .where("kind", "=", ref.kind)
      .where("project", "=", ref.project)
      .where("name", "=", ref.name)
      .executeTakeFirst();
    return row ? toResource(row) : undefined;
  }

  async mustGet(ref: ResourceRef): Promise<Resource> {
    const r = await this.get(ref);
    if (!r) throw new NotFoundError(`${formatRef(ref)} not found`);
    return r;
  }

  async list(q: ListQuery): Promise<ListResult> {
    const limit = q.limit ?? 500;
    let query = this.exec.selectFrom("resources").selectAll().where("kind", "=", q.kind);
    if (q.project !== undefined) query = query.where("project", "=", q.project);
    if (q.projectsIn) {
      if (q.projectsIn.length === 0) return { items: [] };
      query = query.where("project", "in", [...q.projectsIn]);
    }
    if (q.namesIn) {
      if (q.namesIn.length === 0) return { items: [] };
      query = query.where("name", "in", [...q.namesIn]);
    }
    if (q.continueToken) {
      const [p, n] = decodeContinue(q.continueToken);
      query = query.where((eb) => eb.or([eb("project", ">", p), eb.and([eb("project", "=", p), eb("name", ">", n)])]));
    }
    for (const req of q.selector ?? []) query = query.where((eb) => labelCondition(eb, req));
    const rows = await query.orderBy("project").orderBy("name").limit(limit + 1).execute();
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map(toResource),
      ...(rows.length > limit && last ? { continueToken: encodeContinue(last.project, last.name) } : {}),
    };
  }

  async create(n: NewResource): Promise<Resource> {
    const now = this.now().toISOString();
    const rv = await this.nextVersion();
    const row: Row = {
      uid: randomUUID(),
      api_version: API_VERSION,
      kind: n.kind,
      project: n.project,
      name: n.name,
      labels: stableJson(n.labels),
      annotations: stableJson(n.annotations),
      finalizers: JSON.stringify(n.finalizers ?? []),
      spec: stableJson(n.spec),
      status: stableJson(n.status),
      resource_version: rv,
      generation: 1,
      created_at: now,
      updated_at: now,
      deletion_timestamp: null,
    };
    try {
      await this.exec.insertInto("resources").values(row).execute();
    } catch (e) {
      if (isUniqueViolation(e)) throw new AlreadyExistsError(`${formatRef(n)} already exists`);
      throw e;
    }
    await this.writeLabels(row.uid, n.labels ?? {});
    const created = toResource(row);
    this.events.push({ type: "ADDED", resource: created });
    return created;
  }

  /**
   * Writes `patch` onto the stored resource. With `expectedVersion`, fails with ConflictError
   * when the resource changed since that version. Bumps generation when spec changes.
   */
  async update(ref: ResourceRef, patch: ResourcePatch, expectedVersion?: string): Promise<Resource> {
    // Every writer takes the version counter's row lock (nextVersion) before writing, so when the
    // guarded write below finds the row changed by a transaction that committed after our read,
    // a second read — made while we hold that lock — sees the latest state and cannot go stale.
    for (let attempt = 0; ; attempt++) {
      const current = await this.exec
        .selectFrom("resources")
        .selectAll()
        .where("kind", "=", ref.kind)
        .where("project", "=", ref.project)
        .where("name", "=", ref.name)
        .executeTakeFirst();
      if (!current) throw new NotFoundError(`${formatRef(ref)} not found`);
      if (expectedVersion !== undefined && String(current.resource_version) !== expectedVersion) {
        throw new ConflictError(
          `${formatRef(ref)} was modified (resourceVersion ${current.resource_version}, you sent ${expectedVersion}); get it again and retry`,
        );
      }
      const next: Row = { ...current };
      if (patch.spec !== undefined) next.spec = unlessSame(stableJson(patch.spec), current.spec);
      if (patch.labels !== undefined) next.labels = unlessSame(stableJson(patch.labels), current.labels);
      if (patch.annotations !== undefined) next.annotations = unlessSame(stableJson(patch.annotations), current.annotations);
      if (patch.finalizers !== undefined) next.finalizers = JSON.stringify(patch.finalizers);
      // Status is written by the platform in a stable key order: a plain comparison is enough, and
      // saves canonicalising a large document (a pipeline run's nodes) on every write.
      if (patch.status !== undefined) next.status = stableJson(patch.status);
      const changed =
        next.spec !== current.spec ||
        next.labels !== current.labels ||
        next.annotations !== current.annotations ||
        next.finalizers !== current.finalizers ||
        next.status !== current.status;
      if (!changed) return toResource(current);
      if (next.spec !== current.spec) next.generation = Number(current.generation) + 1;
      next.resource_version = await this.nextVersion();
      next.updated_at = this.now().toISOString();
      // Finalizers all removed from a resource being deleted: it goes away now.
      const goesAway = Boolean(current.deletion_timestamp) && (JSON.parse(next.finalizers) as unknown[]).length === 0;
      const written = goesAway
        ? Number(
            (
              await this.exec
                .deleteFrom("resources")
                .where("uid", "=", current.uid)
                .where("resource_version", "=", current.resource_version)
                .executeTakeFirst()
            ).numDeletedRows,
          )
        : Number(
            (
              await this.exec
                .updateTable("resources")
                .set({
                  spec: next.spec,
                  labels: next.labels,
                  annotations: next.annotations,
                  finalizers: next.finalizers,
                  status: next.status,
                  generation: next.generation,
                  resource_version: next.resource_version,
                  updated_at: next.updated_at,
                })
                .where("uid", "=", current.uid)
                .where("resource_version", "=", current.resource_version)
                .executeTakeFirst()
            ).numUpdatedRows,
          );
      if (written !== 1) {
        if (expectedVersion !== undefined || attempt > 0) throw new ConflictError(`${formatRef(ref)} was modified concurrently; retry`);
        continue;
      }
      if (goesAway) {
        const gone = toResource(next);
        this.events.push({ type: "DELETED", resource: gone });
        return gone;
      }
      if (next.labels !== current.labels) await this.writeLabels(current.uid, JSON.parse(next.labels) as Record<string, string>, true);
      const updated = toResource(next);
      const statusOnly =
        next.status !== current.status &&
        next.spec === current.spec &&
        next.labels === current.labels &&
        next.annotations === current.annotations &&
        next.finalizers === current.finalizers;
      this.events.push({ type: "MODIFIED", resource: updated, ...(statusOnly ? { statusOnly } : {}) });
      return updated;
    }
  }

  /**
   * Deletes a resource. One with finalizers is only marked (deletionTimestamp) until the
   * controllers owning them have cleaned up and removed them.
   */
  async delete(ref: ResourceRef, expectedVersion?: string): Promise<Resource> {
    // Take the version counter's lock before reading, so that no write can commit between the
    // checks below and the delete (an error rolls the counter back; an idempotent re-delete
    // leaves a gap in the versions, which is harmless).
    const rv = await this.nextVersion();
    const current = await this.mustGet(ref);
    if (expectedVersion !== undefined && current.metadata.resourceVersion !== expectedVersion) {
      throw new ConflictError(`${formatRef(ref)} was modified (resourceVersion ${current.metadata.resourceVersion}); get it again and retry`);
    }
    if (current.metadata.finalizers?.length) {
      if (current.metadata.deletionTimestamp) return current;
      const ts = this.now().toISOString();
      await this.exec
        .updateTable("resources")
        .set({ deletion_timestamp: ts, resource_version: rv, updated_at: ts })
        .where("uid", "=", current.metadata.uid)
        .execute();
      const marked: Resource = {
        ...current,
        metadata: { ...current.metadata, deletionTimestamp: ts, resourceVersion: String(rv), updatedAt: ts },
      };
      this.events.push({ type: "MODIFIED", resource: marked });
      return marked;
    }
    await this.exec.deleteFrom("resources").where("uid", "=", current.metadata.uid).execute();
    this.events.push({ type: "DELETED", resource: current });
    return current;
  }

  private async writeLabels(uid: string, labels: Record<string, string>, replace = false): Promise<void> {
    if (replace) await this.exec.deleteFrom("resource_labels").where("uid", "=", uid).execute();
    const rows = Object.entries(labels).map(([key, value]) => ({ uid, key, value }));
    if (rows.length) await this.exec.insertInto("resource_labels").values(rows).execute();
  }
}

function labelCondition(eb: ExpressionBuilder<Tables, "resources">, req: Requirement) {
  const sub = (values?: readonly string[]) => {
    let q = eb
      .selectFrom("resource_labels as l")
      .select(sql<number>`1`.as("one"))
      .whereRef("l.uid", "=", "resources.uid")
      .where("l.key", "=", req.key);
    if (values) q = q.where("l.value", "in", [...values]);
    return q;
  };
  switch (req.op) {
    case "eq":
      return eb.exists(sub([req.value]));
    case "neq":
      return eb.not(eb.exists(sub([req.value])));
    case "in":
      return eb.exists(sub(req.values));
    case "notin":
      return eb.not(eb.exists(sub(req.values)));
    case "exists":
      return eb.exists(sub());
    case "notexists":
      return eb.not(eb.exists(sub()));
  }
}

export class ResourceRepository {
  private readonly emitter = new EventEmitter();

  constructor(
    private readonly database: Database,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.emitter.setMaxListeners(0);
  }

  /** Runs `fn` in one transaction; its change events are published after commit. */
  async transaction<T>(fn: (s: ResourceSession) => Promise<T>): Promise<T> {
    const events: ResourceEvent[] = [];
    const result = await this.database.transaction((tx) => fn(new ResourceSession(tx, events, this.now)));
    for (const e of events) this.emitter.emit("event", e);
    return result;
  }

  /** Single reads, outside a transaction. */
  read(): ResourceSession {
    return new ResourceSession(this.database.db, [], this.now);
  }

  get(ref: ResourceRef): Promise<Resource | undefined> {
    return this.read().get(ref);
  }
  mustGet(ref: ResourceRef): Promise<Resource> {
    return this.read().mustGet(ref);
  }
  list(q: ListQuery): Promise<ListResult> {
    return this.read().list(q);
  }
  /** Every resource of a kind, following pages. */
  async listAll(q: Omit<ListQuery, "continueToken" | "limit">): Promise<Resource[]> {
    const out: Resource[] = [];
    let token: string | undefined;
    do {
      const page = await this.list({ ...q, limit: 500, ...(token ? { continueToken: token } : {}) });
      out.push(...page.items);
      token = page.continueToken;
    } while (token);
    return out;
  }
  create(n: NewResource): Promise<Resource> {
    return this.transaction((s) => s.create(n));
  }
  update(ref: ResourceRef, patch: ResourcePatch, expectedVersion?: string): Promise<Resource> {
    return this.transaction((s) => s.update(ref, patch, expectedVersion));
  }
  delete(ref: ResourceRef, expectedVersion?: string): Promise<Resource> {
    return this.transaction((s) => s.delete(ref, expectedVersion));
  }

  /** Change notifications for every kind. Returns an unsubscribe function. */
  watch(listener: (e: ResourceEvent) => void): () => void {
    this.emitter.on("event", listener);
    return () => this.emitter.off("event", listener);
  }
}
