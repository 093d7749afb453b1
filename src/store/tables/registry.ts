import type { Generated } from "kysely";

export interface RegisteredModelsTable {
  id: string;
  project_id: string;
  name: string;
  description: string;
  created_at: number;
  updated_at: number;
  created_by: string;
  /** JSON ValidationGate or null. */
  gate: string | null;
  /** The number the next version gets; versions are never renumbered or reused. */
  next_version: number;
}

export interface RegisteredModelTagsTable {
  model_id: string;
  key: string;
  value: string;
}

export interface ModelVersionsTable {
  id: string;
  model_id: string;
  version: number;
  stage: string;
  source: string;
  run_id: string | null;
  run_path: string | null;
  status: string;
  description: string;
  created_at: number;
  updated_at: number;
  created_by: string;
}

export interface ModelVersionTagsTable {
  version_id: string;
  key: string;
  value: string;
}

export interface ModelVersionFilesTable {
  version_id: string;
  path: string;
  sha256: string;
  size: number;
}

export interface ModelAliasesTable {
  model_id: string;
  alias: string;
  version_id: string;
  updated_at: number;
}

export interface ModelStageTransitionsTable {
  id: Generated<number>;
  model_id: string;
  version_id: string;
  version: number;
  from_stage: string;
  to_stage: string;
  actor: string;
  at: number;
  reason: string;
  evidence: string | null;
  /** JSON object. */
  details: string;
}

export interface ModelValidationsTable {
  id: string;
  model_id: string;
  version_id: string;
  snapshot: string;
  /** JSON {metric: number}. */
  metrics: string;
  run_id: string | null;
  created_by: string;
  created_at: number;
  passed: number;
  /** JSON ValidationDecision. */
  decision: string;
  /** `platform` | `reported` (0152). */
  provenance: string;
  /** JSON EvaluationProvenance, for platform records. */
  evaluation: string | null;
}

export interface WebhooksTable {
  id: string;
  project_id: string;
  url: string;
  /** JSON string[]. */
  events: string;
  secret: string;
  created_at: number;
  created_by: string;
}

export interface WebhookDeliveriesTable {
  id: string;
  webhook_id: string;
  event_id: string;
  event_type: string;
  payload: string;
  status: string;
  attempts: number;
  next_attempt_at: number | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

export interface WebhookAttemptsTable {
  delivery_id: string;
  attempt: number;
  at: number;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
}

export interface RegistryTables {
  registered_models: RegisteredModelsTable;
  registered_model_tags: RegisteredModelTagsTable;
  model_versions: ModelVersionsTable;
  model_version_tags: ModelVersionTagsTable;
  model_version_files: ModelVersionFilesTable;
  model_aliases: ModelAliasesTable;
  model_stage_transitions: ModelStageTransitionsTable;
  model_validations: ModelValidationsTable;
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_attempts: WebhookAttemptsTable;
}
