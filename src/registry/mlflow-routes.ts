/**
 * The model registry's MLflow endpoints (model_registry.proto, and the 3.x logged-models family
 * of service.proto), mounted by the shared wire layer under every MLflow prefix. Each handler
 * decodes its fields, calls one service method and shapes the MLflow response.
 */
import {
  MlflowError,
  objectList,
  optBool,
  optInt64,
  optString,
  reqString,
  reqStringAllowEmpty,
  stringList,
  type MlflowCall,
  type MlflowEndpoint,
  type MlflowInput,
} from "../mlflow/index.ts";
import {
  SEARCH_LOGGED_MODELS_DEFAULT,
  SEARCH_LOGGED_MODELS_MAX,
  SEARCH_MODEL_VERSIONS_DEFAULT,
  SEARCH_MODEL_VERSIONS_MAX,
  SEARCH_REGISTERED_MODELS_DEFAULT,
  SEARCH_REGISTERED_MODELS_MAX,
  parseVersion,
} from "./model.ts";
import { parseLoggedModelStatus, type RegistryService } from "./service.ts";

/** `version`: a string of an integer (a JSON number is accepted too). */
function versionOf(input: MlflowInput, field = "version"): number {
  const v = Object.hasOwn(input, field) ? input[field] : undefined;
  const one = Array.isArray(v) && v.length === 1 ? (v[0] as unknown) : v;
  if (typeof one === "number") return parseVersion(one, field);
  return parseVersion(reqString(input, field), field);
}

/** `[{key, value}]` → record (later duplicates win). */
function keyValues(input: MlflowInput, field: string): Record<string, string> {
  const out: Record<string, string> = {};
  objectList(input, field).forEach((kv, i) => {
    const key = reqString(kv, "key");
    const value = kv["value"];
    if (value !== undefined && value !== null && typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") {
      throw MlflowError.invalid(`Invalid value for parameter '${field}[${i}].value': expected a string.`);
    }
    out[key] = value === undefined || value === null ? "" : String(value);
  });
  return out;
}

function maxResults(input: MlflowInput, fallback: number, max: number): number {
  const n = optInt64(input, "max_results");
  if (n === undefined) return fallback;
  if (n < 1) throw MlflowError.invalid(`Invalid value for request parameter max_results. It must be at least 1, but got value ${n}`);
  if (n > max) throw MlflowError.invalid(`Invalid value for request parameter max_results. It must be at most ${max}, but got value ${n}`);
  return n;
}

/** Set when non-empty (MLflow omits empty repeated fields: an empty page is `{}`). */
function list<K extends string, T>(key: K, items: readonly T[]): Partial<Record<K, T[]>> {
  return items.length ? ({ [key]: [...items] } as Partial<Record<K, T[]>>) : {};
}

function optDescription(input: MlflowInput): string | undefined {
  return optString(input, "description");
}

export function registryMlflowEndpoints(service: RegistryService): MlflowEndpoint[] {
  const latest = async (c: MlflowCall) => ({
    ...list("model_versions", await service.latestVersions(c.principal, c.project, reqString(c.input, "name"), stringList(c.input, "stages"))),
  });
  return [
    // ---- registered models ----------------------------------------------------------------
    {
      method: "POST",
      path: "mlflow/registered-models/create",
      handler: async (c) => {
        const description = optDescription(c.input);
        const deploymentJobId = optString(c.input, "deployment_job_id");
        return {
          registered_model: await service.createModel(c.principal, c.project, {
            name: reqString(c.input, "name"),
            tags: keyValues(c.input, "tags"),
            ...(description !== undefined ? { description } : {}),
            ...(deploymentJobId ? { deploymentJobId } : {}),
          }),
        };
      },
    },
    {
      method: "POST",
      path: "mlflow/registered-models/rename",
      handler: async (c) => ({
        registered_model: await service.renameModel(c.principal, c.project, reqString(c.input, "name"), reqString(c.input, "new_name")),
      }),
    },
    {
      method: "PATCH",
      path: "mlflow/registered-models/update",
      handler: async (c) => {
        const description = optDescription(c.input);
        const deploymentJobId = optString(c.input, "deployment_job_id");
        return {
          registered_model: await service.updateModel(c.principal, c.project, reqString(c.input, "name"), {
            ...(description !== undefined ? { description } : {}),
            ...(deploymentJobId !== undefined ? { deploymentJobId } : {}),
          }),
        };
      },
    },
    {
      method: "DELETE",
      path: "mlflow/registered-models/delete",
      handler: async (c) => {
        await service.deleteModel(c.principal, c.project, reqString(c.input, "name"));
      },
    },
    {
      method: "GET",
      path: "mlflow/registered-models/get",
      handler: async (c) => ({ registered_model: await service.getModel(c.principal, c.project, reqString(c.input, "name")) }),
    },
    {
      method: "GET",
      path: "mlflow/registered-models/search",
      handler: async (c) => {
        const pageToken = optString(c.input, "page_token");
        const filter = optString(c.input, "filter");
        const page = await service.searchModels(c.principal, c.project, {
          maxResults: maxResults(c.input, SEARCH_REGISTERED_MODELS_DEFAULT, SEARCH_REGISTERED_MODELS_MAX),
          orderBy: stringList(c.input, "order_by"),
          ...(filter ? { filter } : {}),
          ...(pageToken ? { pageToken } : {}),
        });
        return { ...list("registered_models", page.items), ...(page.nextPageToken ? { next_page_token: page.nextPageToken } : {}) };
      },
    },
    { method: "POST", path: "mlflow/registered-models/get-latest-versions", handler: latest },
    { method: "GET", path: "mlflow/registered-models/get-latest-versions", handler: latest },
    {
      method: "POST",
      path: "mlflow/registered-models/set-tag",
      handler: async (c) => {
        await service.setModelTag(c.principal, c.project, reqString(c.input, "name"), reqString(c.input, "key"), reqStringAllowEmpty(c.input, "value"));
      },
    },
    {
      method: "DELETE",
      path: "mlflow/registered-models/delete-tag",
      handler: async (c) => {
        await service.deleteModelTag(c.principal, c.project, reqString(c.input, "name"), reqString(c.input, "key"));
      },
    },
    {
      method: "POST",
      path: "mlflow/registered-models/alias",
      handler: async (c) => {
        await service.setAlias(c.principal, c.project, reqString(c.input, "name"), reqString(c.input, "alias"), versionOf(c.input));
      },
    },
    {
      method: "DELETE",
      path: "mlflow/registered-models/alias",
      handler: async (c) => {
        await service.deleteAlias(c.principal, c.project, reqString(c.input, "name"), reqString(c.input, "alias"));
      },
    },
    {
      method: "GET",
      path: "mlflow/registered-models/alias",
      handler: async (c) => ({
        model_version: await service.versionByAlias(c.principal, c.project, reqString(c.input, "name"), reqString(c.input, "alias")),
      }),
    },

    // ---- model versions -------------------------------------------------------------------
    {
      method: "POST",
      path: "mlflow/model-versions/create",
      handler: async (c) => {
        const runId = optString(c.input, "run_id");
        const runLink = optString(c.input, "run_link");
        const description = optDescription(c.input);
        const modelId = optString(c.input, "model_id");
        return {
          model_version: await service.createVersion(c.principal, c.project, {
            name: reqString(c.input, "name"),
            source: reqString(c.input, "source"),
            tags: keyValues(c.input, "tags"),
            ...(runId ? { runId } : {}),
            ...(runLink ? { runLink } : {}),
            ...(description !== undefined ? { description } : {}),
            ...(modelId ? { modelId } : {}),
          }),
        };
      },
    },
    {
      method: "PATCH",
      path: "mlflow/model-versions/update",
      handler: async (c) => {
        const description = optDescription(c.input);
        return {
          model_version: await service.updateVersion(c.principal, c.project, reqString(c.input, "name"), versionOf(c.input), {
            ...(description !== undefined ? { description } : {}),
          }),
        };
      },
    },
    {
      method: "POST",
      path: "mlflow/model-versions/transition-stage",
      handler: async (c) => ({
        model_version: await service.transitionStage(
          c.principal,
          c.project,
          reqString(c.input, "name"),
          versionOf(c.input),
          reqString(c.input, "stage"),
          optBool(c.input, "archive_existing_versions") ?? false,
        ),
      }),
    },
    {
      method: "DELETE",
      path: "mlflow/model-versions/delete",
      handler: async (c) => {
        await service.deleteVersion(c.principal, c.project, reqString(c.input, "name"), versionOf(c.input));
      },
    },
    {
      method: "GET",
      path: "mlflow/model-versions/get",
      handler: async (c) => ({ model_version: await service.getVersion(c.principal, c.project, reqString(c.input, "name"), versionOf(c.input)) }),
    },
    {
      method: "GET",
      path: "mlflow/model-versions/search",
      handler: async (c) => {
        const pageToken = optString(c.input, "page_token");
        const filter = optString(c.input, "filter");
        const page = await service.searchVersions(c.principal, c.project, {
          maxResults: maxResults(c.input, SEARCH_MODEL_VERSIONS_DEFAULT, SEARCH_MODEL_VERSIONS_MAX),
          orderBy: stringList(c.input, "order_by"),
          ...(filter ? { filter } : {}),
          ...(pageToken ? { pageToken } : {}),
        });
        return { ...list("model_versions", page.items), ...(page.nextPageToken ? { next_page_token: page.nextPageToken } : {}) };
      },
    },
    {
      method: "GET",
      path: "mlflow/model-versions/get-download-uri",
      handler: async (c) => ({ artifact_uri: await service.downloadUri(c.principal, c.project, reqString(c.input, "name"), versionOf(c.input)) }),
    },
    {
      method: "POST",
      path: "mlflow/model-versions/set-tag",
      handler: async (c) => {
        await service.setVersionTag(c.principal, c.project, reqString(c.input, "name"), versionOf(c.input), reqString(c.input, "key"), reqStringAllowEmpty(c.input, "value"));
      },
    },
    {
      method: "DELETE",
      path: "mlflow/model-versions/delete-tag",
      handler: async (c) => {
        await service.deleteVersionTag(c.principal, c.project, reqString(c.input, "name"), versionOf(c.input), reqString(c.input, "key"));
      },
    },

    // ---- logged models (3.x) --------------------------------------------------------------
    {
      method: "POST",
      path: "mlflow/logged-models",
      handler: async (c) => {
        const name = optString(c.input, "name");
        const modelType = optString(c.input, "model_type");
        const sourceRunId = optString(c.input, "source_run_id");
        return {
          model: await service.createLoggedModel(c, {
            experimentId: reqString(c.input, "experiment_id"),
            params: keyValues(c.input, "params"),
            tags: keyValues(c.input, "tags"),
            ...(name ? { name } : {}),
            ...(modelType ? { modelType } : {}),
            ...(sourceRunId ? { sourceRunId } : {}),
          }),
        };
      },
    },
    {
      method: "POST",
      path: "mlflow/logged-models/search",
      handler: async (c) => {
        const filter = optString(c.input, "filter");
        const pageToken = optString(c.input, "page_token");
        const page = await service.searchLoggedModels(c, {
          experimentIds: stringList(c.input, "experiment_ids"),
          orderBy: c.input["order_by"],
          maxResults: maxResults(c.input, SEARCH_LOGGED_MODELS_DEFAULT, SEARCH_LOGGED_MODELS_MAX),
          ...(filter ? { filter } : {}),
          ...(pageToken ? { pageToken } : {}),
        });
        return { ...list("models", page.models), ...(page.nextPageToken ? { next_page_token: page.nextPageToken } : {}) };
      },
    },
    {
      method: "GET",
      path: "mlflow/logged-models/:model_id",
      handler: async (c) => ({ model: await service.getLoggedModel(c, c.params["model_id"] ?? "") }),
    },
    {
      method: "PATCH",
      path: "mlflow/logged-models/:model_id",
      handler: async (c) => {
        if (!Object.hasOwn(c.input, "status")) throw MlflowError.invalid("Missing value for required parameter 'status'. See the API docs for more information about request parameters.");
        return { model: await service.finalizeLoggedModel(c, c.params["model_id"] ?? "", parseLoggedModelStatus(c.input["status"])) };
      },
    },
    {
      method: "DELETE",
      path: "mlflow/logged-models/:model_id",
      handler: async (c) => {
        await service.deleteLoggedModel(c, c.params["model_id"] ?? "");
      },
    },
    {
      method: "PATCH",
      path: "mlflow/logged-models/:model_id/tags",
      handler: async (c) => ({ model: await service.setLoggedModelTags(c, c.params["model_id"] ?? "", keyValues(c.input, "tags")) }),
    },
    {
      method: "DELETE",
      path: "mlflow/logged-models/:model_id/tags/:tag_key",
      handler: async (c) => {
        await service.deleteLoggedModelTag(c, c.params["model_id"] ?? "", c.params["tag_key"] ?? "");
      },
    },
    {
      method: "POST",
      path: "mlflow/logged-models/:model_id/params",
      handler: async (c) => {
        await service.logLoggedModelParams(c, c.params["model_id"] ?? "", keyValues(c.input, "params"));
      },
    },
  ];
}
