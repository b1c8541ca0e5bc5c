/** What `forja loadtest <deployment>` sends: the OIP infer URL and an input example from the model metadata. */
import { ApiError, type ForjaClient } from "../client/client.ts";
import { InvalidInputError } from "../platform/errors.ts";

export interface TensorMetadata {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
}

export interface ModelMetadata {
  readonly name: string;
  readonly versions?: readonly string[];
  readonly platform?: string;
  readonly inputs: readonly TensorMetadata[];
  readonly outputs?: readonly TensorMetadata[];
}

export interface HttpTarget {
  readonly url: string;
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body?: string | Uint8Array;
  readonly name: string;
}

/** A valid OIP v2 request for these inputs: one row (variable dimensions → 1), zeros. */
export function exampleInferRequest(inputs: readonly TensorMetadata[]): { inputs: { name: string; shape: number[]; datatype: string; data: unknown[] }[] } {
  return {
    inputs: inputs.map((i) => {
      const shape = i.shape.map((d) => (d < 0 ? 1 : d));
      const n = shape.reduce((a, b) => a * b, 1);
      const zero = i.datatype === "BOOL" ? false : i.datatype === "BYTES" ? "" : 0;
      return { name: i.name, shape, datatype: i.datatype, data: new Array<unknown>(n).fill(zero) };
    }),
  };
}

export const inferPath = (project: string, deployment: string) => `/serving/${encodeURIComponent(project)}/v2/models/${encodeURIComponent(deployment)}/infer`;

/**
 * The OIP infer endpoint of a deployment, authenticated with the CLI's token. The body is
 * `payload` if given, else an example built from the model metadata (which also checks that
 * the deployment exists and is ready).
 */
export async function deploymentTarget(
  client: ForjaClient,
  o: { project: string; deployment: string; token?: string; payload?: string | Uint8Array },
): Promise<HttpTarget & { metadata?: ModelMetadata }> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  const url = client.server + inferPath(o.project, o.deployment);
  const name = `${o.project}/${o.deployment}`;
  if (o.payload !== undefined) return { url, method: "POST", headers: { ...headers, "content-type": contentTypeOf(o.payload) }, body: o.payload, name };
  const metadata = await client
    .request<ModelMetadata>("GET", `/serving/${encodeURIComponent(o.project)}/v2/models/${encodeURIComponent(o.deployment)}`)
    .catch((e: unknown) => {
      throw oipError(e);
    });
  if (!Array.isArray(metadata?.inputs) || metadata.inputs.length === 0) {
    throw InvalidInputError.field("--payload", `the model of deployment '${name}' declares no inputs: pass --payload FILE`);
  }
  return { url, method: "POST", headers, body: JSON.stringify(exampleInferRequest(metadata.inputs)), name, metadata };
}

/** application/json when the payload parses as JSON, else application/octet-stream. */
export function contentTypeOf(payload: string | Uint8Array): string {
  const text = typeof payload === "string" ? payload : Buffer.from(payload).toString("utf8");
  try {
    JSON.parse(text);
    return "application/json";
  } catch {
    return "application/octet-stream";
  }
}

/** The data plane answers OIP's {"error": "..."}: show its message, keep the code. */
function oipError(e: unknown): unknown {
  if (!(e instanceof ApiError)) return e;
  try {
    const j = JSON.parse(e.message) as { error?: unknown };
    if (typeof j.error === "string") return new ApiError(e.code, j.error, e.status, e.details);
  } catch {
    /* not JSON */
  }
  return e;
}
