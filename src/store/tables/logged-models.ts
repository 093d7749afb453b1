/** MLflow 3 logged models. `id` is `m-<32 hex>`; `deleted_at` set means deleted (rows kept for lineage). */
export interface LoggedModelsTable {
  id: string;
  experiment_id: number;
  /** Denormalized from the experiment: every access check needs it. */
  project_id: string;
  name: string;
  model_type: string | null;
  source_run_id: string | null;
  /** LOGGED_MODEL_PENDING | LOGGED_MODEL_READY | LOGGED_MODEL_UPLOAD_FAILED */
  status: string;
  status_message: string | null;
  creator: string;
  created_at: number;
  updated_at: number;
  deleted_at: number | null;
}

export interface LoggedModelKeyValuesTable {
  model_id: string;
  key: string;
  value: string;
}

/** A logged model's files: path -> blob in the artifact store. */
export interface LoggedModelArtifactsTable {
  model_id: string;
  path: string;
  sha256: string;
  size: number;
  created_at: number;
}

/** `runs/outputs`: which logged models a run produced, at which step. */
export interface RunOutputsTable {
  run_id: string;
  model_id: string;
  step: number;
}

export interface LoggedModelTables {
  logged_models: LoggedModelsTable;
  logged_model_params: LoggedModelKeyValuesTable;
  logged_model_tags: LoggedModelKeyValuesTable;
  logged_model_artifacts: LoggedModelArtifactsTable;
  run_outputs: RunOutputsTable;
}
