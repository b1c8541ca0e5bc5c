/**
 * The registry's use cases: authorize (viewer reads, editor writes, per project), validate,
 * then one store call. Registered models and logged models belong to a Forja project; names
 * are unique per project. Tracking data (runs, experiments) is read through TrackingLookup.
 */
import { randomBytes } from "node:crypto";
import type { Authorizer } from "../auth/authorizer.ts";
import type { Principal, Verb } from "../auth/principal.ts";
import { NotFoundError } from "../platform/errors.ts";
import type { ResourceRepository } from "../resources/repository.ts";
import {
  parseModelVersionFilter,
  parseModelVersionOrderBy,
  parseRegisteredModelFilter,
  parseRegisteredModelOrderBy,
} from "../tracking/search/index.ts";
import { notFoundLoggedModel, type LoggedModelStore, parseLoggedModelFilter, parseLoggedModelOrderBy, toLoggedModel } from "./logged-models.ts";
import {
  MAX_LOGGED_MODEL_PARAM_VALUE_LENGTH,
  MAX_LOGGED_MODEL_TAG_VALUE_LENGTH,
  MAX_REGISTRY_TAG_VALUE_LENGTH,
  canonicalStage,
  invalid,
  isUnder,
  parseModelsUri,
  parseRunsUri,
  validateAlias,
  validateDescription,
  validateModelName,
  validateSource,
  validateTagKey,
  validateTagValue,
  type LoggedModel,
  type LoggedModelStatus,
  type ModelVersion,
  type RegisteredModel,
  type Stage,
} from "./model.ts";
import type { Page, RegistryStore, VersionLineage } from "./store.ts";
import { pipelineRunKey, type TrackedDataset, type TrackedExperiment, type TrackedRun, type TrackingLookup } from "./tracking.ts";

export const REGISTRY_KIND = "RegisteredModel";
export const LOGGED_MODEL_KIND = "LoggedModel";

export interface SearchRequest {
  readonly filter?: string;
  readonly orderBy?: readonly string[];
  readonly maxResults: number;
  readonly pageToken?: string;
}

export interface CreateVersionRequest {
  readonly name: string;
  readonly source: string;
  readonly runId?: string;
  readonly runLink?: string;
  readonly description?: string;
  readonly tags?: Readonly<Record<string, string>>;
  readonly modelId?: string;
}

/** Who asks, about which project, through which URI form (as the MLflow layer's CallScope). */
export interface Scope {
  readonly principal: Principal;
  /** The URI's project ("default" for unscoped MLflow URIs). */
  readonly project: string;
  /** `/projects/{p}/...`: only objects of that project are visible. */
  readonly scoped: boolean;
}

/** An experiment a logged model goes into, resolved and authorized for `verb`. */
export interface ResolvedExperiment {
  readonly experimentId: string;
  readonly project: string;
  readonly artifactLocation: string;
}

export interface ExperimentResolver {
  /** 404 if missing (or outside a scoped URI's project), 403 if `verb` is not allowed. "0": the project's Default experiment. */
  resolve(scope: Scope, experimentId: string, verb: Verb): Promise<ResolvedExperiment>;
}

export interface CreateLoggedModelRequest {
  readonly experimentId: string;
  readonly name?: string;
  readonly modelType?: string;
  readonly sourceRunId?: string;
  readonly params?: Readonly<Record<string, string>>;
  readonly tags?: Readonly<Record<string, string>>;
}

export interface Lineage {
  readonly modelVersion: ModelVersion;
  readonly run?: TrackedRun | { runId: string };
  readonly experiment?: TrackedExperiment | { experimentId: string };
  readonly datasets?: TrackedDataset[];
  readonly pipelineRun?: { name: string; phase?: string; pipeline?: string; startedAt?: string; finishedAt?: string };
  readonly step?: { name: string; phase?: string };
  readonly loggedModel?: LoggedModel;
}

export interface PipelineRunVersion extends ModelVersion {
  readonly pipeline_step?: string;
}

function checkTags(tags: Readonly<Record<string, string>>, max: number, field = "tags"): Record<string, string> {
  for (const [k, v] of Object.entries(tags)) {
    validateTagKey(k, `${field}.key`);
    validateTagValue(v, max, `${field}.value`);
  }
  return { ...tags };
}

const LOGGED_STATUS_BY_NUMBER: readonly LoggedModelStatus[] = ["LOGGED_MODEL_STATUS_UNSPECIFIED", "LOGGED_MODEL_PENDING", "LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED"];

export function parseLoggedModelStatus(value: unknown, field = "status"): LoggedModelStatus {
  const s = typeof value === "number" ? LOGGED_STATUS_BY_NUMBER[value] : LOGGED_STATUS_BY_NUMBER.find((x) => x === value);
  if (!s || s === "LOGGED_MODEL_STATUS_UNSPECIFIED") {
    throw invalid(field, `Invalid value ${JSON.stringify(value)} for parameter '${field}': must be one of LOGGED_MODEL_PENDING, LOGGED_MODEL_READY, LOGGED_MODEL_UPLOAD_FAILED.`);
  }
  return s;
}

export class RegistryService {
  constructor(
    private readonly deps: {
      readonly store: RegistryStore;
      readonly loggedModels: LoggedModelStore;
      readonly tracking: TrackingLookup;
      readonly experiments: ExperimentResolver;
      readonly authz: Authorizer;
      readonly repo: ResourceRepository;
    },
  ) {}

  private get store(): RegistryStore {
    return this.deps.store;
  }

  /** Authorizes; an admin (allowed anywhere) gets 404 for a project that does not exist. */
  private async can(principal: Principal, verb: Verb, project: string, name?: string, kind = REGISTRY_KIND): Promise<void> {
    await this.deps.authz.check(principal, verb, kind, project, name);
    if (principal.admin && !(await this.deps.repo.get({ kind: "Project", project: "", name: project }))) {
      throw new NotFoundError(`Project '${project}' does not exist.`);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Registered models
  // -------------------------------------------------------------------------------------------

  async createModel(p: Principal, project: string, r: { name: string; description?: string; tags?: Record<string, string>; deploymentJobId?: string }): Promise<RegisteredModel> {
    validateModelName(r.name);
    if (r.description !== undefined) validateDescription(r.description);
    const tags = checkTags(r.tags ?? {}, MAX_REGISTRY_TAG_VALUE_LENGTH);
    await this.can(p, "create", project, r.name);
    return this.store.createModel(project, {
      name: r.name,
      tags,
      userId: p.name,
      ...(r.description !== undefined ? { description: r.description } : {}),
      ...(r.deploymentJobId ? { deploymentJobId: r.deploymentJobId } : {}),
    });
  }

  async getModel(p: Principal, project: string, name: string): Promise<RegisteredModel> {
    validateModelName(name);
    await this.can(p, "get", project, name);
    return this.store.getModel(project, name);
  }

  async renameModel(p: Principal, project: string, name: string, newName: string): Promise<RegisteredModel> {
    validateModelName(name);
    validateModelName(newName, "new_name");
    await this.can(p, "update", project, name);
    return this.store.renameModel(project, name, newName);
  }

  async updateModel(p: Principal, project: string, name: string, patch: { description?: string; deploymentJobId?: string }): Promise<RegisteredModel> {
    validateModelName(name);
    if (patch.description !== undefined) validateDescription(patch.description);
    await this.can(p, "update", project, name);
    return this.store.updateModel(project, name, patch);
  }

  async deleteModel(p: Principal, project: string, name: string): Promise<void> {
    validateModelName(name);
    await this.can(p, "delete", project, name);
    await this.store.deleteModel(project, name);
  }

  async searchModels(p: Principal, project: string, r: SearchRequest): Promise<Page<RegisteredModel>> {
    const filter = parseRegisteredModelFilter(r.filter);
    const orderBy = parseRegisteredModelOrderBy(r.orderBy);
    await this.can(p, "list", project);
    return this.store.searchModels(project, { filter, orderBy, maxResults: r.maxResults, ...(r.pageToken ? { pageToken: r.pageToken } : {}) });
  }

  async latestVersions(p: Principal, project: string, name: string, stages: readonly string[]): Promise<ModelVersion[]> {
    validateModelName(name);
    const canonical = stages.map((s) => canonicalStage(s, "stages"));
    await this.can(p, "get", project, name);
    return this.store.latestVersions(project, name, canonical);
  }

  async setModelTag(p: Principal, project: string, name: string, key: string, value: string): Promise<void> {
    validateModelName(name);
    validateTagKey(key);
    validateTagValue(value, MAX_REGISTRY_TAG_VALUE_LENGTH);
    await this.can(p, "update", project, name);
    await this.store.setModelTag(project, name, key, value);
  }

  async deleteModelTag(p: Principal, project: string, name: string, key: string): Promise<void> {
    validateModelName(name);
    validateTagKey(key);
    await this.can(p, "update", project, name);
    await this.store.deleteModelTag(project, name, key);
  }

  async setAlias(p: Principal, project: string, name: string, alias: string, version: number): Promise<void> {
    validateModelName(name);
    validateAlias(alias);
    await this.can(p, "update", project, name);
    await this.store.setAlias(project, name, alias, version);
  }

  async deleteAlias(p: Principal, project: string, name: string, alias: string): Promise<void> {
    validateModelName(name);
    validateAlias(alias);
    await this.can(p, "update", project, name);
    await this.store.deleteAlias(project, name, alias);
  }

  async versionByAlias(p: Principal, project: string, name: string, alias: string): Promise<ModelVersion> {
    validateModelName(name);
    if (alias === "") validateAlias(alias);
    await this.can(p, "get", project, name);
    return this.store.versionByAlias(project, name, alias);
  }

  // -------------------------------------------------------------------------------------------
  // Versions
  // -------------------------------------------------------------------------------------------

  /**
   * Registers a version. `source` may be `runs:/<run>/<path>` (kept: the client resolves it),
   * an `mlflow-artifacts:/` URI (under the run's artifact root when `run_id` is given and
   * tracking knows the run), a remote URI, or `models:/…`: a logged model (3.x) resolves to its
   * artifact location, a registered version to that version's download URI.
   */
  async createVersion(p: Principal, project: string, r: CreateVersionRequest): Promise<ModelVersion> {
    validateModelName(r.name);
    validateSource(r.source);
    if (r.description !== undefined) validateDescription(r.description);
    const tags = checkTags(r.tags ?? {}, MAX_REGISTRY_TAG_VALUE_LENGTH);
    await this.can(p, "create", project, r.name);

    let storageLocation = r.source;
    let modelId = r.modelId || undefined;
    let runId = r.runId || undefined;
    const models = parseModelsUri(r.source);
    if (models?.kind === "model_id") {
      if (modelId && modelId !== models.modelId) {
        throw invalid("model_id", `model_id '${modelId}' does not match the source '${r.source}'.`);
      }
      modelId = models.modelId;
    } else if (models) {
      storageLocation = await this.resolveModelsUri(project, models);
    }
    if (modelId) {
      const logged = await this.deps.loggedModels.find(modelId);
      if (!logged || logged.project !== project) {
        throw invalid("model_id", `Logged model with ID '${modelId}' not found in project "${project}".`);
      }
      if (models?.kind === "model_id") storageLocation = logged.artifact_location;
      runId ??= logged.source_run_id ?? undefined;
    }
    const runsUri = parseRunsUri(r.source);
    if (runsUri) {
      if (runId && runsUri.runId !== runId) {
        throw invalid("source", `Invalid model version source: '${r.source}' belongs to run ${runsUri.runId}, not to run_id ${runId}.`);
      }
      runId ??= runsUri.runId;
    }

    storageLocation = await this.canonicalArtifactLocation(p, project, storageLocation);

    let run: TrackedRun | undefined;
    if (runId && (await this.deps.tracking.available())) {
      run = await this.deps.tracking.run(runId);
      if (!run) throw new NotFoundError(`Run with id=${runId} not found`);
      if (run.project !== project) {
        throw invalid(
          "run_id",
          `Run ${runId} belongs to project "${run.project}", not "${project}": register it in its own project (tracking URI <server>/projects/${run.project}).`,
        );
      }
      if (r.source.startsWith("mlflow-artifacts:") && !modelId && !isUnder(storageLocation, run.artifactUri)) {
        throw invalid(
          "source",
          `Invalid model version source: '${r.source}'. When run_id is given, the source must be contained within the artifact directory of the run (${run.artifactUri}).`,
        );
      }
    }
    return this.store.createVersion(project, {
      name: r.name,
      source: r.source,
      storageLocation,
      tags,
      userId: p.name,
      ...(runId ? { runId } : {}),
      ...(r.runLink ? { runLink: r.runLink } : {}),
      ...(r.description !== undefined ? { description: r.description } : {}),
      ...(modelId ? { modelId } : {}),
      ...(run?.experimentId ? { experimentId: run.experimentId } : {}),
      ...(run?.pipelineRun ? { pipelineRun: run.pipelineRun } : {}),
      ...(run?.pipelineStep ? { pipelineStep: run.pipelineStep } : {}),
    });
  }

  /**
   * An `mlflow-artifacts:/<id>/…` location with the id tracking stores its artifacts under: "0"
   * (the project's Default experiment, a different one per project) becomes that experiment's
   * id, "007" becomes "7". Serving and monitoring read artifacts by this location.
   */
  private async canonicalArtifactLocation(p: Principal, project: string, location: string): Promise<string> {
    const m = /^(mlflow-artifacts:(?:\/\/[^/]*)?\/+)(\d{1,15})(\/.*)?$/u.exec(location);
    if (!m || !(await this.deps.tracking.available())) return location;
    const [, scheme = "", id = "", rest = ""] = m;
    const real = id === "0" ? (await this.deps.experiments.resolve({ principal: p, project, scoped: true }, id, "get")).experimentId : String(Number(id));
    return `${scheme}${real}${rest}`;
  }

  private async resolveModelsUri(project: string, u: Exclude<ReturnType<typeof parseModelsUri>, undefined>): Promise<string> {
    switch (u.kind) {
      case "model_id": {
        const logged = await this.deps.loggedModels.find(u.modelId);
        if (!logged || logged.project !== project) throw invalid("source", `Logged model with ID '${u.modelId}' not found in project "${project}".`);
        return logged.artifact_location;
      }
      case "version":
        return this.store.downloadUri(project, u.name, u.version);
      case "alias": {
        const mv = await this.store.versionByAlias(project, u.name, u.alias);
        return this.store.downloadUri(project, u.name, Number(mv.version));
      }
      case "stage": {
        const latest = await this.store.latestVersions(project, u.name, u.stage === "latest" ? undefined : [u.stage]);
        const newest = latest.reduce<ModelVersion | undefined>((a, b) => (!a || Number(b.version) > Number(a.version) ? b : a), undefined);
        if (!newest) throw invalid("source", `No versions of model with name '${u.name}' and stage '${u.stage}' found`);
        return this.store.downloadUri(project, u.name, Number(newest.version));
      }
    }
  }

  async getVersion(p: Principal, project: string, name: string, version: number): Promise<ModelVersion> {
    validateModelName(name);
    await this.can(p, "get", project, name);
    return this.store.getVersion(project, name, version);
  }

  async updateVersion(p: Principal, project: string, name: string, version: number, patch: { description?: string }): Promise<ModelVersion> {
    validateModelName(name);
    if (patch.description !== undefined) validateDescription(patch.description);
    await this.can(p, "update", project, name);
    return this.store.updateVersion(project, name, version, patch);
  }

  async transitionStage(p: Principal, project: string, name: string, version: number, stage: string, archiveExisting: boolean): Promise<ModelVersion> {
    validateModelName(name);
    const s: Stage = canonicalStage(stage);
    await this.can(p, "update", project, name);
    return this.store.transitionStage(project, name, version, s, archiveExisting);
  }

  async deleteVersion(p: Principal, project: string, name: string, version: number): Promise<void> {
    validateModelName(name);
    await this.can(p, "delete", project, name);
    await this.store.deleteVersion(project, name, version);
  }

  async searchVersions(p: Principal, project: string, r: SearchRequest): Promise<Page<ModelVersion>> {
    const filter = parseModelVersionFilter(r.filter);
    const orderBy = parseModelVersionOrderBy(r.orderBy);
    await this.can(p, "list", project);
    return this.store.searchVersions(project, { filter, orderBy, maxResults: r.maxResults, ...(r.pageToken ? { pageToken: r.pageToken } : {}) });
  }

  async downloadUri(p: Principal, project: string, name: string, version: number): Promise<string> {
    validateModelName(name);
    await this.can(p, "get", project, name);
    return this.store.downloadUri(project, name, version);
  }

  async setVersionTag(p: Principal, project: string, name: string, version: number, key: string, value: string): Promise<void> {
    validateModelName(name);
    validateTagKey(key);
    validateTagValue(value, MAX_REGISTRY_TAG_VALUE_LENGTH);
    await this.can(p, "update", project, name);
    await this.store.setVersionTag(project, name, version, key, value);
  }

  async deleteVersionTag(p: Principal, project: string, name: string, version: number, key: string): Promise<void> {
    validateModelName(name);
    validateTagKey(key);
    await this.can(p, "update", project, name);
    await this.store.deleteVersionTag(project, name, version, key);
  }

  // -------------------------------------------------------------------------------------------
  // Logged models (3.x)
  // -------------------------------------------------------------------------------------------

  private async loggedModel(modelId: string): Promise<LoggedModel> {
    const row = await this.deps.loggedModels.get(modelId);
    return toLoggedModel(row, await this.store.versionsOfLoggedModel(row.project, modelId));
  }

  /** The logged model's project, authorized for `verb`; 404 if missing or outside a scoped URI's project. */
  private async loggedModelProject(scope: Scope, modelId: string, verb: Verb): Promise<string> {
    const row = await this.deps.loggedModels.find(modelId);
    if (!row || (scope.scoped && row.project !== scope.project)) throw notFoundLoggedModel(modelId);
    await this.can(scope.principal, verb, row.project, modelId, LOGGED_MODEL_KIND);
    return row.project;
  }

  /** A logged model goes into its experiment's project, under `<experiment artifact location>/models/<id>/artifacts`. */
  async createLoggedModel(scope: Scope, r: CreateLoggedModelRequest): Promise<LoggedModel> {
    const params = r.params ?? {};
    for (const [k, v] of Object.entries(params)) {
      validateTagKey(k, "params.key");
      validateTagValue(v, MAX_LOGGED_MODEL_PARAM_VALUE_LENGTH, "params.value");
    }
    const tags = checkTags(r.tags ?? {}, MAX_LOGGED_MODEL_TAG_VALUE_LENGTH);
    const exp = await this.deps.experiments.resolve(scope, r.experimentId, "create");
    if (r.sourceRunId && (await this.deps.tracking.available())) {
      const run = await this.deps.tracking.run(r.sourceRunId);
      if (!run || run.project !== exp.project) throw invalid("source_run_id", `Run with id=${r.sourceRunId} not found in project "${exp.project}".`);
    }
    const row = await this.deps.loggedModels.create(exp.project, {
      experimentId: exp.experimentId,
      name: r.name || `model-${randomBytes(4).toString("hex")}`,
      params,
      tags,
      userId: scope.principal.name,
      experimentArtifactLocation: exp.artifactLocation,
      ...(r.modelType ? { modelType: r.modelType } : {}),
      ...(r.sourceRunId ? { sourceRunId: r.sourceRunId } : {}),
    });
    return toLoggedModel(row);
  }

  async getLoggedModel(scope: Scope, modelId: string): Promise<LoggedModel> {
    await this.loggedModelProject(scope, modelId, "get");
    return this.loggedModel(modelId);
  }

  async finalizeLoggedModel(scope: Scope, modelId: string, status: LoggedModelStatus): Promise<LoggedModel> {
    await this.loggedModelProject(scope, modelId, "update");
    await this.deps.loggedModels.finalize(modelId, status);
    return this.loggedModel(modelId);
  }

  async deleteLoggedModel(scope: Scope, modelId: string): Promise<void> {
    await this.loggedModelProject(scope, modelId, "delete");
    await this.deps.loggedModels.delete(modelId);
  }

  async setLoggedModelTags(scope: Scope, modelId: string, tags: Record<string, string>): Promise<LoggedModel> {
    checkTags(tags, MAX_LOGGED_MODEL_TAG_VALUE_LENGTH);
    await this.loggedModelProject(scope, modelId, "update");
    await this.deps.loggedModels.setTags(modelId, tags);
    return this.loggedModel(modelId);
  }

  async deleteLoggedModelTag(scope: Scope, modelId: string, key: string): Promise<void> {
    await this.loggedModelProject(scope, modelId, "update");
    await this.deps.loggedModels.deleteTag(modelId, key);
  }

  async logLoggedModelParams(scope: Scope, modelId: string, params: Record<string, string>): Promise<void> {
    for (const [k, v] of Object.entries(params)) {
      validateTagKey(k, "params.key");
      validateTagValue(v, MAX_LOGGED_MODEL_PARAM_VALUE_LENGTH, "params.value");
    }
    await this.loggedModelProject(scope, modelId, "update");
    await this.deps.loggedModels.logParams(modelId, params);
  }

  /** Within the listed experiments (each authorized), or the URI's project when none are listed. */
  async searchLoggedModels(
    scope: Scope,
    r: { experimentIds: readonly string[]; filter?: string; orderBy?: unknown; maxResults: number; pageToken?: string },
  ): Promise<{ models: LoggedModel[]; nextPageToken?: string }> {
    const filter = parseLoggedModelFilter(r.filter);
    const orderBy = parseLoggedModelOrderBy(r.orderBy);
    const projects = new Set<string>();
    const experimentIds: string[] = [];
    for (const id of r.experimentIds) {
      const exp = await this.deps.experiments.resolve(scope, id, "list");
      projects.add(exp.project);
      experimentIds.push(exp.experimentId);
    }
    if (r.experimentIds.length === 0) {
      await this.can(scope.principal, "list", scope.project, undefined, LOGGED_MODEL_KIND);
      projects.add(scope.project);
    }
    const page = await this.deps.loggedModels.search({
      projects: [...projects],
      experimentIds,
      filter,
      orderBy,
      maxResults: r.maxResults,
      ...(r.pageToken ? { pageToken: r.pageToken } : {}),
    });
    const models = await Promise.all(page.items.map(async (row) => toLoggedModel(row, await this.store.versionsOfLoggedModel(row.project, row.model_id))));
    return { models, ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}) };
  }

  // -------------------------------------------------------------------------------------------
  // Native API: listing, detail, lineage
  // -------------------------------------------------------------------------------------------

  async modelDetail(p: Principal, project: string, name: string): Promise<RegisteredModel & { versions: ModelVersion[] }> {
    validateModelName(name);
    await this.can(p, "get", project, name);
    const model = await this.store.getModel(project, name);
    return { ...model, versions: await this.store.versionsOf(project, name) };
  }

  async versions(p: Principal, project: string, name: string): Promise<ModelVersion[]> {
    validateModelName(name);
    await this.can(p, "get", project, name);
    return this.store.versionsOf(project, name);
  }

  /** Where a version came from: its run, the run's experiment and datasets, the pipeline run and step. */
  async lineage(p: Principal, project: string, name: string, version: number): Promise<Lineage> {
    validateModelName(name);
    await this.can(p, "get", project, name);
    const l: VersionLineage = await this.store.getVersionLineage(project, name, version);
    const mv = l.version;
    const found = mv.run_id ? await this.deps.tracking.run(mv.run_id) : undefined;
    // Never show another project's run (possible only for versions made before tracking existed).
    const run = found && found.project === project ? found : undefined;
    const experimentId = run?.experimentId ?? l.experimentId;
    const expFound = experimentId ? await this.deps.tracking.experiment(experimentId) : undefined;
    const experiment = expFound && expFound.project === project ? expFound : undefined;
    const pipelineRunKeyValue = run?.pipelineRun ?? l.pipelineRun;
    const stepName = run?.pipelineStep ?? l.pipelineStep;
    let pipelineRun: Lineage["pipelineRun"];
    let step: Lineage["step"];
    if (pipelineRunKeyValue) {
      const slash = pipelineRunKeyValue.indexOf("/");
      const prProject = slash > 0 ? pipelineRunKeyValue.slice(0, slash) : project;
      const prName = slash > 0 ? pipelineRunKeyValue.slice(slash + 1) : pipelineRunKeyValue;
      if (prProject === project) {
        const pr = await this.deps.repo.get({ kind: "PipelineRun", project, name: prName });
        const status = pr?.status as { phase?: string; startedAt?: string; finishedAt?: string; nodes?: Record<string, { phase?: string }> } | undefined;
        const spec = pr?.spec as { pipelineRef?: { name?: string } } | undefined;
        pipelineRun = {
          name: prName,
          ...(status?.phase ? { phase: status.phase } : {}),
          ...(spec?.pipelineRef?.name ? { pipeline: spec.pipelineRef.name } : {}),
          ...(status?.startedAt ? { startedAt: status.startedAt } : {}),
          ...(status?.finishedAt ? { finishedAt: status.finishedAt } : {}),
        };
        if (stepName) {
          const phase = status?.nodes?.[stepName]?.phase;
          step = { name: stepName, ...(phase ? { phase } : {}) };
        }
      }
    }
    const datasets = run ? await this.deps.tracking.datasets(run.runId) : [];
    const loggedModel = mv.model_id ? await this.loggedModel(mv.model_id).catch(() => undefined) : undefined;
    return {
      modelVersion: mv,
      ...(run ? { run } : mv.run_id ? { run: { runId: mv.run_id } } : {}),
      ...(experiment ? { experiment } : experimentId ? { experiment: { experimentId } } : {}),
      ...(pipelineRun ? { pipelineRun } : {}),
      ...(step ? { step } : {}),
      ...(datasets.length ? { datasets } : {}),
      ...(loggedModel ? { loggedModel } : {}),
    };
  }

  /** Versions whose source run was started by a step of pipeline run `pipelineRun` of `project`. */
  async versionsOfPipelineRun(p: Principal, project: string, pipelineRun: string): Promise<PipelineRunVersion[]> {
    await this.can(p, "list", project);
    const key = pipelineRunKey(project, pipelineRun);
    const runIds = await this.deps.tracking.runIdsOfPipelineRun(key);
    const found = await this.store.versionsOfPipelineRun(project, key, runIds);
    return found.map((l) => ({ ...l.version, ...(l.pipelineStep ? { pipeline_step: l.pipelineStep } : {}) }));
  }
}
