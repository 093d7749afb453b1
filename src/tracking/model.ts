/** Experiments, runs, and what runs record. Plain data: no I/O here. */

export const RUN_STATUSES = ["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export type LifecycleStage = "active" | "deleted";
/** MLflow's `ViewType` for searches. */
export type ViewType = "ACTIVE_ONLY" | "DELETED_ONLY" | "ALL";

/** MLflow's experiment "0": every MLflow client expects it; it lives in the `default` project. */
export const DEFAULT_EXPERIMENT_ID = "0";
export const DEFAULT_EXPERIMENT_NAME = "Default";

/** Reserved tags carrying a run's lineage (searchable like any tag: `tags.mlops.dataset_snapshot = '...'`). */
export type LineageField = "datasetSnapshot" | "baseModelVersion" | "codeRef" | "jobId";
export const LINEAGE_TAGS: Readonly<Record<LineageField, string>> = {
  datasetSnapshot: "mlops.dataset_snapshot",
  baseModelVersion: "mlops.base_model_version",
  codeRef: "mlops.code_ref",
  jobId: "mlops.job_id",
};
export type RunLineage = { [K in LineageField]?: string };
/** An experiment tag naming its project, accepted on MLflow `experiments/create`. */
export const PROJECT_TAG = "mlops.project";
export const RUN_NAME_TAG = "mlflow.runName";
export const USER_TAG = "mlflow.user";

export interface Experiment {
  /** Digit string (MLflow experiment id). */
  id: string;
  projectId: string;
  name: string;
  artifactLocation: string;
  lifecycleStage: LifecycleStage;
  creationTime: number;
  lastUpdateTime: number;
  createdBy: string;
  tags: Record<string, string>;
}

export interface RunInfo {
  runId: string;
  experimentId: string;
  projectId: string;
  runName: string;
  status: RunStatus;
  startTime: number;
  endTime: number | null;
  lifecycleStage: LifecycleStage;
  userId: string;
  artifactUri: string;
}

export interface MetricPoint {
  key: string;
  value: number;
  timestamp: number;
  step: number;
}

/** A run with its latest metric per key, params and tags. */
export interface Run {
  info: RunInfo;
  metrics: MetricPoint[];
  params: Record<string, string>;
  tags: Record<string, string>;
}

export interface KeyValue {
  key: string;
  value: string;
}

export interface LogBatch {
  metrics: MetricPoint[];
  params: KeyValue[];
  tags: KeyValue[];
}

export interface RunArtifact {
  path: string;
  sha256: string;
  size: number;
  createdAt: number;
}

/** One entry of a directory listing: a file, or a directory (no sha256/size). */
export interface ArtifactEntry {
  path: string;
  isDir: boolean;
  size?: number;
  sha256?: string;
}

/** A downsampled history point: the bucket's first step, mean value and min/max envelope. */
export interface HistoryBucket {
  step: number;
  timestamp: number;
  value: number;
  min: number;
  max: number;
  count: number;
}

export interface MetricHistory {
  key: string;
  /**
   * `raw`: every point; `buckets`: exact per-bucket aggregates; `sampled`: per-bucket aggregates of an
   * evenly spaced sample (series too long to read whole within a chart request).
   */
  mode: "raw" | "buckets" | "sampled";
  /** Points the buckets cover (the sample size when sampled). */
  covered: number;
  points: HistoryBucket[];
}

export function lineageOf(tags: Record<string, string>): RunLineage {
  const lineage: RunLineage = {};
  for (const [field, tag] of Object.entries(LINEAGE_TAGS) as [keyof RunLineage, string][]) {
    if (tags[tag] !== undefined) lineage[field] = tags[tag];
  }
  return lineage;
}
