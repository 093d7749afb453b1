import type { Selectable } from "kysely";
import type {
  EvaluationResult,
  PipelineRun,
  PipelineState,
  PipelineStep,
  StepState,
  StepStatus,
  TriggerInfo,
} from "../../pipelines/pipeline-run.js";
import type { JobTemplate, RetrainPolicy } from "../../pipelines/policy.js";
import type { AnalysisPlan } from "../../serving/deployments/deployment.js";
import type { PipelineRunsTable, PipelineStepsTable, RetrainPoliciesTable } from "../tables/pipelines.js";

const json = (value: unknown): string => JSON.stringify(value);
const nullableNumber = (value: number | null): number | null => (value === null ? null : Number(value));

export function policyToRow(p: RetrainPolicy): RetrainPoliciesTable {
  return {
    id: p.id,
    project_id: p.projectId,
    model_id: p.modelId,
    model_name: p.modelName,
    dataset_id: p.datasetId,
    dataset_name: p.datasetName,
    min_new_labels: p.minNewLabels,
    cooldown_seconds: p.cooldownSeconds,
    settle_seconds: p.settleSeconds,
    threshold_met_at: p.thresholdMetAt,
    job_template: json(p.job),
    auto_deploy: p.autoDeploy ? 1 : 0,
    deployment: p.deployment,
    canary_plan: p.canaryPlan ? json(p.canaryPlan) : null,
    paused: p.paused ? 1 : 0,
    trigger_seq: p.triggerSeq,
    last_fired_at: p.lastFiredAt,
    owner_id: p.ownerId,
    created_at: p.createdAt,
    updated_at: p.updatedAt,
    created_by: p.createdBy,
    updated_by: p.updatedBy,
  };
}

export function policyFromRow(r: Selectable<RetrainPoliciesTable>): RetrainPolicy {
  return {
    id: r.id,
    projectId: r.project_id,
    modelId: r.model_id,
    modelName: r.model_name,
    datasetId: r.dataset_id,
    datasetName: r.dataset_name,
    minNewLabels: Number(r.min_new_labels),
    cooldownSeconds: Number(r.cooldown_seconds),
    settleSeconds: Number(r.settle_seconds),
    thresholdMetAt: nullableNumber(r.threshold_met_at),
    job: JSON.parse(r.job_template) as JobTemplate,
    autoDeploy: Number(r.auto_deploy) === 1,
    deployment: r.deployment,
    canaryPlan: r.canary_plan ? (JSON.parse(r.canary_plan) as Partial<AnalysisPlan>) : null,
    paused: Number(r.paused) === 1,
    triggerSeq: Number(r.trigger_seq),
    lastFiredAt: nullableNumber(r.last_fired_at),
    ownerId: r.owner_id,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    createdBy: r.created_by,
    updatedBy: r.updated_by,
  };
}

export function runToRow(r: PipelineRun): PipelineRunsTable {
  return {
    id: r.id,
    policy_id: r.policyId,
    project_id: r.projectId,
    model_id: r.modelId,
    model_name: r.modelName,
    dataset_id: r.datasetId,
    trigger_seq: r.triggerSeq,
    state: r.state,
    state_reason: r.stateReason,
    trigger_info: json(r.trigger),
    base_version: r.baseVersion,
    base_version_id: r.baseVersionId,
    snapshot_id: r.snapshotId,
    job_id: r.jobId,
    run_id: r.runId,
    candidate_version: r.candidateVersion,
    candidate_version_id: r.candidateVersionId,
    evaluation: r.evaluation ? json(r.evaluation) : null,
    job_template: json(r.job),
    auto_deploy: r.autoDeploy ? 1 : 0,
    deployment: r.deployment,
    canary_plan: r.canaryPlan ? json(r.canaryPlan) : null,
    owner_id: r.ownerId,
    revision: r.revision,
    created_at: r.createdAt,
    updated_at: r.updatedAt,
    finished_at: r.finishedAt,
  };
}

export function runFromRow(r: Selectable<PipelineRunsTable>): PipelineRun {
  return {
    id: r.id,
    policyId: r.policy_id,
    projectId: r.project_id,
    modelId: r.model_id,
    modelName: r.model_name,
    datasetId: r.dataset_id,
    triggerSeq: Number(r.trigger_seq),
    state: r.state as PipelineState,
    stateReason: r.state_reason,
    trigger: JSON.parse(r.trigger_info) as TriggerInfo,
    baseVersion: nullableNumber(r.base_version),
    baseVersionId: r.base_version_id,
    snapshotId: r.snapshot_id,
    jobId: r.job_id,
    runId: r.run_id,
    candidateVersion: nullableNumber(r.candidate_version),
    candidateVersionId: r.candidate_version_id,
    evaluation: r.evaluation ? (JSON.parse(r.evaluation) as EvaluationResult) : null,
    job: JSON.parse(r.job_template) as JobTemplate,
    autoDeploy: Number(r.auto_deploy) === 1,
    deployment: r.deployment,
    canaryPlan: r.canary_plan ? (JSON.parse(r.canary_plan) as Partial<AnalysisPlan>) : null,
    ownerId: r.owner_id,
    revision: Number(r.revision),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    finishedAt: nullableNumber(r.finished_at),
  };
}

export function stepFromRow(r: Selectable<PipelineStepsTable>): PipelineStep {
  return {
    id: Number(r.id),
    runId: r.run_id,
    step: r.step as StepState,
    status: r.status as StepStatus,
    startedAt: Number(r.started_at),
    finishedAt: nullableNumber(r.finished_at),
    reason: r.reason,
    details: JSON.parse(r.details) as Record<string, unknown>,
    jobId: r.job_id,
    holder: r.holder,
    resumes: Number(r.resumes),
  };
}
