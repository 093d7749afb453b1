/**
 * The small set of typed domain errors. Domain code throws these; the HTTP layer maps them to
 * `{"error": {"code", "message"}}` (native API) or `{"error_code", "message"}` (MLflow paths) in one place.
 */
export abstract class DomainError extends Error {
  abstract readonly status: number;
  abstract readonly code: string;
  readonly details?: Record<string, unknown>;

  constructor(message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = new.target.name;
    this.details = details;
  }
}

/** Malformed or invalid input (400). */
export class InputError extends DomainError {
  readonly status = 400;
  readonly code: string = "INVALID_ARGUMENT";
}

/** No or invalid credentials (401). */
export class UnauthenticatedError extends DomainError {
  readonly status = 401;
  readonly code = "UNAUTHENTICATED";
}

/** Authenticated, but not allowed (403). */
export class ForbiddenError extends DomainError {
  readonly status = 403;
  readonly code = "PERMISSION_DENIED";
}

/** The subject does not exist (404). */
export class NotFoundError extends DomainError {
  readonly status = 404;
  readonly code = "NOT_FOUND";
}

/** The request conflicts with current state: duplicate name, immutable param, wrong state (409). */
export class ConflictError extends DomainError {
  readonly status = 409;
  readonly code: string = "CONFLICT";
}

/** The body or upload exceeds a limit (413). */
export class PayloadTooLargeError extends DomainError {
  readonly status = 413;
  readonly code = "PAYLOAD_TOO_LARGE";
}

/** Well-formed, but a rule refuses it: e.g. a production transition without a passing validation (422). */
export class UnprocessableError extends DomainError {
  readonly status = 422;
  readonly code: string = "FAILED_PRECONDITION";
}

export function isDomainError(err: unknown): err is DomainError {
  return err instanceof DomainError;
}
