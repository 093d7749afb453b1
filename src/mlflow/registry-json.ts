import type { ModelVersion, RegisteredModel } from "../registry/registry-store.js";
import { STAGES, toMlflowStage } from "../registry/stages.js";
import { loggedModelIdOf } from "./logged-model-source.js";

/** MLflow's `ModelVersion` and `RegisteredModel` JSON (mlflow/protos/model_registry.proto). */
export interface MlflowModelVersion {
  name: string;
  version: string;
  creation_timestamp: number;
  last_updated_timestamp: number;
  user_id: string;
  current_stage: string;
  description: string;
  source: string;
  run_id?: string;
  /** MLflow 3: the logged model the version was registered from. */
  model_id?: string;
  status: "READY";
  tags?: Array<{ key: string; value: string }>;
  aliases?: string[];
}

export interface MlflowRegisteredModel {
  name: string;
  creation_timestamp: number;
  last_updated_timestamp: number;
  user_id: string;
  description: string;
  latest_versions?: MlflowModelVersion[];
  tags?: Array<{ key: string; value: string }>;
  aliases?: Array<{ alias: string; version: string }>;
}

const kv = (record: Record<string, string>) => Object.entries(record).map(([key, value]) => ({ key, value }));

export function modelVersionJson(v: ModelVersion): MlflowModelVersion {
  const json: MlflowModelVersion = {
    name: v.modelName,
    version: String(v.version),
    creation_timestamp: v.createdAt,
    last_updated_timestamp: v.updatedAt,
    user_id: v.createdBy,
    current_stage: toMlflowStage(v.stage),
    description: v.description,
    source: v.source,
    status: "READY",
  };
  if (v.runId) json.run_id = v.runId;
  const modelId = loggedModelIdOf(v.source);
  if (modelId) json.model_id = modelId;
  if (Object.keys(v.tags).length > 0) json.tags = kv(v.tags);
  if (v.aliases.length > 0) json.aliases = v.aliases;
  return json;
}

/** The newest version in each stage (MLflow's `latest_versions`), optionally only the given stages. */
export function latestPerStage(versions: ModelVersion[], stages?: readonly string[]): ModelVersion[] {
  const out: ModelVersion[] = [];
  for (const stage of STAGES) {
    if (stages && !stages.includes(stage)) continue;
    const inStage = versions.filter((v) => v.stage === stage);
    if (inStage.length > 0) out.push(inStage.reduce((a, b) => (b.version > a.version ? b : a)));
  }
  return out.sort((a, b) => a.version - b.version);
}

export function registeredModelJson(model: RegisteredModel, versions: ModelVersion[]): MlflowRegisteredModel {
  const json: MlflowRegisteredModel = {
    name: model.name,
    creation_timestamp: model.createdAt,
    last_updated_timestamp: model.updatedAt,
    user_id: model.createdBy,
    description: model.description,
  };
  const latest = latestPerStage(versions);
  if (latest.length > 0) json.latest_versions = latest.map(modelVersionJson);
  if (Object.keys(model.tags).length > 0) json.tags = kv(model.tags);
  const aliases = Object.entries(model.aliases);
  if (aliases.length > 0)
    json.aliases = aliases.map(([alias, version]) => ({ alias, version: String(version) }));
  return json;
}
