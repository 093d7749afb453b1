import type { FastifyRequest } from "fastify";
import type { Principal } from "../auth/principal.js";
import { InputError } from "../errors.js";

/** Both MLflow REST prefixes: the client's, and the one MLflow's own web UI calls. */
export const MLFLOW_PREFIXES = ["/api/2.0/mlflow", "/ajax-api/2.0/mlflow"] as const;

/** The header naming the project of an MLflow request (MLflow has no projects). */
export const PROJECT_HEADER = "x-mlops-project";

export type Args = Record<string, unknown>;

/** MLflow clients send GET arguments in the query string and the rest as a JSON body. */
export function argsOf(request: FastifyRequest): Args {
  const body = request.body && typeof request.body === "object" ? (request.body as Args) : {};
  return { ...(request.query as Args), ...body };
}

export function requiredString(args: Args, key: string): string {
  const value = args[key];
  if (value === undefined || value === null || value === "") {
    throw new InputError(
      `Missing value for required parameter '${key}'. See the API docs for more information about request parameters.`,
    );
  }
  if (typeof value !== "string" && typeof value !== "number") {
    throw new InputError(
      `Invalid value ${JSON.stringify(value)} for parameter '${key}' supplied: expected a string`,
    );
  }
  return String(value);
}

export function optionalString(args: Args, key: string): string | undefined {
  const value = args[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string" && typeof value !== "number") {
    throw new InputError(
      `Invalid value ${JSON.stringify(value)} for parameter '${key}' supplied: expected a string`,
    );
  }
  return String(value);
}

export function optionalInteger(args: Args, key: string): number | undefined {
  const value = args[key];
  if (value === undefined || value === null || value === "") return undefined;
  const n = typeof value === "string" && /^-?\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== "number" || !Number.isSafeInteger(n)) {
    throw new InputError(
      `Invalid value ${JSON.stringify(value)} for parameter '${key}' supplied: expected an integer`,
    );
  }
  return n;
}

export function stringList(args: Args, key: string): string[] | undefined {
  const value = args[key];
  if (value === undefined || value === null) return undefined;
  const list = Array.isArray(value) ? value : [value];
  for (const v of list) {
    if (typeof v !== "string" && typeof v !== "number") {
      throw new InputError(`Invalid value for parameter '${key}' supplied: expected a list of strings`);
    }
  }
  return list.map(String);
}

export function objectList<T>(args: Args, key: string): T[] | undefined {
  const value = args[key];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== "object" || v === null || Array.isArray(v))) {
    throw new InputError(`Invalid value for parameter '${key}' supplied: expected a list of objects`);
  }
  return value as T[];
}

/** The project an MLflow request acts in: the header, else a workload token's project, else `default`. */
export function projectOf(request: FastifyRequest, principal: Principal): string {
  const header = request.headers[PROJECT_HEADER];
  const named = Array.isArray(header) ? header[0] : header;
  return named || principal.scope?.projectId || "default";
}

export function mlflowRoutePaths(path: string): string[] {
  return MLFLOW_PREFIXES.map((prefix) => `${prefix}/${path}`);
}
