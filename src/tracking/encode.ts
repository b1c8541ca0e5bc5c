/** Tracking objects → MLflow JSON (proto3 JSON: snake_case, empty fields omitted, NaN as "NaN"). */
import { encodeDouble, type ExperimentRow, type RunRow } from "../mlflow/index.ts";
import type { KeyValue, RunData, StoredMetric } from "./store.ts";

export function experimentJson(e: ExperimentRow, tags: readonly KeyValue[] = []): Record<string, unknown> {
  return {
    experiment_id: String(e.experiment_id),
    name: e.name,
    artifact_location: e.artifact_location,
    lifecycle_stage: e.lifecycle_stage,
    last_update_time: e.last_update_time,
    creation_time: e.creation_time,
    ...(tags.length ? { tags: tags.map((t) => ({ key: t.key, value: t.value })) } : {}),
  };
}

export function runInfoJson(r: RunRow): Record<string, unknown> {
  return {
    run_id: r.run_id,
    run_uuid: r.run_id,
    run_name: r.name,
    experiment_id: String(r.experiment_id),
    user_id: r.user_id,
    status: r.status,
    start_time: r.start_time,
    ...(r.end_time !== null && r.end_time !== undefined ? { end_time: r.end_time } : {}),
    artifact_uri: r.artifact_uri,
    lifecycle_stage: r.lifecycle_stage,
  };
}

export function metricJson(m: StoredMetric): Record<string, unknown> {
  return { key: m.key, value: m.is_nan ? "NaN" : encodeDouble(m.value), timestamp: m.timestamp, step: m.step };
}

export function runJson(r: RunRow, d: RunData | undefined): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  if (d?.metrics.length) data["metrics"] = [...d.metrics].sort((a, b) => (a.key < b.key ? -1 : 1)).map(metricJson);
  if (d?.params.length) data["params"] = [...d.params].sort((a, b) => (a.key < b.key ? -1 : 1));
  if (d?.tags.length) data["tags"] = [...d.tags].sort((a, b) => (a.key < b.key ? -1 : 1));
  const inputs: Record<string, unknown> = {};
  if (d?.inputs.length) {
    inputs["dataset_inputs"] = d.inputs.map((i) => ({
      ...(i.tags.length ? { tags: i.tags } : {}),
      dataset: {
        name: i.name,
        digest: i.digest,
        source_type: i.source_type,
        source: i.source,
        ...(i.schema ? { schema: i.schema } : {}),
        ...(i.profile ? { profile: i.profile } : {}),
      },
    }));
  }
  const out: Record<string, unknown> = { info: runInfoJson(r), data, inputs };
  if (d?.outputs.length) out["outputs"] = { model_outputs: d.outputs };
  return out;
}
