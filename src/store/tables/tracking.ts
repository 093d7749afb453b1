import type { Generated } from "kysely";

/** Experiments: a named group of runs in one project. `id` doubles as MLflow's digit-string experiment id. */
export interface ExperimentsTable {
  id: Generated<number>;
  project_id: string;
  name: string;
  artifact_location: string;
  /** active | deleted */
  lifecycle_stage: string;
  creation_time: number;
  last_update_time: number;
  created_by: string;
}

export interface ExperimentTagsTable {
  experiment_id: number;
  key: string;
  value: string;
}

/** Runs. `id` is MLflow's run_id (32 lowercase hex). Lineage lives in reserved `mlops.*` tags. */
export interface RunsTable {
  id: string;
  experiment_id: number;
  /** Denormalized from the experiment: every access check needs it. */
  project_id: string;
  name: string;
  /** RUNNING | SCHEDULED | FINISHED | FAILED | KILLED */
  status: string;
  start_time: number;
  end_time: number | null;
  /** active | deleted */
  lifecycle_stage: string;
  deleted_time: number | null;
  user_id: string;
  artifact_uri: string;
}

export interface RunParamsTable {
  run_id: string;
  key: string;
  value: string;
}

export interface RunTagsTable {
  run_id: string;
  key: string;
  value: string;
}

/**
 * Metric points. The primary key is the whole point (as in MLflow), so re-sending an identical point is
 * a no-op; NaN is stored as value 0 with is_nan 1 because SQLite cannot keep NaN.
 */
export interface MetricsTable {
  run_id: string;
  key: string;
  step: number;
  timestamp: number;
  value: number;
  is_nan: number;
}

/** Each run's latest point per key (max step, then timestamp, then value): what search and compare read. */
export interface LatestMetricsTable {
  run_id: string;
  key: string;
  step: number;
  timestamp: number;
  value: number;
  is_nan: number;
}

/** A run's files: path -> blob in the artifact store. */
export interface RunArtifactsTable {
  run_id: string;
  path: string;
  sha256: string;
  size: number;
  created_at: number;
}

export interface TrackingTables {
  experiments: ExperimentsTable;
  experiment_tags: ExperimentTagsTable;
  runs: RunsTable;
  run_params: RunParamsTable;
  run_tags: RunTagsTable;
  metrics: MetricsTable;
  latest_metrics: LatestMetricsTable;
  run_artifacts: RunArtifactsTable;
}
