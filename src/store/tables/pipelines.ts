import type { Generated } from "kysely";

export interface RetrainPoliciesTable {
  id: string;
  project_id: string;
  /** One policy per registered model. */
  model_id: string;
  model_name: string;
  dataset_id: string;
  dataset_name: string;
  min_new_labels: number;
  cooldown_seconds: number;
  /** JSON JobTemplate. */
  job_template: string;
  /** 0/1 */
  auto_deploy: number;
  deployment: string | null;
  /** JSON partial AnalysisPlan or null. */
  canary_plan: string | null;
  /** 0/1 */
  paused: number;
  /** Number of firings so far; a firing claims trigger_seq + 1 with a conditional update. */
  trigger_seq: number;
  last_fired_at: number | null;
  /** Seconds without label changes (and no open import) before the trigger fires. */
  settle_seconds: number;
  /** When the trigger first saw the threshold met (bounds the quiet-period wait); null below it. */
  threshold_met_at: number | null;
  owner_id: string;
  created_at: number;
  updated_at: number;
  created_by: string;
  updated_by: string;
}

export interface PipelineRunsTable {
  id: string;
  policy_id: string;
  project_id: string;
  model_id: string;
  model_name: string;
  dataset_id: string;
  /** Unique with policy_id: one run per trigger firing, whatever the number of control planes. */
  trigger_seq: number;
  state: string;
  state_reason: string;
  /** JSON TriggerInfo. */
  trigger_info: string;
  base_version: number | null;
  base_version_id: string | null;
  snapshot_id: string | null;
  job_id: string | null;
  run_id: string | null;
  candidate_version: number | null;
  candidate_version_id: string | null;
  /** JSON EvaluationResult or null. */
  evaluation: string | null;
  /** JSON JobTemplate, copied from the policy at firing. */
  job_template: string;
  /** 0/1 */
  auto_deploy: number;
  deployment: string | null;
  canary_plan: string | null;
  owner_id: string;
  revision: number;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
}

export interface PipelineStepsTable {
  id: Generated<number>;
  run_id: string;
  step: string;
  status: string;
  started_at: number;
  finished_at: number | null;
  reason: string | null;
  /** JSON object. */
  details: string;
  job_id: string | null;
  holder: string;
  resumes: number;
}

export interface PipelineTables {
  retrain_policies: RetrainPoliciesTable;
  pipeline_runs: PipelineRunsTable;
  pipeline_steps: PipelineStepsTable;
}
