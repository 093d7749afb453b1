import type { Generated } from "kysely";

export interface DeploymentsTable {
  id: string;
  name: string;
  project_id: string;
  model_id: string;
  model_name: string;
  environment: string;
  state: string;
  primary_version_id: string;
  primary_version: number;
  canary_version_id: string | null;
  canary_version: number | null;
  canary_weight: number;
  /** JSON AnalysisPlan or null. */
  plan: string | null;
  canary_started_at: number | null;
  step_started_at: number | null;
  failures: number;
  /** JSON LabelStudioSetup or null. */
  label_studio: string | null;
  revision: number;
  created_at: number;
  updated_at: number;
  created_by: string;
}

export interface DeploymentHistoryTable {
  id: Generated<number>;
  deployment_id: string;
  at: number;
  actor: string;
  action: string;
  from_state: string | null;
  to_state: string;
  reason: string;
  primary_version: number;
  canary_version: number | null;
  canary_weight: number;
  /** JSON object. */
  details: string;
}

/** One row (id = 1): bumped by every deployment change, polled by every serving process. */
export interface ServingGenerationTable {
  id: number;
  generation: number;
}

export interface PredictionsTable {
  id: string;
  deployment_id: string;
  deployment: string;
  model_version_id: string;
  model_version: string;
  /** 0/1 */
  canary: number;
  created_at: number;
  input_sha256: string;
  outcome: string;
  top_label: string | null;
  score: number | null;
  /** JSON or null. */
  output: string | null;
  latency_ms: number;
  routing_key: string | null;
  endpoint: string;
  error: string | null;
}

export interface ServingTables {
  deployments: DeploymentsTable;
  deployment_history: DeploymentHistoryTable;
  serving_generation: ServingGenerationTable;
  predictions: PredictionsTable;
}
