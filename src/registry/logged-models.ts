/**
 * MLflow 3.x logged models: a model logged by a run outside the run's artifacts, at
 * `<experiment artifact location>/models/<model_id>/artifacts`. 3.x clients create one
 * (PENDING), upload its files through mlflow-artifacts, then finalize it (READY or
 * UPLOAD_FAILED); `register_model` finds it by search and registers `models:/<model_id>`.
 */
import { randomUUID } from "node:crypto";
import type { Selectable } from "kysely";
import { NotFoundError } from "../platform/errors.ts";
import type { Database } from "../store/database.ts";
import type { LoggedModelsTable } from "../store/tables.ts";
import { parseComparisons, type RawComparison } from "../tracking/search/clauses.ts";
import { compareCodePoints, decodePageToken, encodePageToken, testList, testNumber, testString } from "../tracking/search/index.ts";
import type { ListPredicate, NumberPredicate, StringPredicate } from "../tracking/search/index.ts";
import { invalid, tagsOf, type LoggedModel, type LoggedModelStatus } from "./model.ts";

type Row = Selectable<LoggedModelsTable>;

export interface NewLoggedModel {
  readonly experimentId: string;
  readonly name: string;
  readonly modelType?: string;
  readonly sourceRunId?: string;
  readonly params: Readonly<Record<string, string>>;
  readonly tags: Readonly<Record<string, string>>;
  readonly userId?: string;
  /** The experiment's artifact location (`mlflow-artifacts:/<exp>` by default). */
  readonly experimentArtifactLocation: string;
}

const STRING_ATTRIBUTES = ["name", "model_id", "model_type", "status", "source_run_id", "experiment_id"] as const;
type StringAttribute = (typeof STRING_ATTRIBUTES)[number];
const NUMERIC_ATTRIBUTES: Readonly<Record<string, "creation_timestamp" | "last_updated_timestamp">> = {
  creation_timestamp: "creation_timestamp",
  creation_time: "creation_timestamp",
  last_updated_timestamp: "last_updated_timestamp",
  last_updated_time: "last_updated_timestamp",
};

type Clause =
  | { readonly kind: "string"; readonly key: StringAttribute; readonly predicate: StringPredicate | ListPredicate }
  | { readonly kind: "number"; readonly key: "creation_timestamp" | "last_updated_timestamp"; readonly predicate: NumberPredicate }
  | { readonly kind: "param" | "tag"; readonly key: string; readonly predicate: StringPredicate };

export interface LoggedModelOrder {
  readonly field: "name" | "model_id" | "creation_timestamp" | "last_updated_timestamp" | "status" | "model_type";
  readonly ascending: boolean;
}

const ORDER_FIELDS: Readonly<Record<string, LoggedModelOrder["field"]>> = {
  name: "name",
  model_id: "model_id",
  status: "status",
  model_type: "model_type",
  creation_timestamp: "creation_timestamp",
  creation_time: "creation_timestamp",
  last_updated_timestamp: "last_updated_timestamp",
  last_updated_time: "last_updated_timestamp",
};

/** logged-models/search `order_by`: `[{field_name, ascending}]` (strings "<field> [ASC|DESC]" accepted too). */
export function parseLoggedModelOrderBy(value: unknown): LoggedModelOrder[] {
  if (value === undefined || value === null) return [];
  const items = Array.isArray(value) ? value : [value];
  return items.map((item, i) => {
    let field: unknown;
    let ascending = true;
    if (typeof item === "string") {
      const [f, dir, ...rest] = item.trim().split(/\s+/u);
      if (rest.length || (dir !== undefined && !/^(asc|desc)$/iu.test(dir))) throw invalid("order_by", `Invalid order_by clause '${item}'.`);
      field = f;
      ascending = dir === undefined || dir.toLowerCase() === "asc";
    } else if (typeof item === "object" && item !== null) {
      const o = item as Record<string, unknown>;
      field = o["field_name"];
      if (o["ascending"] !== undefined) {
        if (typeof o["ascending"] !== "boolean") throw invalid(`order_by[${i}].ascending`, `order_by[${i}].ascending must be a boolean.`);
        ascending = o["ascending"];
      }
    }
    if (typeof field !== "string" || !Object.hasOwn(ORDER_FIELDS, field)) {
      throw invalid(`order_by[${i}].field_name`, `Invalid order by field ${JSON.stringify(field)}. Valid fields are ${Object.keys(ORDER_FIELDS).join(", ")}.`);
    }
    return { field: ORDER_FIELDS[field]!, ascending };
  });
}

/**
 * logged-models/search filter: attributes `name`, `model_id`, `model_type`, `status`,
 * `source_run_id` (`= != LIKE ILIKE IN NOT IN`), `creation_timestamp`, `last_updated_timestamp`
 * (numeric), `params.<k>` and `tags.<k>` (`= != LIKE ILIKE`), joined by AND.
 */
export function parseLoggedModelFilter(filter: string | undefined): Clause[] {
  if (!filter) return [];
  return parseComparisons(filter).map(toClause);
}

function toClause(c: RawComparison): Clause {
  const entity = c.id.entity?.toLowerCase();
  const bad = (why: string): never => {
    throw invalid("filter", `Invalid filter '${c.text}': ${why}`);
  };
  if (entity === "metric" || entity === "metrics") return bad("filtering logged models by metrics is not supported by this server");
  if (entity === "param" || entity === "params" || entity === "tag" || entity === "tags") {
    if (!["=", "!=", "LIKE", "ILIKE"].includes(c.comparator)) bad(`comparator '${c.comparator}' is not one of =, !=, LIKE, ILIKE`);
    if (c.value.kind !== "string") return bad("expected a quoted string value");
    return {
      kind: entity.startsWith("param") ? "param" : "tag",
      key: c.id.key,
      predicate: { type: "string", op: c.comparator as StringPredicate["op"], value: c.value.value },
    };
  }
  if (entity !== undefined && !["attribute", "attributes", "attr"].includes(entity)) return bad(`unknown entity '${c.id.entity}'`);
  const numeric = Object.hasOwn(NUMERIC_ATTRIBUTES, c.id.key) ? NUMERIC_ATTRIBUTES[c.id.key] : undefined;
  if (numeric) {
    if (!["=", "!=", ">", ">=", "<", "<="].includes(c.comparator)) bad(`comparator '${c.comparator}' is not numeric`);
    if (c.value.kind !== "number") return bad("expected a number");
    return { kind: "number", key: numeric, predicate: { type: "number", op: c.comparator as NumberPredicate["op"], value: c.value.value } };
  }
  if (!(STRING_ATTRIBUTES as readonly string[]).includes(c.id.key)) {
    return bad(`unknown attribute '${c.id.key}'; valid attributes are ${[...STRING_ATTRIBUTES, ...Object.keys(NUMERIC_ATTRIBUTES)].join(", ")}`);
  }
  const key = c.id.key as StringAttribute;
  if (c.comparator === "IN" || c.comparator === "NOT IN") {
    if (c.value.kind !== "list") return bad(`${c.comparator} requires a list of quoted strings`);
    return { kind: "string", key, predicate: { type: "list", op: c.comparator, values: c.value.values } };
  }
  if (!["=", "!=", "LIKE", "ILIKE"].includes(c.comparator)) bad(`comparator '${c.comparator}' is not one of =, !=, LIKE, ILIKE, IN, NOT IN`);
  if (c.value.kind !== "string") return bad("expected a quoted string value");
  return { kind: "string", key, predicate: { type: "string", op: c.comparator as StringPredicate["op"], value: c.value.value } };
}

function parseJson(text: string): Record<string, string> {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, string>) : {};
  } catch {
    return {};
  }
}

function matches(clauses: readonly Clause[], r: Row, params: Record<string, string>, tags: Record<string, string>): boolean {
  return clauses.every((c) => {
    switch (c.kind) {
      case "number":
        return testNumber(c.predicate, Number(r[c.key]));
      case "param":
        return testString(c.predicate, Object.hasOwn(params, c.key) ? params[c.key] : undefined);
      case "tag":
        return testString(c.predicate, Object.hasOwn(tags, c.key) ? tags[c.key] : undefined);
      case "string": {
        const v = r[c.key];
        return c.predicate.type === "string" ? testString(c.predicate, v) : testList(c.predicate, v);
      }
    }
  });
}

export const notFoundLoggedModel = (id: string) => new NotFoundError(`Logged model with ID '${id}' not found.`);

export class LoggedModelStore {
  constructor(
    private readonly database: Database,
    private readonly clock: () => number = Date.now,
  ) {}

  async create(project: string, m: NewLoggedModel): Promise<Row> {
    const modelId = `m-${randomUUID().replaceAll("-", "")}`;
    const now = this.clock();
    const row: Row = {
      model_id: modelId,
      project,
      experiment_id: m.experimentId,
      name: m.name,
      model_type: m.modelType ?? null,
      source_run_id: m.sourceRunId || null,
      status: "LOGGED_MODEL_PENDING",
      status_message: null,
      artifact_location: `${m.experimentArtifactLocation.replace(/\/+$/u, "")}/models/${modelId}/artifacts`,
      params: JSON.stringify(m.params),
      tags: JSON.stringify(m.tags),
      user_id: m.userId ?? null,
      creation_timestamp: now,
      last_updated_timestamp: now,
    };
    await this.database.db.insertInto("logged_models").values(row).execute();
    return row;
  }

  /** A logged model by id (ids are global; callers check its `project`). */
  async find(modelId: string): Promise<Row | undefined> {
    return this.database.db.selectFrom("logged_models").selectAll().where("model_id", "=", modelId).executeTakeFirst();
  }

  async get(modelId: string): Promise<Row> {
    const row = await this.find(modelId);
    if (!row) throw notFoundLoggedModel(modelId);
    return row;
  }

  async finalize(modelId: string, status: LoggedModelStatus): Promise<Row> {
    const r = await this.database.db.updateTable("logged_models").set({ status, last_updated_timestamp: this.clock() }).where("model_id", "=", modelId).executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) throw notFoundLoggedModel(modelId);
    return this.get(modelId);
  }

  async delete(modelId: string): Promise<void> {
    const r = await this.database.db.deleteFrom("logged_models").where("model_id", "=", modelId).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw notFoundLoggedModel(modelId);
  }

  /** Read-modify-write of a JSON column, in one transaction (row-locked on PostgreSQL). */
  private async modify(modelId: string, column: "tags" | "params", fn: (current: Record<string, string>) => Record<string, string>): Promise<Row> {
    await this.database.transaction(async (tx) => {
      let q = tx.selectFrom("logged_models").select(["tags", "params"]).where("model_id", "=", modelId);
      if (this.database.engine === "postgres") q = q.forUpdate();
      const row = await q.executeTakeFirst();
      if (!row) throw notFoundLoggedModel(modelId);
      const next = fn(parseJson(row[column]));
      await tx
        .updateTable("logged_models")
        .set({ [column]: JSON.stringify(next), last_updated_timestamp: this.clock() })
        .where("model_id", "=", modelId)
        .execute();
    });
    return this.get(modelId);
  }

  setTags(modelId: string, tags: Readonly<Record<string, string>>): Promise<Row> {
    return this.modify(modelId, "tags", (cur) => ({ ...cur, ...tags }));
  }

  async deleteTag(modelId: string, key: string): Promise<void> {
    await this.modify(modelId, "tags", (cur) => {
      if (!Object.hasOwn(cur, key)) throw new NotFoundError(`No tag with key '${key}' found for model with ID '${modelId}'.`);
      const { [key]: _gone, ...rest } = cur;
      return rest;
    });
  }

  /** Params are immutable: the same value again is fine, a different one is 400 (as run params). */
  async logParams(modelId: string, params: Readonly<Record<string, string>>): Promise<void> {
    await this.modify(modelId, "params", (cur) => {
      for (const [k, v] of Object.entries(params)) {
        if (Object.hasOwn(cur, k) && cur[k] !== v) {
          throw invalid("params", `Changing param values is not allowed. Param with key='${k}' was already logged with value='${cur[k]}' for model with ID '${modelId}'. Attempted logging new value '${v}'.`);
        }
      }
      return { ...cur, ...params };
    });
  }

  async search(
    o: { projects: readonly string[]; experimentIds: readonly string[]; filter: readonly Clause[]; orderBy: readonly LoggedModelOrder[]; maxResults: number; pageToken?: string },
  ): Promise<{ items: Row[]; nextPageToken?: string }> {
    const { offset } = decodePageToken(o.pageToken);
    if (o.projects.length === 0) return { items: [] };
    let q = this.database.db.selectFrom("logged_models").selectAll().where("project", "in", [...o.projects]);
    if (o.experimentIds.length) q = q.where("experiment_id", "in", [...o.experimentIds]);
    const rows = (await q.execute()).filter((r) => matches(o.filter, r, parseJson(r.params), parseJson(r.tags)));
    const order: LoggedModelOrder[] = o.orderBy.length ? [...o.orderBy] : [{ field: "creation_timestamp", ascending: false }];
    rows.sort((a, b) => {
      for (const ob of order) {
        const x = a[ob.field];
        const y = b[ob.field];
        if (x === y) continue;
        if (x === null) return 1;
        if (y === null) return -1;
        const c = typeof x === "number" && typeof y === "number" ? x - y : compareCodePoints(String(x), String(y));
        if (c !== 0) return ob.ascending ? c : -c;
      }
      return compareCodePoints(a.model_id, b.model_id);
    });
    const items = rows.slice(offset, offset + o.maxResults);
    return { items, ...(offset + o.maxResults < rows.length ? { nextPageToken: encodePageToken({ offset: offset + o.maxResults }) } : {}) };
  }
}

/** Wire shape of a logged model (with its registrations). */
export function toLoggedModel(r: Row, registrations: { name: string; version: string }[] = []): LoggedModel {
  const tags = tagsOf(parseJson(r.tags));
  const params = tagsOf(parseJson(r.params));
  return {
    info: {
      model_id: r.model_id,
      experiment_id: r.experiment_id,
      name: r.name,
      creation_timestamp_ms: Number(r.creation_timestamp),
      last_updated_timestamp_ms: Number(r.last_updated_timestamp),
      artifact_uri: r.artifact_location,
      status: r.status as LoggedModelStatus,
      ...(r.model_type ? { model_type: r.model_type } : {}),
      ...(r.source_run_id ? { source_run_id: r.source_run_id } : {}),
      ...(r.status_message ? { status_message: r.status_message } : {}),
      ...(tags ? { tags } : {}),
      ...(registrations.length ? { registrations } : {}),
    },
    data: { ...(params ? { params } : {}) },
  };
}
