import type { LoggedModel, ModelOutput } from "../tracking/logged-models-model.js";
import type { ArtifactEntry, Experiment, MetricPoint, Run, RunInfo } from "../tracking/model.js";

/**
 * MLflow's JSON shapes (protos in mlflow/protos/service.proto, serialized like `message_to_json`):
 * snake_case, int64 as JSON numbers, empty repeated fields left out, doubles that JSON cannot carry
 * (NaN, +-Infinity) as the strings proto3 JSON uses.
 */

type Json = Record<string, unknown>;

function keyValues(record: Record<string, string>): Array<{ key: string; value: string }> {
  return Object.entries(record).map(([key, value]) => ({ key, value }));
}

function withList(target: Json, field: string, list: unknown[]): Json {
  if (list.length > 0) target[field] = list;
  return target;
}

export function mlflowDouble(value: number): number | string {
  if (Number.isFinite(value)) return value;
  return Number.isNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity";
}

export function experimentJson(e: Experiment): Json {
  return withList(
    {
      experiment_id: e.id,
      name: e.name,
      artifact_location: e.artifactLocation,
      lifecycle_stage: e.lifecycleStage,
      last_update_time: e.lastUpdateTime,
      creation_time: e.creationTime,
    },
    "tags",
    keyValues(e.tags),
  );
}

export function runInfoJson(info: RunInfo): Json {
  const json: Json = {
    run_id: info.runId,
    run_uuid: info.runId,
    run_name: info.runName,
    experiment_id: info.experimentId,
    user_id: info.userId,
    status: info.status,
    start_time: info.startTime,
    artifact_uri: info.artifactUri,
    lifecycle_stage: info.lifecycleStage,
  };
  if (info.endTime !== null) json.end_time = info.endTime;
  return json;
}

export function metricJson(m: MetricPoint): Json {
  return { key: m.key, value: mlflowDouble(m.value), timestamp: m.timestamp, step: m.step };
}

/** A run; `outputs` (MLflow 3 `runs/outputs`: logged models it produced) only where the caller loaded them. */
export function runJson(run: Run, outputs?: ModelOutput[]): Json {
  const data: Json = {};
  withList(data, "metrics", run.metrics.map(metricJson));
  withList(data, "params", keyValues(run.params));
  withList(data, "tags", keyValues(run.tags));
  const json: Json = { info: runInfoJson(run.info), data, inputs: {} };
  if (outputs && outputs.length > 0) {
    json.outputs = { model_outputs: outputs.map((o) => ({ model_id: o.modelId, step: o.step })) };
  }
  return json;
}

/** `artifacts/list` entries: paths relative to the run's artifact root; sizes only for files. */
export function fileInfoJson(
  entry: ArtifactEntry,
  pathOf: (e: ArtifactEntry) => string = (e) => e.path,
): Json {
  const json: Json = { path: pathOf(entry), is_dir: entry.isDir };
  if (!entry.isDir && entry.size !== undefined) json.file_size = entry.size;
  return json;
}

/** MLflow 3 `LoggedModel`: `{info, data}`; status as the enum name; empty lists left out. */
export function loggedModelJson(m: LoggedModel): Json {
  const info: Json = {
    model_id: m.id,
    experiment_id: m.experimentId,
    name: m.name,
    creation_timestamp_ms: m.createdAt,
    last_updated_timestamp_ms: m.updatedAt,
    artifact_uri: m.artifactLocation,
    status: m.status,
  };
  if (m.modelType !== null) info.model_type = m.modelType;
  if (m.sourceRunId !== null) info.source_run_id = m.sourceRunId;
  if (m.statusMessage !== null) info.status_message = m.statusMessage;
  withList(info, "tags", keyValues(m.tags));
  return { info, data: withList({}, "params", keyValues(m.params)) };
}
