/**
 * The one place where errors become HTTP responses for the Forja API. Domain errors map by
 * code; framework errors (bad JSON, body too large, schema validation) become the same
 * shape with the field named. Anything else is a 500 that is logged, never leaked.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { isForjaError, type ErrorCode, type FieldIssue } from "../platform/errors.ts";
import { assertNever } from "../platform/errors.ts";
import { ajvErrorsToIssues } from "../resources/validation.ts";
import type { ErrorObject } from "ajv";

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: FieldIssue[] };
}

export function statusFor(code: ErrorCode): number {
  switch (code) {
    case "InvalidInput":
      return 400;
    case "Unauthenticated":
      return 401;
    case "Forbidden":
      return 403;
    case "NotFound":
      return 404;
    case "AlreadyExists":
    case "Conflict":
      return 409;
    case "PayloadTooLarge":
      return 413;
    case "Unavailable":
      return 503;
    case "Internal":
      return 500;
    default:
      return assertNever(code, "error code");
  }
}

/** Translates any thrown value into a status and body. Exported for other API flavours (MLflow). */
export function toErrorResponse(err: unknown, bodyLimit?: number): { status: number; body: ErrorBody } {
  if (isForjaError(err)) {
    return {
      status: statusFor(err.code),
      body: { error: { code: err.code, message: err.message, ...(err.details.length ? { details: [...err.details] } : {}) } },
    };
  }
  const fe = err as Partial<FastifyError> & { validation?: ErrorObject[]; validationContext?: string };
  if (fe.validation) {
    const prefix = fe.validationContext === "body" ? "" : (fe.validationContext ?? "");
    // A problem with the body as a whole (not an object, missing) is reported on "body".
    const details = ajvErrorsToIssues(fe.validation, prefix === "querystring" ? "query" : prefix).map((d) => (d.path ? d : { ...d, path: prefix || "body" }));
    const first = details[0];
    return {
      status: 400,
      body: {
        error: {
          code: "InvalidInput",
          message: first ? `${first.path ? `${first.path}: ` : ""}${first.reason}${details.length > 1 ? ` (and ${details.length - 1} more)` : ""}` : "invalid request",
          details,
        },
      },
    };
  }
  switch (fe.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return {
        status: 413,
        body: { error: { code: "PayloadTooLarge", message: `request body is larger than ${bodyLimit ?? "the limit of"} bytes` } },
      };
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return { status: 415, body: { error: { code: "InvalidInput", message: "unsupported Content-Type; send application/json or application/yaml" } } };
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return { status: 400, body: { error: { code: "InvalidInput", message: "body: is empty but Content-Type is application/json", details: [{ path: "body", reason: "is empty" }] } } };
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return { status: 400, body: { error: { code: "InvalidInput", message: `body: is not valid JSON`, details: [{ path: "body", reason: "is not valid JSON" }] } } };
    case undefined:
    default:
      break;
  }
  if (err instanceof SyntaxError) {
    return { status: 400, body: { error: { code: "InvalidInput", message: `body: is not valid JSON (${err.message})`, details: [{ path: "body", reason: err.message }] } } };
  }
  if (typeof fe.statusCode === "number" && fe.statusCode >= 400 && fe.statusCode < 500) {
    return { status: fe.statusCode, body: { error: { code: "InvalidInput", message: fe.message ?? "bad request" } } };
  }
  return { status: 500, body: { error: { code: "Internal", message: "internal error; see the server log" } } };
}

export function sendError(err: unknown, req: FastifyRequest, reply: FastifyReply, bodyLimit?: number): FastifyReply {
  const { status, body } = toErrorResponse(err, bodyLimit);
  if (status >= 500) req.log.error({ err }, "request failed");
  if (status === 401) void reply.header("www-authenticate", 'Bearer realm="forja"');
  return reply.status(status).type("application/json").send(body);
}
