/**
 * Row types of every table, for Kysely. JSON columns are stored as TEXT on both engines
 * (one code path); timestamps as ISO-8601 TEXT unless a feature needs numeric time.
 */
import type { Generated } from "kysely";

export interface ResourcesTable {
  uid: string;
  api_version: string;
  kind: string;
  /** "" for cluster-scoped kinds. */
  project: string;
  name: string;
  labels: string;
  annotations: string;
  finalizers: string;
  spec: string;
  status: string;
  resource_version: number;
  generation: number;
  created_at: string;
  updated_at: string;
  deletion_timestamp: string | null;
}

export interface ResourceLabelsTable {
  uid: string;
  key: string;
  value: string;
}

export interface CountersTable {
  name: string;
  value: number;
}

export interface TokensTable {
  id: string;
  user_name: string;
  name: string;
  token_hash: string;
  /** First characters of the token, shown in listings to tell tokens apart. */
  prefix: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
  /** A project-scoped token (pipeline steps): the one project it may act in, and the most it may do there. */
  scope_project: string | null;
  scope_role: "owner" | "editor" | "viewer" | null;
}

/** Pipelines: outputs of step executions by cache key (src/pipelines/run/cache.ts). */
export interface StepCacheTable {
  project: string;
  cache_key: string;
  outputs: string;
  run_name: string;
  node_id: string;
  created_at: string;
}

/** Model registry (src/registry): MLflow registered models, versions, aliases; 3.x logged models. Times in ms. */
export interface RegisteredModelsTable {
  project: string;
  name: string;
  description: string | null;
  creation_timestamp: number;
  last_updated_timestamp: number;
  user_id: string | null;
  deployment_job_id: string | null;
  /** Highest version number ever handed out (numbers are never reused after a delete). */
  last_version: number;
}

export interface RegisteredModelTagsTable {
  project: string;
  name: string;
  key: string;
  value: string;
}

export interface ModelVersionsTable {
  project: string;
  name: string;
  version: number;
  creation_timestamp: number;
  last_updated_timestamp: number;
  user_id: string | null;
  description: string | null;
  /** As given by the client. */
  source: string;
  /** What get-download-uri answers: `source`, or what a `models:/` source resolved to. */
  storage_location: string;
  run_id: string | null;
  run_link: string | null;
  status: string;
  status_message: string | null;
  current_stage: string;
  /** MLflow 3.x LoggedModel this version was registered from. */
  model_id: string | null;
  /** Lineage, copied from the source run when the version is created. */
  experiment_id: string | null;
  pipeline_run: string | null;
  pipeline_step: string | null;
}

export interface ModelVersionTagsTable {
  project: string;
  name: string;
  version: number;
  key: string;
  value: string;
}

export interface RegisteredModelAliasesTable {
  project: string;
  name: string;
  alias: string;
  version: number;
}

export interface LoggedModelsTable {
  model_id: string;
  project: string;
  experiment_id: string;
  name: string;
  model_type: string | null;
  source_run_id: string | null;
  status: string;
  status_message: string | null;
  artifact_location: string;
  /** JSON object key → value. */
  params: string;
  /** JSON object key → value. */
  tags: string;
  user_id: string | null;
  creation_timestamp: number;
  last_updated_timestamp: number;
}

export interface Tables {
  resources: ResourcesTable;
  resource_labels: ResourceLabelsTable;
  counters: CountersTable;
  tokens: TokensTable;
  step_cache: StepCacheTable;
  registered_models: RegisteredModelsTable;
  registered_model_tags: RegisteredModelTagsTable;
  model_versions: ModelVersionsTable;
  model_version_tags: ModelVersionTagsTable;
  registered_model_aliases: RegisteredModelAliasesTable;
  logged_models: LoggedModelsTable;
  forja_migrations_dummy?: { id: Generated<number> };
}

/** Tracking (MLflow-compatible, src/tracking): experiments. Times are epoch milliseconds. */
export interface TrackingExperimentsTable {
  /** Global integer sequence (counter "mlflowExperimentId"); the MLflow id is its decimal string. */
  experiment_id: number;
  project: string;
  name: string;
  artifact_location: string;
  /** "active" | "deleted" */
  lifecycle_stage: string;
  creation_time: number;
  last_update_time: number;
}

export interface TrackingExperimentTagsTable {
  experiment_id: number;
  key: string;
  value: string;
}

/** Tracking runs. `project` is the experiment's, kept here for authorization without a join. */
export interface TrackingRunsTable {
  run_id: string;
  experiment_id: number;
  project: string;
  name: string;
  user_id: string;
  status: string;
  start_time: number;
  end_time: number | null;
  lifecycle_stage: string;
  artifact_uri: string;
  deleted_time: number | null;
  /** Lineage: "<project>/<pipelinerun name>" from the tag forja.pipelineRun. */
  pipeline_run: string | null;
  pipeline_step: string | null;
}

/** Per run and key, the latest point (max step, timestamp, value). NaN is value 0 with is_nan 1; ±Inf clamped to ±MAX_VALUE. */
export interface TrackingLatestMetricsTable {
  run_id: string;
  key: string;
  value: number;
  is_nan: number;
  timestamp: number;
  step: number;
}

/**
 * Metric history: the points of one run and key flushed together, packed (see
 * src/tracking/metric-chunks.ts). `seq` is the first point's; a history reads its chunks by seq.
 */
export interface TrackingMetricChunksTable {
  run_id: string;
  key: string;
  seq: number;
  points: Buffer;
}

/**
 * Logged metric points not yet moved into tracking_metric_chunks and tracking_latest_metrics: one
 * row per log call (see TrackingStore and src/tracking/metric-chunks.ts).
 */
export interface TrackingMetricBatchesTable {
  seq: Generated<number>;
  run_id: string;
  /** JSON array of the points' keys. */
  keys: string;
  /** (step, timestamp, value) per point, packed. */
  points: Buffer;
}

export interface TrackingKeyValueTable {
  run_id: string;
  key: string;
  value: string;
}

/** Dataset inputs of runs (deduplicated by name + digest per run). */
export interface TrackingInputsTable {
  run_id: string;
  name: string;
  digest: string;
  source_type: string;
  source: string;
  schema: string;
  profile: string;
  /** JSON array of {key, value}. */
  tags: string;
  /** The input tag mlflow.data.context, for filters. */
  context: string | null;
}

export interface TrackingOutputsTable {
  run_id: string;
  model_id: string;
  step: number;
}

/** mlflow-artifacts: path ("<experiment id>/...") → content digest in the ArtifactStore. */
export interface TrackingArtifactsTable {
  path: string;
  experiment_id: number;
  digest: string;
  size: number;
  created_at: number;
}

export interface Tables {
  tracking_experiments: TrackingExperimentsTable;
  tracking_experiment_tags: TrackingExperimentTagsTable;
  tracking_runs: TrackingRunsTable;
  tracking_metric_chunks: TrackingMetricChunksTable;
  tracking_metric_batches: TrackingMetricBatchesTable;
  tracking_latest_metrics: TrackingLatestMetricsTable;
  tracking_params: TrackingKeyValueTable;
  tracking_tags: TrackingKeyValueTable;
  tracking_inputs: TrackingInputsTable;
  tracking_outputs: TrackingOutputsTable;
  tracking_artifacts: TrackingArtifactsTable;
}

/** Serving (src/serving): per-deployment inference keys, stored as SHA-256 of the secret. */
export interface ServingKeysTable {
  id: string;
  project: string;
  deployment: string;
  name: string;
  key_hash: string;
  prefix: string;
  created_at: string;
  revoked_at: string | null;
}

export interface Tables {
  serving_keys: ServingKeysTable;
}

/** Monitoring (src/monitoring): sampled inference payloads, one row per input row; bounded per deployment. */
export interface MonitoringPayloadsTable {
  id: Generated<number>;
  project: string;
  deployment: string;
  version: number;
  /** ms since the epoch */
  ts: number;
  /** JSON: {inputName: values of this row (the tensor's trailing dimensions, flattened)} */
  inputs: string;
  /** JSON: the row's label (first per-row output), or null */
  prediction: string | null;
}

export interface Tables {
  monitoring_payloads: MonitoringPayloadsTable;
}
