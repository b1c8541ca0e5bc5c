/**
 * Tracking operations as MLflow defines them, over decoded MLflow input. Used by the MLflow
 * routes (mlflow-routes.ts) and the native API / CLI routes (native-routes.ts).
 */
import {
  DEFAULT_EXPERIMENT_NAME,
  MlflowError,
  RawJson,
  encodeDouble,
  objectList,
  optEnum,
  optObject,
  optInt64,
  optString,
  reqDouble,
  reqInt64,
  reqString,
  reqStringAllowEmpty,
  runIdOf,
  stringList,
  type CallScope,
  type ExperimentRow,
  type MlflowInput,
  type RunRow,
  type TrackingAccess,
} from "../mlflow/index.ts";
import { experimentJson, metricJson, runInfoJson, runJson } from "./encode.ts";
import { searchExperiments } from "./experiment-search.ts";
import { decodePageToken, encodePageToken, parseOrderBy, parseRunFilter } from "./search/index.ts";
import { lifecycleStages, type DatasetInput, type KeyValue, type MetricPoint, type TrackingStore, type ViewType } from "./store.ts";
import {
  MAX_BATCH_METRICS,
  MAX_BATCH_PARAMS,
  MAX_BATCH_TAGS,
  MAX_BATCH_TOTAL,
  MAX_EXPERIMENT_TAG_VALUE_LENGTH,
  MAX_KEY_LENGTH,
  MAX_PARAM_VALUE_LENGTH,
  MAX_TAG_VALUE_LENGTH,
  truncate,
  validateExperimentName,
  validateKey,
} from "./validate.ts";

const VIEW_TYPES: readonly ViewType[] = ["ACTIVE_ONLY", "DELETED_ONLY", "ALL"];
const RUN_STATUSES = ["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"] as const;
const MAX_SEARCH_RESULTS = 50_000;

function keyValues(input: MlflowInput, field: string): KeyValue[] {
  return objectList(input, field).map((t, i) => {
    const key = optString(t, "key");
    if (!key) throw MlflowError.invalid(`Missing value for required parameter '${field}[${i}].key'.`);
    return { key, value: optString(t, "value") ?? "" };
  });
}

function requireActive(run: RunRow): void {
  if (run.lifecycle_stage !== "active") {
    throw MlflowError.invalid(`The run ${run.run_id} must be in the 'active' state. Current state is ${run.lifecycle_stage}.`);
  }
}

function maxResults(input: MlflowInput, def: number, max: number): number {
  const n = optInt64(input, "max_results") ?? def;
  if (n < 1 || n > max) throw MlflowError.invalid(`Invalid value ${n} for parameter 'max_results' supplied. It must be at least 1 and at most ${max}.`);
  return n;
}

export class TrackingService {
  constructor(
    readonly store: TrackingStore,
    readonly access: TrackingAccess,
  ) {}

  // ------------------------------------------------------------------ experiments

  private async experimentOut(e: ExperimentRow): Promise<Record<string, unknown>> {
    const tags = await this.store.experimentTags([e.experiment_id]);
    return experimentJson(e, tags.get(e.experiment_id));
  }

  async createExperiment(call: CallScope, input: MlflowInput): Promise<{ experiment_id: string }> {
    const name = validateExperimentName(optString(input, "name"));
    const location = optString(input, "artifact_location");
    if (location) {
      throw MlflowError.invalid("Invalid value for parameter 'artifact_location': custom artifact locations are not supported; Forja serves artifacts itself (leave it empty).");
    }
    const tags = keyValues(input, "tags");
    for (const t of tags) this.checkExperimentTag(t.key, t.value);
    await this.access.authorize(call.principal, "create", "Experiment", call.project);
    if (!(await this.access.projectExists(call.project))) throw MlflowError.notFound(`Project '${call.project}' does not exist.`);
    const exp = await this.store.createExperiment(call.project, name, tags);
    return { experiment_id: String(exp.experiment_id) };
  }

  private checkExperimentTag(key: string, value: string): void {
    if (key.length > MAX_KEY_LENGTH) throw MlflowError.invalid(`Experiment tag key exceeds the maximum length of ${MAX_KEY_LENGTH} characters`);
    if (value.length > MAX_EXPERIMENT_TAG_VALUE_LENGTH) throw MlflowError.invalid(`Experiment tag value exceeds the maximum length of ${MAX_EXPERIMENT_TAG_VALUE_LENGTH} characters`);
  }

  async getExperiment(call: CallScope, input: MlflowInput): Promise<{ experiment: Record<string, unknown> }> {
    const exp = await this.access.experiment(call, reqString(input, "experiment_id"), "get");
    return { experiment: await this.experimentOut(exp) };
  }

  async getExperimentByName(call: CallScope, input: MlflowInput): Promise<{ experiment: Record<string, unknown> }> {
    const name = reqString(input, "experiment_name");
    await this.access.authorize(call.principal, "get", "Experiment", call.project);
    let exp = await this.store.experimentByName(call.project, name);
    if (!exp && name === DEFAULT_EXPERIMENT_NAME) exp = await this.access.defaultExperiment(call.project).catch(() => undefined);
    if (!exp) throw MlflowError.notFound(`Could not find experiment with name '${name}'`);
    return { experiment: await this.experimentOut(exp) };
  }

  async searchExperiments(call: CallScope, input: MlflowInput): Promise<Record<string, unknown>> {
    const limit = maxResults(input, 1000, MAX_SEARCH_RESULTS);
    const view = optEnum(input, "view_type", VIEW_TYPES);
    const projects = await this.access.searchableProjects(call);
    if (!call.scoped && (projects === undefined || projects.includes(call.project))) {
      // Experiment "0" exists in MLflow from the start; make the URI project's Default visible.
      await this.access.defaultExperiment(call.project).catch(() => undefined);
    }
    const rows = await this.store.listExperiments(projects, view);
    const tags = await this.store.experimentTags(rows.map((r) => r.experiment_id));
    const token = decodePageToken(optString(input, "page_token"));
    const matched = searchExperiments(
      rows.map((r) => ({ row: r, tags: tags.get(r.experiment_id) ?? [] })),
      optString(input, "filter"),
      stringList(input, "order_by"),
    );
    const page = matched.slice(token.offset, token.offset + limit);
    const out: Record<string, unknown> = {};
    if (page.length) out["experiments"] = page.map((e) => experimentJson(e.row, e.tags));
    if (page.length === limit) out["next_page_token"] = encodePageToken({ offset: token.offset + limit });
    return out;
  }

  async updateExperiment(call: CallScope, input: MlflowInput): Promise<void> {
    const exp = await this.access.experiment(call, reqString(input, "experiment_id"), "update");
    const newName = optString(input, "new_name");
    if (newName === undefined || newName === "") return;
    validateExperimentName(newName, "new_name");
    await this.store.renameExperiment(exp, newName);
  }

  async deleteExperiment(call: CallScope, input: MlflowInput): Promise<void> {
    const exp = await this.access.experiment(call, reqString(input, "experiment_id"), "delete");
    if (exp.name === DEFAULT_EXPERIMENT_NAME) throw MlflowError.invalid(`Cannot delete the default experiment '${exp.experiment_id}'. This is an internally reserved experiment.`);
    // As MLflow: only an active experiment can be deleted, only a deleted one restored.
    if (exp.lifecycle_stage !== "active") throw MlflowError.notFound(`No Experiment with id=${exp.experiment_id} exists`);
    await this.store.setExperimentLifecycle(exp, "deleted");
  }

  async restoreExperiment(call: CallScope, input: MlflowInput): Promise<void> {
    const exp = await this.access.experiment(call, reqString(input, "experiment_id"), "update");
    if (exp.lifecycle_stage !== "deleted") throw MlflowError.notFound(`No Experiment with id=${exp.experiment_id} exists`);
    await this.store.setExperimentLifecycle(exp, "active");
  }

  async setExperimentTag(call: CallScope, input: MlflowInput): Promise<void> {
    const exp = await this.access.experiment(call, reqString(input, "experiment_id"), "update");
    const key = reqString(input, "key");
    const value = reqStringAllowEmpty(input, "value");
    this.checkExperimentTag(key, value);
    if (exp.lifecycle_stage !== "active") throw MlflowError.invalid(`The experiment ${exp.experiment_id} must be in the 'active' state. Current state is ${exp.lifecycle_stage}.`);
    await this.store.setExperimentTag(exp, key, value);
  }

  async deleteExperimentTag(call: CallScope, input: MlflowInput): Promise<void> {
    const exp = await this.access.experiment(call, reqString(input, "experiment_id"), "update");
    await this.store.deleteExperimentTag(exp, reqString(input, "key"));
  }

  // ------------------------------------------------------------------ runs

  async createRun(call: CallScope, input: MlflowInput): Promise<{ run: Record<string, unknown> }> {
    const expId = optString(input, "experiment_id") || "0";
    const exp = await this.access.experiment(call, expId, "create");
    const tags = keyValues(input, "tags").map((t) => this.checkTag(t));
    const runName = optString(input, "run_name");
    const run = await this.store.createRun(exp, {
      userId: optString(input, "user_id") || call.principal.name,
      ...(runName ? { runName } : {}),
      startTime: optInt64(input, "start_time") ?? Date.now(),
      tags,
    });
    const data = await this.store.runData([run.run_id]);
    return { run: runJson(run, data.get(run.run_id)) };
  }

  async getRun(call: CallScope, input: MlflowInput): Promise<{ run: Record<string, unknown> }> {
    const run = await this.access.run(call, runIdOf(input), "get");
    const data = await this.store.runData([run.run_id]);
    return { run: runJson(run, data.get(run.run_id)) };
  }

  async updateRun(call: CallScope, input: MlflowInput): Promise<{ run_info: Record<string, unknown> }> {
    const run = await this.access.run(call, runIdOf(input), "update");
    requireActive(run);
    const status = optEnum(input, "status", RUN_STATUSES);
    const endTime = optInt64(input, "end_time");
    const runName = optString(input, "run_name");
    if (runName !== undefined && runName.length > MAX_KEY_LENGTH) throw MlflowError.invalid(`run_name exceeds the maximum length of ${MAX_KEY_LENGTH} characters`);
    const updated = await this.store.updateRun(run, {
      ...(status ? { status } : {}),
      ...(endTime !== undefined ? { endTime } : {}),
      ...(runName ? { runName } : {}),
    });
    return { run_info: runInfoJson(updated) };
  }

  async deleteRun(call: CallScope, input: MlflowInput): Promise<void> {
    const run = await this.access.run(call, runIdOf(input), "delete");
    await this.store.setRunLifecycle(run, "deleted");
  }

  async restoreRun(call: CallScope, input: MlflowInput): Promise<void> {
    const run = await this.access.run(call, runIdOf(input), "update");
    await this.store.setRunLifecycle(run, "active");
  }

  private metricOf(m: MlflowInput, prefix: string): MetricPoint {
    const key = reqString(m, "key");
    validateKey("metric", key);
    const raw = Object.hasOwn(m, "value") ? m["value"] : undefined;
    if (typeof raw === "boolean") throw MlflowError.invalid(`Got invalid value ${String(raw)} for metric '${key}' (timestamp=${String(m["timestamp"])}). Please specify value as a valid double (64-bit floating point)`);
    const value = reqDouble(m, "value");
    const timestamp = reqInt64(m, "timestamp");
    if (timestamp < 0) throw MlflowError.invalid(`${prefix}timestamp: must be >= 0, got ${timestamp}`);
    const step = optInt64(m, "step") ?? 0;
    return { key, value, timestamp, step };
  }

  private checkParam(p: KeyValue): KeyValue {
    validateKey("param", p.key);
    return { key: p.key, value: truncate(p.value, MAX_PARAM_VALUE_LENGTH) };
  }

  private checkTag(t: KeyValue): KeyValue {
    validateKey("tag", t.key);
    return { key: t.key, value: truncate(t.value, MAX_TAG_VALUE_LENGTH) };
  }

  /**
   * A run's project never changes, so writes that check the run's state in their own
   * transaction (store.logBatch) skip re-reading the run: run_id → project, bounded.
   */
  private readonly runProjects = new Map<string, string>();

  /** writableRun for store.logBatch, which checks existence and active state in its transaction. */
  private async loggableRunId(call: CallScope, input: MlflowInput): Promise<string> {
    const runId = runIdOf(input);
    const project = this.runProjects.get(runId);
    if (project === undefined) {
      const run = await this.writableRun(call, input);
      if (this.runProjects.size >= 10_000) this.runProjects.clear();
      this.runProjects.set(run.run_id, run.project);
      return run.run_id;
    }
    if (call.scoped && project !== call.project) throw MlflowError.notFound(`Run with id=${runId} not found`);
    await this.access.authorize(call.principal, "update", "Run", project);
    return runId;
  }

  /** Authorization for writes: editor on the run's project. Active-state is checked in the write transaction. */
  private async writableRun(call: CallScope, input: MlflowInput): Promise<RunRow> {
    const run = await this.access.run(call, runIdOf(input), "update");
    requireActive(run);
    return run;
  }

  async logMetric(call: CallScope, input: MlflowInput): Promise<void> {
    const metric = this.metricOf(input, "");
    await this.store.logBatch(await this.loggableRunId(call, input), [metric], [], []);
  }

  async logParam(call: CallScope, input: MlflowInput): Promise<void> {
    const param = this.checkParam({ key: reqString(input, "key"), value: reqStringAllowEmpty(input, "value") });
    await this.store.logBatch(await this.loggableRunId(call, input), [], [param], []);
  }

  async setTag(call: CallScope, input: MlflowInput): Promise<void> {
    const tag = this.checkTag({ key: reqString(input, "key"), value: reqStringAllowEmpty(input, "value") });
    await this.store.logBatch(await this.loggableRunId(call, input), [], [], [tag]);
  }

  async deleteTag(call: CallScope, input: MlflowInput): Promise<void> {
    const run = await this.access.run(call, runIdOf(input), "update");
    await this.store.deleteTag(run, reqString(input, "key"));
  }

  async logBatch(call: CallScope, input: MlflowInput): Promise<void> {
    const rawMetrics = objectList(input, "metrics");
    const rawParams = objectList(input, "params");
    const rawTags = objectList(input, "tags");
    if (rawMetrics.length > MAX_BATCH_METRICS) {
      throw MlflowError.invalid(`A batch logging request can contain at most ${MAX_BATCH_METRICS} metrics. Got ${rawMetrics.length} metrics. Please split up metrics across multiple requests and try again.`);
    }
    if (rawParams.length > MAX_BATCH_PARAMS) {
      throw MlflowError.invalid(`A batch logging request can contain at most ${MAX_BATCH_PARAMS} params. Got ${rawParams.length} params. Please split up params across multiple requests and try again.`);
    }
    if (rawTags.length > MAX_BATCH_TAGS) {
      throw MlflowError.invalid(`A batch logging request can contain at most ${MAX_BATCH_TAGS} tags. Got ${rawTags.length} tags. Please split up tags across multiple requests and try again.`);
    }
    const total = rawMetrics.length + rawParams.length + rawTags.length;
    if (total > MAX_BATCH_TOTAL) {
      throw MlflowError.invalid(`A batch logging request can contain at most ${MAX_BATCH_TOTAL} total metrics, params and tags. Got ${total}. Please split up across multiple requests and try again.`);
    }
    const metrics = rawMetrics.map((m, i) => this.metricOf(m, `metrics[${i}].`));
    const params = keyValues(input, "params").map((p) => this.checkParam(p));
    const tags = keyValues(input, "tags").map((t) => this.checkTag(t));
    const seen = new Map<string, string>();
    const dups = new Set<string>();
    for (const p of params) {
      if (seen.has(p.key)) dups.add(p.key);
      seen.set(p.key, p.value);
    }
    if (dups.size) throw MlflowError.invalid(`Duplicate parameter keys have been submitted: ${[...dups].map((k) => `'${k}'`).join(", ")}. Please ensure the request contains only one param value per param key.`);
    await this.store.logBatch(await this.loggableRunId(call, input), metrics, params, tags);
  }

  async logInputs(call: CallScope, input: MlflowInput): Promise<void> {
    const datasets: DatasetInput[] = objectList(input, "datasets").map((di, i) => {
      const ds = optObject(di, "dataset");
      if (!ds) throw MlflowError.invalid(`Missing value for required parameter 'datasets[${i}].dataset'.`);
      const name = reqString(ds, "name");
      const digest = reqString(ds, "digest");
      const d: DatasetInput = {
        name,
        digest,
        source_type: optString(ds, "source_type") ?? "",
        source: optString(ds, "source") ?? "",
        schema: optString(ds, "schema") ?? "",
        profile: optString(ds, "profile") ?? "",
        tags: keyValues(di, "tags"),
      };
      if (name.length > 500) throw MlflowError.invalid(`datasets[${i}].dataset.name exceeds the maximum length of 500`);
      if (digest.length > 36) throw MlflowError.invalid(`datasets[${i}].dataset.digest exceeds the maximum length of 36`);
      if (d.source.length > 65535) throw MlflowError.invalid(`datasets[${i}].dataset.source exceeds the maximum length of 65535`);
      if (d.schema.length > 1048576) throw MlflowError.invalid(`datasets[${i}].dataset.schema exceeds the maximum length of 1048576`);
      if (d.profile.length > 16777216) throw MlflowError.invalid(`datasets[${i}].dataset.profile exceeds the maximum length of 16777216`);
      for (const t of d.tags) {
        if (t.key.length > 255) throw MlflowError.invalid(`datasets[${i}].tags: key exceeds the maximum length of 255`);
        if (t.value.length > 500) throw MlflowError.invalid(`datasets[${i}].tags: value exceeds the maximum length of 500`);
      }
      return d;
    });
    const run = await this.writableRun(call, input);
    await this.store.logInputs(run, datasets);
  }

  async logOutputs(call: CallScope, input: MlflowInput): Promise<void> {
    const models = objectList(input, "models").map((m) => ({ model_id: reqString(m, "model_id"), step: optInt64(m, "step") ?? 0 }));
    const run = await this.writableRun(call, input);
    await this.store.logOutputs(run, models);
  }

  async logModel(call: CallScope, input: MlflowInput): Promise<void> {
    const json = reqString(input, "model_json");
    let model: unknown;
    try {
      model = JSON.parse(json);
    } catch {
      throw MlflowError.invalid("Invalid value for parameter 'model_json': not valid JSON");
    }
    if (typeof model !== "object" || model === null || Array.isArray(model)) throw MlflowError.invalid("Invalid value for parameter 'model_json': must be a JSON object");
    const run = await this.writableRun(call, input);
    await this.store.appendLoggedModel(run, model);
  }

  async metricHistory(call: CallScope, input: MlflowInput): Promise<RawJson> {
    const run = await this.access.run(call, runIdOf(input), "get");
    const key = reqString(input, "metric_key");
    const limit = optInt64(input, "max_results");
    if (limit !== undefined && (limit < 1 || limit > 1_000_000)) throw MlflowError.invalid(`Invalid value ${limit} for parameter 'max_results': must be between 1 and 1000000`);
    const token = decodePageToken(optString(input, "page_token"));
    const rows = await this.store.metricHistory(run.run_id, key, token.offset, limit);
    // Up to 100,000s of points: serialize directly instead of building objects for JSON.stringify.
    const parts: string[] = [];
    if (rows.length) {
      const k = JSON.stringify(key);
      const items = new Array<string>(rows.length);
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i] as (typeof rows)[number];
        const v = r.is_nan ? '"NaN"' : JSON.stringify(encodeDouble(r.value));
        items[i] = `{"key":${k},"value":${v},"timestamp":${r.timestamp},"step":${r.step}}`;
      }
      parts.push(`"metrics":[${items.join(",")}]`);
    }
    if (limit !== undefined && rows.length === limit) parts.push(`"next_page_token":${JSON.stringify(encodePageToken({ offset: token.offset + limit }))}`);
    return new RawJson(`{${parts.join(",")}}`);
  }

  /** get-history-bulk-interval: up to max_results evenly spaced steps per run, first and last included. */
  async metricHistoryBulkInterval(call: CallScope, input: MlflowInput): Promise<Record<string, unknown>> {
    const runIds = stringList(input, "run_ids");
    if (runIds.length === 0) throw MlflowError.invalid("Missing value for required parameter 'run_ids'.");
    if (runIds.length > 100) throw MlflowError.invalid(`GetMetricHistoryBulkInterval request must specify at most 100 run_ids. Received ${runIds.length} run_ids.`);
    const key = reqString(input, "metric_key");
    const limit = maxResults(input, 2500, 2500);
    const start = optInt64(input, "start_step");
    const end = optInt64(input, "end_step");
    if (start !== undefined && end !== undefined && start > end) throw MlflowError.invalid(`end_step must be greater than start_step. Found start_step=${start} and end_step=${end}.`);
    const metrics: Record<string, unknown>[] = [];
    for (const id of runIds) {
      const run = await this.access.run(call, id, "get");
      const rows = await this.store.metricRange(run.run_id, key, start, end);
      const steps = [...new Set(rows.map((r) => r.step))];
      let keep: Set<number>;
      if (steps.length <= limit) keep = new Set(steps);
      else {
        keep = new Set<number>();
        for (let i = 0; i < limit; i++) keep.add(steps[Math.round((i * (steps.length - 1)) / (limit - 1))] as number);
      }
      for (const r of rows) if (keep.has(r.step)) metrics.push({ ...metricJson(r), run_id: run.run_id });
    }
    return metrics.length ? { metrics } : {};
  }

  async searchRuns(call: CallScope, input: MlflowInput): Promise<Record<string, unknown>> {
    const limit = maxResults(input, 1000, MAX_SEARCH_RESULTS);
    const view = optEnum(input, "run_view_type", VIEW_TYPES);
    const filter = parseRunFilter(optString(input, "filter"));
    const orderBy = parseOrderBy(stringList(input, "order_by"));
    const token = decodePageToken(optString(input, "page_token"));
    const ids: number[] = [];
    for (const id of stringList(input, "experiment_ids")) {
      try {
        ids.push((await this.access.experiment(call, id, "list")).experiment_id);
      } catch (e) {
        if (e instanceof MlflowError && e.errorCode === "RESOURCE_DOES_NOT_EXIST") continue; // as MLflow: unknown ids match nothing
        throw e;
      }
    }
    const rows = await this.store.searchRuns({
      experimentIds: [...new Set(ids)],
      lifecycleStages: lifecycleStages(view),
      filter,
      orderBy,
      offset: token.offset,
      limit,
    });
    const out: Record<string, unknown> = {};
    if (rows.length) {
      const data = await this.store.runData(rows.map((r) => r.run_id));
      out["runs"] = rows.map((r) => runJson(r, data.get(r.run_id)));
    }
    if (rows.length === limit) out["next_page_token"] = encodePageToken({ offset: token.offset + limit });
    return out;
  }
}
