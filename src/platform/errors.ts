/**
 * Domain errors. Code anywhere in Forja throws these; exactly one place per transport
 * translates them (HTTP: src/http/error-handler.ts, CLI: src/cli/output.ts).
 */

/** One problem with one field of the input, e.g. `spec.steps[2].command: must be an array`. */
export interface FieldIssue {
  /** Dotted path with indices, e.g. `spec.members[0].role`. Empty for the document itself. */
  readonly path: string;
  readonly reason: string;
}

export const ErrorCode = {
  InvalidInput: "InvalidInput",
  NotFound: "NotFound",
  AlreadyExists: "AlreadyExists",
  Conflict: "Conflict",
  Unauthenticated: "Unauthenticated",
  Forbidden: "Forbidden",
  PayloadTooLarge: "PayloadTooLarge",
  Unavailable: "Unavailable",
  Internal: "Internal",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export abstract class ForjaError extends Error {
  abstract readonly code: ErrorCode;
  readonly details: readonly FieldIssue[];
  constructor(message: string, details: readonly FieldIssue[] = [], options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.details = details;
  }
}

export class InvalidInputError extends ForjaError {
  readonly code = ErrorCode.InvalidInput;
  static field(path: string, reason: string): InvalidInputError {
    return new InvalidInputError(path ? `${path}: ${reason}` : reason, [{ path, reason }]);
  }
  static of(issues: readonly FieldIssue[], what = "invalid input"): InvalidInputError {
    const first = issues[0];
    const summary = first ? (first.path ? `${first.path}: ${first.reason}` : first.reason) : what;
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : "";
    return new InvalidInputError(`${summary}${more}`, issues);
  }
}
export class NotFoundError extends ForjaError {
  readonly code = ErrorCode.NotFound;
}
export class AlreadyExistsError extends ForjaError {
  readonly code = ErrorCode.AlreadyExists;
}
/** Optimistic-concurrency conflict or a state that forbids the operation. */
export class ConflictError extends ForjaError {
  readonly code = ErrorCode.Conflict;
}
export class UnauthenticatedError extends ForjaError {
  readonly code = ErrorCode.Unauthenticated;
}
export class ForbiddenError extends ForjaError {
  readonly code = ErrorCode.Forbidden;
}
export class PayloadTooLargeError extends ForjaError {
  readonly code = ErrorCode.PayloadTooLarge;
}
export class UnavailableError extends ForjaError {
  readonly code = ErrorCode.Unavailable;
}

export function isForjaError(e: unknown): e is ForjaError {
  return e instanceof ForjaError;
}

/** Exhaustiveness guard for switches over string unions. */
export function assertNever(value: never, what = "value"): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(value)}`);
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
