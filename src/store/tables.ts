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

export interface Tables {
  resources: ResourcesTable;
  resource_labels: ResourceLabelsTable;
  counters: CountersTable;
  tokens: TokensTable;
  step_cache: StepCacheTable;
  forja_migrations_dummy?: { id: Generated<number> };
}
