/**
 * MLflow error model: `{"error_code": "...", "message": "..."}` with the status of
 * mlflow/exceptions.py::ERROR_CODE_TO_HTTP_STATUS, and the mapping of Forja's domain errors
 * and Fastify's framework errors onto it. Validation failures are always 4xx: the MLflow
 * client retries 5xx five times.
 */
import type { FastifyError } from "fastify";
import { isForjaError } from "../platform/errors.ts";

export type MlflowErrorCode =
  | "INVALID_PARAMETER_VALUE"
  | "BAD_REQUEST"
  | "RESOURCE_ALREADY_EXISTS"
  | "RESOURCE_DOES_NOT_EXIST"
  | "NOT_FOUND"
  | "ENDPOINT_NOT_FOUND"
  | "UNAUTHENTICATED"
  | "CUSTOMER_UNAUTHORIZED"
  | "PERMISSION_DENIED"
  | "ALREADY_EXISTS"
  | "RESOURCE_CONFLICT"
  | "ABORTED"
  | "REQUEST_LIMIT_EXCEEDED"
  | "RESOURCE_EXHAUSTED"
  | "CANCELLED"
  | "INTERNAL_ERROR"
  | "INVALID_STATE"
  | "DATA_LOSS"
  | "NOT_IMPLEMENTED"
  | "TEMPORARILY_UNAVAILABLE"
  | "DEADLINE_EXCEEDED";

/** ERROR_CODE_TO_HTTP_STATUS (identical in MLflow 2.12.2 and 3.x). Unknown codes: 500. */
export const MLFLOW_STATUS: Readonly<Record<MlflowErrorCode, number>> = {
  INVALID_PARAMETER_VALUE: 400,
  BAD_REQUEST: 400,
  RESOURCE_ALREADY_EXISTS: 400,
  RESOURCE_DOES_NOT_EXIST: 404,
  NOT_FOUND: 404,
  ENDPOINT_NOT_FOUND: 404,
  UNAUTHENTICATED: 401,
  CUSTOMER_UNAUTHORIZED: 401,
  PERMISSION_DENIED: 403,
  ALREADY_EXISTS: 409,
  RESOURCE_CONFLICT: 409,
  ABORTED: 409,
  REQUEST_LIMIT_EXCEEDED: 429,
  RESOURCE_EXHAUSTED: 429,
  CANCELLED: 499,
  INTERNAL_ERROR: 500,
  INVALID_STATE: 500,
  DATA_LOSS: 500,
  NOT_IMPLEMENTED: 501,
  TEMPORARILY_UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504,
};

export interface MlflowErrorBody {
  error_code: string;
  message: string;
}

/**
 * An error with an explicit MLflow code. `status` defaults to MLflow's table; pass one only
 * for the documented deviations (INVALID_STATE is answered 400, not 500, so clients do not
 * retry a request that can never succeed — see docs/adr/0009-mlflow-compatibility.md).
 */
export class MlflowError extends Error {
  readonly status: number;
  constructor(
    readonly errorCode: MlflowErrorCode,
    message: string,
    status?: number,
  ) {
    super(message);
    this.name = "MlflowError";
    this.status = status ?? MLFLOW_STATUS[errorCode];
  }
  static invalid(message: string): MlflowError {
    return new MlflowError("INVALID_PARAMETER_VALUE", message);
  }
  static notFound(message: string): MlflowError {
    return new MlflowError("RESOURCE_DOES_NOT_EXIST", message);
  }
  static exists(message: string): MlflowError {
    return new MlflowError("RESOURCE_ALREADY_EXISTS", message);
  }
  /** A state that forbids the operation (e.g. renaming a deleted experiment). 400, see class doc. */
  static invalidState(message: string): MlflowError {
    return new MlflowError("INVALID_STATE", message, 400);
  }
}

/** Translates anything thrown on an MLflow route into status + MLflow error body. */
export function toMlflowError(err: unknown, bodyLimit?: number): { status: number; body: MlflowErrorBody } {
  const out = (code: MlflowErrorCode, message: string, status = MLFLOW_STATUS[code]) => ({ status, body: { error_code: code, message } });
  if (err instanceof MlflowError) return out(err.errorCode, err.message, err.status);
  if (isForjaError(err)) {
    switch (err.code) {
      case "InvalidInput":
        return out("INVALID_PARAMETER_VALUE", err.message);
      case "NotFound":
        return out("RESOURCE_DOES_NOT_EXIST", err.message);
      case "AlreadyExists":
        return out("RESOURCE_ALREADY_EXISTS", err.message);
      case "Forbidden":
        return out("PERMISSION_DENIED", err.message);
      case "Unauthenticated":
        return out("UNAUTHENTICATED", err.message);
      case "Conflict":
        // A concurrent change or a forbidding state: 409 (not retried by the client), never 5xx.
        return out("RESOURCE_CONFLICT", err.message);
      case "PayloadTooLarge":
        return out("INVALID_PARAMETER_VALUE", err.message, 413);
      case "Unavailable":
        return out("TEMPORARILY_UNAVAILABLE", err.message);
      case "Internal":
        return out("INTERNAL_ERROR", "internal error; see the server log");
    }
  }
  const fe = err as Partial<FastifyError>;
  switch (fe.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return out("INVALID_PARAMETER_VALUE", `request body is larger than ${bodyLimit ?? "the limit of"} bytes`, 413);
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return out("INVALID_PARAMETER_VALUE", "Bad Request. Content-Type must be one of ['application/json']");
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return out("INVALID_PARAMETER_VALUE", "Bad Request: the body is not valid JSON");
    case undefined:
    default:
      break;
  }
  if (err instanceof SyntaxError) return out("INVALID_PARAMETER_VALUE", `Bad Request: the body is not valid JSON (${err.message})`);
  if (typeof fe.statusCode === "number" && fe.statusCode >= 400 && fe.statusCode < 500) {
    return out("BAD_REQUEST", fe.message ?? "bad request", fe.statusCode);
  }
  return out("INTERNAL_ERROR", "internal error; see the server log");
}
