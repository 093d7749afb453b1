import { InputError } from "../errors.js";
import type { KeyValue, LogBatch, MetricPoint } from "./model.js";

/** MLflow's limits (mlflow/utils/validation.py), so that a client that works with MLflow works here. */
export const MAX_METRICS_PER_BATCH = 1000;
export const MAX_PARAMS_TAGS_PER_BATCH = 100;
export const MAX_ENTITIES_PER_BATCH = 1000;
export const MAX_PARAM_VALUE_LENGTH = 6000;
export const MAX_TAG_VALUE_LENGTH = 8000;
export const MAX_KEY_LENGTH = 250;
export const MAX_EXPERIMENT_NAME_LENGTH = 500;
export const MAX_RUN_NAME_LENGTH = 250;

const VALID_NAME = /^[/\w.\- ]*$/;
const BAD_CHARACTERS =
  "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), and slashes (/).";

function invalid(message: string): InputError {
  return new InputError(message, { mlflowErrorCode: "INVALID_PARAMETER_VALUE" });
}

/** What POSIX normpath would make of a name; a name that changes would alias another as a file path. */
function normalizesTo(name: string): string {
  const absolute = name.startsWith("/");
  const parts: string[] = [];
  for (const part of name.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === ".." && parts.length > 0 && parts[parts.length - 1] !== "..") parts.pop();
    else if (!(part === ".." && absolute)) parts.push(part);
  }
  const joined = parts.join("/");
  return absolute ? `/${joined}` : joined || ".";
}

/** Keys already found valid: a training loop sends the same few keys in every batch. */
const validKeys = new Set<string>();
const MAX_REMEMBERED_KEYS = 10_000;

export function validateKey(kind: "metric" | "parameter" | "tag", key: unknown): string {
  if (typeof key === "string" && validKeys.has(key)) return key;
  checkKey(kind, key);
  if (validKeys.size >= MAX_REMEMBERED_KEYS) validKeys.clear();
  validKeys.add(key as string);
  return key as string;
}

function checkKey(kind: "metric" | "parameter" | "tag", key: unknown): void {
  if (typeof key !== "string" || key === "")
    throw invalid(`Missing value for required parameter '${kind} key'`);
  if (key.length > MAX_KEY_LENGTH) {
    throw invalid(
      `${kind} key '${key.slice(0, 50)}...' had length ${key.length}, which exceeded length limit of ${MAX_KEY_LENGTH}`,
    );
  }
  if (!VALID_NAME.test(key)) throw invalid(`Invalid ${kind} name: '${key}'. ${BAD_CHARACTERS}`);
  const normalized = normalizesTo(key);
  if (normalized !== key || normalized === "." || normalized.startsWith("..") || normalized.startsWith("/")) {
    throw invalid(
      `Invalid ${kind} name: '${key}'. Names may be treated as files in certain cases, and must not resolve to ` +
        `other names when treated as such. This name would resolve to '${normalizesTo(key)}'`,
    );
  }
}

export function validateValueLength(kind: "Param" | "Tag", key: string, value: string): void {
  const limit = kind === "Param" ? MAX_PARAM_VALUE_LENGTH : MAX_TAG_VALUE_LENGTH;
  if (value.length > limit) {
    throw invalid(
      `${kind} value '${value.slice(0, 50)}...' for key '${key}' had length ${value.length}, which exceeded length limit of ${limit}`,
    );
  }
}

/** JSON cannot carry NaN/Infinity as numbers; MLflow clients send them as strings (proto3 JSON). */
export function parseMetricValue(key: string, value: unknown): number {
  if (typeof value === "number") return value;
  if (value === "NaN") return Number.NaN;
  if (value === "Infinity") return Number.POSITIVE_INFINITY;
  if (value === "-Infinity") return Number.NEGATIVE_INFINITY;
  if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value)))
    return Number(value);
  throw invalid(
    `Got invalid value ${JSON.stringify(value)} for metric '${key}'. Please specify value as a valid double (64-bit floating point)`,
  );
}

function integerOf(what: string, key: string, value: unknown, fallback?: number): number {
  if (value === undefined || value === null) {
    if (fallback !== undefined) return fallback;
    throw invalid(`Missing value for required parameter '${what}' of metric '${key}'`);
  }
  const n = typeof value === "string" && /^-?\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== "number" || !Number.isSafeInteger(n)) {
    throw invalid(`Invalid ${what} ${JSON.stringify(value)} for metric '${key}': expected an integer`);
  }
  return n;
}

export interface RawMetric {
  key?: unknown;
  value?: unknown;
  timestamp?: unknown;
  step?: unknown;
}
export interface RawKeyValue {
  key?: unknown;
  value?: unknown;
}

export function parseMetric(raw: RawMetric, now: number): MetricPoint {
  const key = validateKey("metric", raw.key);
  return {
    key,
    value: parseMetricValue(key, raw.value),
    timestamp: integerOf("timestamp", key, raw.timestamp, now),
    step: integerOf("step", key, raw.step, 0),
  };
}

export function parseKeyValue(kind: "parameter" | "tag", raw: RawKeyValue): KeyValue {
  const key = validateKey(kind, raw.key);
  if (raw.value === undefined || raw.value === null) {
    throw invalid(
      `Missing value for required parameter '${kind === "parameter" ? "param" : "tag"} value' (key '${key}')`,
    );
  }
  if (typeof raw.value !== "string" && typeof raw.value !== "number" && typeof raw.value !== "boolean") {
    throw invalid(`Invalid value for ${kind} '${key}': expected a string, got ${JSON.stringify(raw.value)}`);
  }
  const value = String(raw.value);
  validateValueLength(kind === "parameter" ? "Param" : "Tag", key, value);
  return { key, value };
}

/** Validates a whole log-batch request (limits first, as MLflow does) and returns it normalized. */
export function parseLogBatch(
  raw: { metrics?: RawMetric[]; params?: RawKeyValue[]; tags?: RawKeyValue[] },
  now: number,
): LogBatch {
  const metrics = raw.metrics ?? [];
  const params = raw.params ?? [];
  const tags = raw.tags ?? [];
  if (metrics.length > MAX_METRICS_PER_BATCH) {
    throw invalid(
      `A batch logging request can contain at most ${MAX_METRICS_PER_BATCH} metrics. Got ${metrics.length} metrics. Please split up metrics across multiple requests and try again.`,
    );
  }
  for (const [what, list] of [
    ["params", params],
    ["tags", tags],
  ] as const) {
    if (list.length > MAX_PARAMS_TAGS_PER_BATCH) {
      throw invalid(
        `A batch logging request can contain at most ${MAX_PARAMS_TAGS_PER_BATCH} ${what}. Got ${list.length} ${what}. Please split up ${what} across multiple requests and try again.`,
      );
    }
  }
  const total = metrics.length + params.length + tags.length;
  if (total > MAX_ENTITIES_PER_BATCH) {
    throw invalid(
      `A batch logging request can contain at most ${MAX_ENTITIES_PER_BATCH} metrics, params, and tags in total. Got ${total} entities.`,
    );
  }
  const parsedParams = params.map((p) => parseKeyValue("parameter", p));
  const seen = new Map<string, string>();
  const duplicates = new Set<string>();
  for (const p of parsedParams) {
    if (seen.has(p.key)) duplicates.add(p.key);
    seen.set(p.key, p.value);
  }
  if (duplicates.size > 0) {
    throw invalid(
      `Duplicate parameter keys have been submitted: ${JSON.stringify([...duplicates])}. Please ensure the request contains only one param value per param key.`,
    );
  }
  return {
    metrics: metrics.map((m) => parseMetric(m, now)),
    params: parsedParams,
    tags: tags.map((t) => parseKeyValue("tag", t)),
  };
}
