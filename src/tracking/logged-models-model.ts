import type { KeyValue, RunArtifact } from "./model.js";

/**
 * MLflow 3 logged models (docs/mlflow.md): what `mlflow.<flavor>.log_model` creates. A logged model lives in
 * an experiment, optionally names the run that produced it, and holds its own files, params and tags.
 */
export const LOGGED_MODEL_STATUSES = [
  "LOGGED_MODEL_PENDING",
  "LOGGED_MODEL_READY",
  "LOGGED_MODEL_UPLOAD_FAILED",
] as const;
export type LoggedModelStatus = (typeof LOGGED_MODEL_STATUSES)[number];

/** `m-` and 32 lowercase hex digits, as MLflow's ids. */
export const LOGGED_MODEL_ID = /^m-[0-9a-f]{32}$/;

export interface LoggedModel {
  id: string;
  experimentId: string;
  projectId: string;
  name: string;
  modelType: string | null;
  sourceRunId: string | null;
  status: LoggedModelStatus;
  statusMessage: string | null;
  creator: string;
  createdAt: number;
  updatedAt: number;
  /** `mlflow-artifacts:/<experiment>/models/<id>/artifacts`: `models:/<id>` resolves here. */
  artifactLocation: string;
  params: Record<string, string>;
  tags: Record<string, string>;
}

export type NewLoggedModel = Omit<LoggedModel, "params" | "tags" | "artifactLocation"> & {
  params: KeyValue[];
  tags: KeyValue[];
};

/** A run's link to a logged model it produced (`runs/outputs`). */
export interface ModelOutput {
  modelId: string;
  step: number;
}

/** Persistence for logged models; deleted models are never returned. */
export interface LoggedModelStore {
  insert(model: NewLoggedModel): Promise<void>;
  find(id: string): Promise<LoggedModel | undefined>;
  /** Models of these experiments, newest first. */
  list(experimentIds: string[]): Promise<LoggedModel[]>;
  update(
    id: string,
    patch: { status?: LoggedModelStatus; statusMessage?: string | null; at: number },
  ): Promise<void>;
  setTags(id: string, tags: KeyValue[], at: number): Promise<void>;
  deleteTag(id: string, key: string, at: number): Promise<boolean>;
  /** Upserts; one transaction. */
  logParams(id: string, params: KeyValue[], at: number): Promise<void>;
  markDeleted(id: string, at: number): Promise<void>;

  putArtifact(id: string, artifact: RunArtifact): Promise<void>;
  findArtifact(id: string, path: string): Promise<RunArtifact | undefined>;
  /** Files whose path is `prefix` or lies below it (`""` = all). */
  listArtifacts(id: string, prefix: string): Promise<RunArtifact[]>;

  /** Upserts each (run, model) link with its step. */
  logOutputs(runId: string, outputs: ModelOutput[]): Promise<void>;
  listOutputs(runId: string): Promise<ModelOutput[]>;
}

export function loggedModelArtifactLocation(experimentId: string, id: string): string {
  return `mlflow-artifacts:/${experimentId}/models/${id}/artifacts`;
}
