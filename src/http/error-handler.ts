import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { type DomainError, isDomainError } from "../errors.js";

/** The response shape of one API surface. */
type ErrorFormatter = (status: number, code: string, message: string, err?: DomainError) => unknown;

const nativeFormat: ErrorFormatter = (_status, code, message) => ({ error: { code, message } });

/** MLflow clients read `{error_code, message}`; codes follow MLflow's `databricks_pb2.ErrorCode` names. */
const mlflowFormat: ErrorFormatter = (status, code, message, err) => {
  const explicit = err?.details?.mlflowErrorCode;
  const byStatus: Record<number, string> = {
    400: "INVALID_PARAMETER_VALUE",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "RESOURCE_DOES_NOT_EXIST",
    409: "RESOURCE_ALREADY_EXISTS",
    413: "REQUEST_LIMIT_EXCEEDED",
    422: "INVALID_STATE",
  };
  const mlflowCode =
    typeof explicit === "string" ? explicit : (byStatus[status] ?? (status >= 500 ? "INTERNAL_ERROR" : code));
  return { error_code: mlflowCode, message };
};

/** Open Inference Protocol: `{"error": "<message>"}`. */
const oipFormat: ErrorFormatter = (_status, _code, message) => ({ error: message });

const FORMATS: Array<[prefix: string, format: ErrorFormatter]> = [
  ["/api/2.0/mlflow", mlflowFormat],
  ["/ajax-api/2.0/mlflow", mlflowFormat],
  ["/v2/", oipFormat],
];

function formatterFor(url: string): ErrorFormatter {
  for (const [prefix, format] of FORMATS) if (url.startsWith(prefix)) return format;
  return nativeFormat;
}

/** MLflow returns RESOURCE_ALREADY_EXISTS with HTTP 400; the status follows the surface. */
function statusFor(url: string, status: number): number {
  return status === 409 && url.startsWith("/api/2.0/mlflow") ? 400 : status;
}

export function sendError(
  reply: FastifyReply,
  url: string,
  status: number,
  code: string,
  message: string,
  err?: DomainError,
) {
  const body = formatterFor(url)(status, code, message, err);
  return reply.status(statusFor(url, status)).type("application/json").send(body);
}

/** The one place where errors become HTTP responses. Never leaks stack traces. */
export function errorHandler(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply) {
  const url = request.url;
  if (isDomainError(error)) {
    if (error.status >= 500) request.log.error({ err: error }, "domain error");
    return sendError(reply, url, error.status, error.code, error.message, error);
  }
  const fe = error as FastifyError;
  // Libraries set `code` to numbers too (e.g. errno values): only a string is a fastify error code.
  const code: string | undefined = typeof fe.code === "string" ? fe.code : undefined;
  if (fe.validation) {
    const where = fe.validationContext ?? "request";
    return sendError(
      reply,
      url,
      400,
      "INVALID_ARGUMENT",
      `invalid ${where}: ${fe.message.replace(/^(body|querystring|params|headers)\/?/, "")}`,
    );
  }
  if (code === "FST_ERR_CTP_BODY_TOO_LARGE" || fe.statusCode === 413) {
    return sendError(reply, url, 413, "PAYLOAD_TOO_LARGE", "request body is larger than the server accepts");
  }
  if (code === "FST_ERR_CTP_INVALID_MEDIA_TYPE" || fe.statusCode === 415) {
    return sendError(reply, url, 415, "UNSUPPORTED_MEDIA_TYPE", fe.message);
  }
  if (fe.statusCode === 400 || fe instanceof SyntaxError || code?.startsWith("FST_ERR_CTP")) {
    return sendError(reply, url, 400, "MALFORMED_REQUEST", `malformed request body: ${fe.message}`);
  }
  if (typeof fe.statusCode === "number" && fe.statusCode >= 400 && fe.statusCode < 500) {
    return sendError(reply, url, fe.statusCode, code ?? "BAD_REQUEST", fe.message);
  }
  // The real error goes to the server log only; the client gets a generic message.
  request.log.error({ err: error }, "unhandled error");
  return sendError(reply, url, 500, "INTERNAL", "internal server error; see the server log");
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply) {
  return sendError(
    reply,
    request.url,
    404,
    "NOT_FOUND",
    `no route for ${request.method} ${request.url.split("?")[0]}`,
  );
}
