/**
 * Persistence of registered models, versions, tags and aliases (one code path for SQLite and
 * PostgreSQL). Every write is one transaction; version numbers come from a per-model counter
 * bumped in that transaction, so they are 1, 2, 3… and never reused after a delete.
 *
 * No authorization here (the service does it); inputs are already validated.
 */
import { sql, type Kysely, type Selectable } from "kysely";
import { AlreadyExistsError, NotFoundError } from "../platform/errors.ts";
import type { Database } from "../store/database.ts";
import type { ModelVersionsTable, RegisteredModelsTable, Tables } from "../store/tables.ts";
import {
  IS_PROMPT_TAG_KEY,
  compareModelVersions,
  compareRegisteredModels,
  decodePageToken,
  encodePageToken,
  matchesModelVersion,
  matchesRegisteredModel,
  queriesPrompts,
  type ModelFilter,
  type ModelOrderBy,
  type ModelVersionOrderKey,
  type RegisteredModelOrderKey,
} from "../tracking/search/index.ts";
import { ACTIVE_STAGES, STAGES, invalid, tagsOf, type ModelVersion, type RegisteredModel, type RegisteredModelAlias, type Stage } from "./model.ts";

type Q = Kysely<Tables>;
type ModelRow = Selectable<RegisteredModelsTable>;
type VersionRow = Selectable<ModelVersionsTable>;

export interface NewModel {
  readonly name: string;
  readonly description?: string;
  readonly tags?: Readonly<Record<string, string>>;
  readonly deploymentJobId?: string;
  readonly userId?: string;
}

export interface NewVersion {
  readonly name: string;
  readonly source: string;
  readonly storageLocation: string;
  readonly runId?: string;
  readonly runLink?: string;
  readonly description?: string;
  readonly tags?: Readonly<Record<string, string>>;
  readonly modelId?: string;
  readonly userId?: string;
  readonly experimentId?: string;
  readonly pipelineRun?: string;
  readonly pipelineStep?: string;
}

export interface Page<T> {
  readonly items: T[];
  readonly nextPageToken?: string;
}

export interface SearchOptions<K extends string> {
  readonly filter: ModelFilter;
  readonly orderBy: readonly ModelOrderBy<K>[];
  readonly maxResults: number;
  readonly pageToken?: string;
}

/** A version with where it came from, for the lineage query. */
export interface VersionLineage {
  readonly version: ModelVersion;
  readonly experimentId?: string;
  readonly pipelineRun?: string;
  readonly pipelineStep?: string;
}

const notFoundModel = (name: string) => new NotFoundError(`Registered Model with name=${name} not found`);
const notFoundVersion = (name: string, version: number) => new NotFoundError(`Model Version (name=${name}, version=${version}) not found`);

function isUniqueViolation(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return code === "23505" || code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY";
}

/** Runs `fn` over `items` in chunks (bounded IN lists: SQLite and PostgreSQL cap parameters). */
async function chunked<T, R>(items: readonly T[], fn: (chunk: T[]) => Promise<R[]>, size = 500): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await fn(items.slice(i, i + size))));
  return out;
}

/**
 * Removes everything the registry keeps of a project (a deleted project, ProjectController):
 * its registered models with their versions, aliases and tags, and its logged models. One
 * transaction, children first.
 */
export async function purgeRegistryProject(database: Database, project: string): Promise<void> {
  await database.transaction(async (tx) => {
    for (const table of ["registered_model_aliases", "model_version_tags", "model_versions", "registered_model_tags", "registered_models", "logged_models"] as const) {
      await tx.deleteFrom(table).where("project", "=", project).execute();
    }
  });
}

export class RegistryStore {
  constructor(
    private readonly database: Database,
    private readonly clock: () => number = Date.now,
  ) {}

  private get db(): Q {
    return this.database.db;
  }

  // -------------------------------------------------------------------------------------------
  // Registered models
  // -------------------------------------------------------------------------------------------

  async createModel(project: string, m: NewModel): Promise<RegisteredModel> {
    const now = this.clock();
    try {
      await this.database.transaction(async (tx) => {
        const existing = await tx.selectFrom("registered_models").select("name").where("project", "=", project).where("name", "=", m.name).executeTakeFirst();
        if (existing) throw new AlreadyExistsError(`Registered Model (name=${m.name}) already exists.`);
        await tx
          .insertInto("registered_models")
          .values({
            project,
            name: m.name,
            description: m.description ?? null,
            creation_timestamp: now,
            last_updated_timestamp: now,
            user_id: m.userId ?? null,
            deployment_job_id: m.deploymentJobId ?? null,
            last_version: 0,
          })
          .execute();
        const tags = Object.entries(m.tags ?? {});
        if (tags.length) {
          await tx
            .insertInto("registered_model_tags")
            .values(tags.map(([key, value]) => ({ project, name: m.name, key, value })))
            .execute();
        }
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw new AlreadyExistsError(`Registered Model (name=${m.name}) already exists.`);
      throw e;
    }
    return this.getModel(project, m.name);
  }

  async getModel(project: string, name: string): Promise<RegisteredModel> {
    const row = await this.modelRow(this.db, project, name);
    if (!row) throw notFoundModel(name);
    const [model] = await this.hydrateModels(this.db, project, [row]);
    return model!;
  }

  /** True if the model exists (no error). */
  async hasModel(project: string, name: string): Promise<boolean> {
    return (await this.modelRow(this.db, project, name)) !== undefined;
  }

  async renameModel(project: string, name: string, newName: string): Promise<RegisteredModel> {
    try {
      await this.database.transaction(async (tx) => {
        await this.requireModel(tx, project, name);
        if (newName !== name) {
          const clash = await this.modelRow(tx, project, newName);
          if (clash) throw new AlreadyExistsError(`Registered Model (name=${newName}) already exists.`);
        }
        // Versions, tags and aliases follow by ON UPDATE CASCADE.
        await tx
          .updateTable("registered_models")
          .set({ name: newName, last_updated_timestamp: this.clock() })
          .where("project", "=", project)
          .where("name", "=", name)
          .execute();
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw new AlreadyExistsError(`Registered Model (name=${newName}) already exists.`);
      throw e;
    }
    return this.getModel(project, newName);
  }

  async updateModel(project: string, name: string, patch: { description?: string; deploymentJobId?: string }): Promise<RegisteredModel> {
    await this.database.transaction(async (tx) => {
      await this.requireModel(tx, project, name);
      await tx
        .updateTable("registered_models")
        .set({
          last_updated_timestamp: this.clock(),
          ...(patch.description !== undefined ? { description: patch.description } : {}),
          ...(patch.deploymentJobId !== undefined ? { deployment_job_id: patch.deploymentJobId || null } : {}),
        })
        .where("project", "=", project)
        .where("name", "=", name)
        .execute();
    });
    return this.getModel(project, name);
  }

  async deleteModel(project: string, name: string): Promise<void> {
    const result = await this.db.deleteFrom("registered_models").where("project", "=", project).where("name", "=", name).executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) throw notFoundModel(name);
  }

  async setModelTag(project: string, name: string, key: string, value: string): Promise<void> {
    await this.database.transaction(async (tx) => {
      await this.requireModel(tx, project, name);
      await tx
        .insertInto("registered_model_tags")
        .values({ project, name, key, value })
        .onConflict((oc) => oc.columns(["project", "name", "key"]).doUpdateSet({ value }))
        .execute();
    });
  }

  async deleteModelTag(project: string, name: string, key: string): Promise<void> {
    await this.database.transaction(async (tx) => {
      await this.requireModel(tx, project, name);
      // As MLflow: deleting a tag that is not set is not an error (the model must exist).
      await tx.deleteFrom("registered_model_tags").where("project", "=", project).where("name", "=", name).where("key", "=", key).execute();
    });
  }

  /**
   * registered-models/search: the filter and ordering are evaluated with the shared search
   * module (same semantics as MLflow), after a SQL pre-selection on an exact `name =` clause.
   * Prompts (3.x) are left out unless the filter asks for them.
   */
  async searchModels(project: string, o: SearchOptions<RegisteredModelOrderKey>): Promise<Page<RegisteredModel>> {
    const { offset } = decodePageToken(o.pageToken);
    const exactName = o.filter.clauses.find((c) => c.entity === "attribute" && c.key === "name" && c.predicate.type === "string" && c.predicate.op === "=");
    let q = this.db.selectFrom("registered_models").selectAll().where("project", "=", project);
    if (exactName && exactName.predicate.type === "string") q = q.where("name", "=", exactName.predicate.value);
    const rows = await q.execute();
    const tags = await this.modelTags(this.db, project, rows.map((r) => r.name));
    const prompts = queriesPrompts(o.filter);
    const views = rows
      .map((r) => ({ row: r, name: r.name, creation_timestamp: r.creation_timestamp, last_updated_timestamp: r.last_updated_timestamp, tags: tags.get(r.name) ?? {} }))
      .filter((v) => prompts || v.tags[IS_PROMPT_TAG_KEY]?.toLowerCase() !== "true")
      .filter((v) => matchesRegisteredModel(o.filter, v));
    views.sort(compareRegisteredModels(o.orderBy));
    const page = views.slice(offset, offset + o.maxResults);
    const items = await this.hydrateModels(this.db, project, page.map((v) => v.row), tags);
    return { items, ...(offset + o.maxResults < views.length ? { nextPageToken: encodePageToken({ offset: offset + o.maxResults }) } : {}) };
  }

  // -------------------------------------------------------------------------------------------
  // Versions
  // -------------------------------------------------------------------------------------------

  async createVersion(project: string, v: NewVersion): Promise<ModelVersion> {
    const now = this.clock();
    const version = await this.database.transaction(async (tx) => {
      // The counter update locks the model row (PostgreSQL); SQLite serializes writers anyway.
      const bumped = await tx
        .updateTable("registered_models")
        .set((eb) => ({ last_version: eb("last_version", "+", 1), last_updated_timestamp: now }))
        .where("project", "=", project)
        .where("name", "=", v.name)
        .returning("last_version")
        .executeTakeFirst();
      if (!bumped) throw notFoundModel(v.name);
      const n = Number(bumped.last_version);
      await tx
        .insertInto("model_versions")
        .values({
          project,
          name: v.name,
          version: n,
          creation_timestamp: now,
          last_updated_timestamp: now,
          user_id: v.userId ?? null,
          description: v.description ?? null,
          source: v.source,
          storage_location: v.storageLocation,
          run_id: v.runId || null,
          run_link: v.runLink ?? null,
          status: "READY",
          status_message: null,
          current_stage: "None",
          model_id: v.modelId ?? null,
          experiment_id: v.experimentId ?? null,
          pipeline_run: v.pipelineRun ?? null,
          pipeline_step: v.pipelineStep ?? null,
        })
        .execute();
      const tags = Object.entries(v.tags ?? {});
      if (tags.length) {
        await tx
          .insertInto("model_version_tags")
          .values(tags.map(([key, value]) => ({ project, name: v.name, version: n, key, value })))
          .execute();
      }
      return n;
    });
    return this.getVersion(project, v.name, version);
  }

  async getVersion(project: string, name: string, version: number): Promise<ModelVersion> {
    const row = await this.versionRow(this.db, project, name, version);
    if (!row) throw notFoundVersion(name, version);
    const [mv] = await this.hydrateVersions(this.db, project, [row]);
    return mv!;
  }

  async getVersionLineage(project: string, name: string, version: number): Promise<VersionLineage> {
    const row = await this.versionRow(this.db, project, name, version);
    if (!row) throw notFoundVersion(name, version);
    const [mv] = await this.hydrateVersions(this.db, project, [row]);
    return {
      version: mv!,
      ...(row.experiment_id ? { experimentId: row.experiment_id } : {}),
      ...(row.pipeline_run ? { pipelineRun: row.pipeline_run } : {}),
      ...(row.pipeline_step ? { pipelineStep: row.pipeline_step } : {}),
    };
  }

  /** What get-download-uri answers. */
  async downloadUri(project: string, name: string, version: number): Promise<string> {
    const row = await this.versionRow(this.db, project, name, version);
    if (!row) throw notFoundVersion(name, version);
    return row.storage_location;
  }

  async updateVersion(project: string, name: string, version: number, patch: { description?: string }): Promise<ModelVersion> {
    await this.database.transaction(async (tx) => {
      await this.requireVersion(tx, project, name, version);
      await tx
        .updateTable("model_versions")
        .set({ last_updated_timestamp: this.clock(), ...(patch.description !== undefined ? { description: patch.description } : {}) })
        .where("project", "=", project)
        .where("name", "=", name)
        .where("version", "=", version)
        .execute();
    });
    return this.getVersion(project, name, version);
  }

  /**
   * Moves a version to `stage`. With `archiveExisting` (only for Staging / Production) the other
   * versions in that stage move to Archived, in the same transaction.
   */
  async transitionStage(project: string, name: string, version: number, stage: Stage, archiveExisting: boolean): Promise<ModelVersion> {
    if (archiveExisting && !ACTIVE_STAGES.includes(stage)) {
      throw invalid(
        "archive_existing_versions",
        `Model version transition cannot archive existing model versions because '${stage}' is not an Active stage. Valid stages are ${ACTIVE_STAGES.join(", ")}`,
      );
    }
    const now = this.clock();
    await this.database.transaction(async (tx) => {
      await this.requireVersion(tx, project, name, version);
      if (archiveExisting) {
        await tx
          .updateTable("model_versions")
          .set({ current_stage: "Archived", last_updated_timestamp: now })
          .where("project", "=", project)
          .where("name", "=", name)
          .where("current_stage", "=", stage)
          .where("version", "!=", version)
          .execute();
      }
      await tx
        .updateTable("model_versions")
        .set({ current_stage: stage, last_updated_timestamp: now })
        .where("project", "=", project)
        .where("name", "=", name)
        .where("version", "=", version)
        .execute();
      await tx.updateTable("registered_models").set({ last_updated_timestamp: now }).where("project", "=", project).where("name", "=", name).execute();
    });
    return this.getVersion(project, name, version);
  }

  /** Deletes a version with its tags and the aliases pointing at it (cascade). */
  async deleteVersion(project: string, name: string, version: number): Promise<void> {
    await this.database.transaction(async (tx) => {
      const r = await tx.deleteFrom("model_versions").where("project", "=", project).where("name", "=", name).where("version", "=", version).executeTakeFirst();
      if (Number(r.numDeletedRows) === 0) throw notFoundVersion(name, version);
      await tx.updateTable("registered_models").set({ last_updated_timestamp: this.clock() }).where("project", "=", project).where("name", "=", name).execute();
    });
  }

  async setVersionTag(project: string, name: string, version: number, key: string, value: string): Promise<void> {
    await this.database.transaction(async (tx) => {
      await this.requireVersion(tx, project, name, version);
      await tx
        .insertInto("model_version_tags")
        .values({ project, name, version, key, value })
        .onConflict((oc) => oc.columns(["project", "name", "version", "key"]).doUpdateSet({ value }))
        .execute();
    });
  }

  async deleteVersionTag(project: string, name: string, version: number, key: string): Promise<void> {
    await this.database.transaction(async (tx) => {
      await this.requireVersion(tx, project, name, version);
      await tx
        .deleteFrom("model_version_tags")
        .where("project", "=", project)
        .where("name", "=", name)
        .where("version", "=", version)
        .where("key", "=", key)
        .execute();
    });
  }

  /** The latest version per stage (all stages, or only `stages`), by version number ascending. */
  async latestVersions(project: string, name: string, stages?: readonly Stage[]): Promise<ModelVersion[]> {
    if (!(await this.modelRow(this.db, project, name))) throw notFoundModel(name);
    const rows = await this.db.selectFrom("model_versions").selectAll().where("project", "=", project).where("name", "=", name).execute();
    const latest = latestPerStage(rows);
    const wanted = new Set<Stage>(stages && stages.length ? stages : STAGES);
    return this.hydrateVersions(
      this.db,
      project,
      latest.filter((r) => wanted.has(r.current_stage as Stage)),
    );
  }

  async searchVersions(project: string, o: SearchOptions<ModelVersionOrderKey>): Promise<Page<ModelVersion>> {
    const { offset } = decodePageToken(o.pageToken);
    let q = this.db.selectFrom("model_versions").selectAll().where("project", "=", project);
    for (const c of o.filter.clauses) {
      if (c.entity !== "attribute") continue;
      if (c.key === "name" && c.predicate.type === "string" && c.predicate.op === "=") q = q.where("name", "=", c.predicate.value);
      if (c.key === "run_id" && c.predicate.type === "string" && c.predicate.op === "=") q = q.where("run_id", "=", c.predicate.value);
      if (c.key === "run_id" && c.predicate.type === "list" && c.predicate.op === "IN" && c.predicate.values.length <= 500) {
        q = c.predicate.values.length ? q.where("run_id", "in", [...c.predicate.values]) : q.where(sql<boolean>`1 = 0`);
      }
    }
    const rows = await q.execute();
    const names = [...new Set(rows.map((r) => r.name))];
    const versionTags = await this.versionTags(this.db, project, names);
    const prompts = queriesPrompts(o.filter);
    const modelTags = prompts ? new Map<string, Record<string, string>>() : await this.modelTags(this.db, project, names);
    const views = rows
      .map((r) => ({
        row: r,
        name: r.name,
        version: r.version,
        creation_timestamp: r.creation_timestamp,
        last_updated_timestamp: r.last_updated_timestamp,
        run_id: r.run_id,
        source: r.source,
        tags: versionTags.get(`${r.name}\u0000${r.version}`) ?? {},
      }))
      .filter((v) => prompts || modelTags.get(v.name)?.[IS_PROMPT_TAG_KEY]?.toLowerCase() !== "true")
      .filter((v) => matchesModelVersion(o.filter, v));
    views.sort(compareModelVersions(o.orderBy));
    const page = views.slice(offset, offset + o.maxResults);
    const items = await this.hydrateVersions(this.db, project, page.map((v) => v.row), versionTags);
    return { items, ...(offset + o.maxResults < views.length ? { nextPageToken: encodePageToken({ offset: offset + o.maxResults }) } : {}) };
  }

  /** Versions registered from runs of a pipeline run: recorded at creation, or (runIds) via tracking's runs. */
  async versionsOfPipelineRun(project: string, pipelineRun: string, runIds: readonly string[]): Promise<VersionLineage[]> {
    const rows = await this.db
      .selectFrom("model_versions")
      .selectAll()
      .where("project", "=", project)
      .where((eb) => (runIds.length ? eb.or([eb("pipeline_run", "=", pipelineRun), eb("run_id", "in", [...runIds])]) : eb("pipeline_run", "=", pipelineRun)))
      .orderBy("name")
      .orderBy("version")
      .execute();
    const versions = await this.hydrateVersions(this.db, project, rows);
    return rows.map((r, i) => ({
      version: versions[i]!,
      ...(r.experiment_id ? { experimentId: r.experiment_id } : {}),
      ...(r.pipeline_run ? { pipelineRun: r.pipeline_run } : {}),
      ...(r.pipeline_step ? { pipelineStep: r.pipeline_step } : {}),
    }));
  }

  /** Versions registered from a logged model (its `registrations`). */
  async versionsOfLoggedModel(project: string, modelId: string): Promise<{ name: string; version: string }[]> {
    const rows = await this.db
      .selectFrom("model_versions")
      .select(["name", "version"])
      .where("project", "=", project)
      .where("model_id", "=", modelId)
      .orderBy("name")
      .orderBy("version")
      .execute();
    return rows.map((r) => ({ name: r.name, version: String(r.version) }));
  }

  /** All versions of a model, newest first (native API). */
  async versionsOf(project: string, name: string): Promise<ModelVersion[]> {
    if (!(await this.modelRow(this.db, project, name))) throw notFoundModel(name);
    const rows = await this.db.selectFrom("model_versions").selectAll().where("project", "=", project).where("name", "=", name).orderBy("version", "desc").execute();
    return this.hydrateVersions(this.db, project, rows);
  }

  // -------------------------------------------------------------------------------------------
  // Aliases
  // -------------------------------------------------------------------------------------------

  /** Points `alias` at `version`, moving it if it pointed elsewhere. */
  async setAlias(project: string, name: string, alias: string, version: number): Promise<void> {
    await this.database.transaction(async (tx) => {
      await this.requireModel(tx, project, name);
      await this.requireVersion(tx, project, name, version);
      await tx
        .insertInto("registered_model_aliases")
        .values({ project, name, alias, version })
        .onConflict((oc) => oc.columns(["project", "name", "alias"]).doUpdateSet({ version }))
        .execute();
    });
  }

  /** Idempotent: deleting an alias that is not set succeeds. */
  async deleteAlias(project: string, name: string, alias: string): Promise<void> {
    await this.database.transaction(async (tx) => {
      await this.requireModel(tx, project, name);
      await tx.deleteFrom("registered_model_aliases").where("project", "=", project).where("name", "=", name).where("alias", "=", alias).execute();
    });
  }

  /** The version an alias points at; 400 INVALID_PARAMETER_VALUE if unset (as MLflow). */
  async versionByAlias(project: string, name: string, alias: string): Promise<ModelVersion> {
    if (!(await this.modelRow(this.db, project, name))) throw notFoundModel(name);
    const row = await this.db
      .selectFrom("registered_model_aliases")
      .select("version")
      .where("project", "=", project)
      .where("name", "=", name)
      .where("alias", "=", alias)
      .executeTakeFirst();
    if (!row) throw invalid("alias", `Registered model alias ${alias} not found.`);
    return this.getVersion(project, name, Number(row.version));
  }

  // -------------------------------------------------------------------------------------------
  // Internals
  // -------------------------------------------------------------------------------------------

  private modelRow(q: Q, project: string, name: string): Promise<ModelRow | undefined> {
    return q.selectFrom("registered_models").selectAll().where("project", "=", project).where("name", "=", name).executeTakeFirst();
  }

  private versionRow(q: Q, project: string, name: string, version: number): Promise<VersionRow | undefined> {
    return q.selectFrom("model_versions").selectAll().where("project", "=", project).where("name", "=", name).where("version", "=", version).executeTakeFirst();
  }

  private async requireModel(q: Q, project: string, name: string): Promise<ModelRow> {
    const row = await this.modelRow(q, project, name);
    if (!row) throw notFoundModel(name);
    return row;
  }

  private async requireVersion(q: Q, project: string, name: string, version: number): Promise<VersionRow> {
    const row = await this.versionRow(q, project, name, version);
    if (!row) {
      if (!(await this.modelRow(q, project, name))) throw notFoundModel(name);
      throw notFoundVersion(name, version);
    }
    return row;
  }

  private async modelTags(q: Q, project: string, names: readonly string[]): Promise<Map<string, Record<string, string>>> {
    const rows = await chunked(names, (chunk) =>
      q.selectFrom("registered_model_tags").select(["name", "key", "value"]).where("project", "=", project).where("name", "in", chunk).execute(),
    );
    const out = new Map<string, Record<string, string>>();
    for (const r of rows) {
      const t = out.get(r.name) ?? {};
      t[r.key] = r.value;
      out.set(r.name, t);
    }
    return out;
  }

  /** Tags keyed by `name \0 version`. */
  private async versionTags(q: Q, project: string, names: readonly string[]): Promise<Map<string, Record<string, string>>> {
    const rows = await chunked(names, (chunk) =>
      q.selectFrom("model_version_tags").select(["name", "version", "key", "value"]).where("project", "=", project).where("name", "in", chunk).execute(),
    );
    const out = new Map<string, Record<string, string>>();
    for (const r of rows) {
      const k = `${r.name}\u0000${r.version}`;
      const t = out.get(k) ?? {};
      t[r.key] = r.value;
      out.set(k, t);
    }
    return out;
  }

  private async aliases(q: Q, project: string, names: readonly string[]): Promise<{ name: string; alias: string; version: number }[]> {
    const rows = await chunked(names, (chunk) =>
      q.selectFrom("registered_model_aliases").select(["name", "alias", "version"]).where("project", "=", project).where("name", "in", chunk).execute(),
    );
    return rows.map((r) => ({ ...r, version: Number(r.version) })).sort((a, b) => (a.alias < b.alias ? -1 : a.alias > b.alias ? 1 : 0));
  }

  private async hydrateVersions(q: Q, project: string, rows: readonly VersionRow[], knownTags?: Map<string, Record<string, string>>): Promise<ModelVersion[]> {
    if (rows.length === 0) return [];
    const names = [...new Set(rows.map((r) => r.name))];
    const tags = knownTags ?? (await this.versionTags(q, project, names));
    const aliases = await this.aliases(q, project, names);
    const byVersion = new Map<string, string[]>();
    for (const a of aliases) {
      const k = `${a.name}\u0000${a.version}`;
      byVersion.set(k, [...(byVersion.get(k) ?? []), a.alias]);
    }
    return rows.map((r) => {
      const k = `${r.name}\u0000${r.version}`;
      return toVersion(r, tags.get(k) ?? {}, byVersion.get(k) ?? []);
    });
  }

  private async hydrateModels(q: Q, project: string, rows: readonly ModelRow[], knownTags?: Map<string, Record<string, string>>): Promise<RegisteredModel[]> {
    if (rows.length === 0) return [];
    const names = rows.map((r) => r.name);
    const tags = knownTags ?? (await this.modelTags(q, project, names));
    const aliases = await this.aliases(q, project, names);
    const versionRows = await chunked(names, (chunk) => q.selectFrom("model_versions").selectAll().where("project", "=", project).where("name", "in", chunk).execute());
    const byModel = new Map<string, VersionRow[]>();
    for (const v of versionRows) byModel.set(v.name, [...(byModel.get(v.name) ?? []), v]);
    const latestRows = [...byModel.values()].flatMap((vs) => latestPerStage(vs));
    const latest = await this.hydrateVersions(q, project, latestRows);
    const latestByModel = new Map<string, ModelVersion[]>();
    for (const mv of latest) latestByModel.set(mv.name, [...(latestByModel.get(mv.name) ?? []), mv]);
    return rows.map((r) => {
      const modelAliases: RegisteredModelAlias[] = aliases.filter((a) => a.name === r.name).map((a) => ({ alias: a.alias, version: String(a.version) }));
      const modelTags = tagsOf(tags.get(r.name) ?? {});
      const latestVersions = latestByModel.get(r.name);
      return {
        name: r.name,
        creation_timestamp: Number(r.creation_timestamp),
        last_updated_timestamp: Number(r.last_updated_timestamp),
        ...(r.user_id ? { user_id: r.user_id } : {}),
        ...(r.description ? { description: r.description } : {}),
        ...(latestVersions?.length ? { latest_versions: latestVersions } : {}),
        ...(modelTags ? { tags: modelTags } : {}),
        ...(modelAliases.length ? { aliases: modelAliases } : {}),
        ...(r.deployment_job_id ? { deployment_job_id: r.deployment_job_id } : {}),
      };
    });
  }
}

/** Per stage, the row with the highest version; ordered by version. */
function latestPerStage(rows: readonly VersionRow[]): VersionRow[] {
  const best = new Map<string, VersionRow>();
  for (const r of rows) {
    const cur = best.get(r.current_stage);
    if (!cur || Number(cur.version) < Number(r.version)) best.set(r.current_stage, r);
  }
  return [...best.values()].sort((a, b) => Number(a.version) - Number(b.version));
}

function toVersion(r: VersionRow, tags: Record<string, string>, aliases: string[]): ModelVersion {
  const t = tagsOf(tags);
  return {
    name: r.name,
    version: String(r.version),
    creation_timestamp: Number(r.creation_timestamp),
    last_updated_timestamp: Number(r.last_updated_timestamp),
    ...(r.user_id ? { user_id: r.user_id } : {}),
    current_stage: r.current_stage as Stage,
    description: r.description ?? "",
    source: r.source,
    ...(r.run_id ? { run_id: r.run_id } : {}),
    status: "READY",
    ...(r.status_message ? { status_message: r.status_message } : {}),
    ...(t ? { tags: t } : {}),
    run_link: r.run_link ?? "",
    ...(aliases.length ? { aliases } : {}),
    ...(r.model_id ? { model_id: r.model_id } : {}),
  };
}
