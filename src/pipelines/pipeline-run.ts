import type { AnalysisPlan } from "../serving/deployments/deployment.js";
import type { JobTemplate } from "./policy.js";

/**
 * A pipeline run: one pass of the closed loop (docs/sequence/model-lifecycle.md) for one trigger. Its state is the step it is in,
 * or how it ended. Every step is idempotent, so a control plane that restarts simply runs the current
 * step again (a train step re-attaches to the job it submitted).
 */
export const STEP_STATES = [
  "snapshot",
  "train",
  "evaluate",
  "validate",
  "stage",
  "canary",
  "analysis",
] as const;
export type StepState = (typeof STEP_STATES)[number];

export const END_STATES = ["promoted", "rolled_back", "rejected", "staged", "failed", "cancelled"] as const;
export type EndState = (typeof END_STATES)[number];

export type PipelineState = StepState | EndState;

/**
 * The transition table: the only moves a run can make. `failed` (an error the step cannot get past) and
 * `cancelled` (by a person) are possible from every step.
 */
export const PIPELINE_TRANSITIONS: Readonly<Record<PipelineState, readonly PipelineState[]>> = {
  snapshot: ["train", "failed", "cancelled"],
  train: ["evaluate", "failed", "cancelled"],
  evaluate: ["validate", "failed", "cancelled"],
  // The gate decides: staging, or stop with the reason.
  validate: ["stage", "rejected", "failed", "cancelled"],
  // autoDeploy: on to the canary; otherwise the candidate waits in staging for a person.
  stage: ["canary", "staged", "failed", "cancelled"],
  canary: ["analysis", "failed", "cancelled"],
  // The serving canary loop decides; the pipeline records what it decided.
  analysis: ["promoted", "rolled_back", "failed", "cancelled"],
  promoted: [],
  rolled_back: [],
  rejected: [],
  staged: [],
  failed: [],
  cancelled: [],
};

export function isEndState(state: PipelineState): state is EndState {
  return (END_STATES as readonly string[]).includes(state);
}

export function canTransition(from: PipelineState, to: PipelineState): boolean {
  return PIPELINE_TRANSITIONS[from].includes(to);
}

/** What fired the run: the label count against the threshold, and the snapshot it counted from. */
export interface TriggerInfo {
  newLabels: number;
  minNewLabels: number;
  /** The snapshot labels were counted since (production's training snapshot or the last run's); null = all. */
  basisSnapshot: string | null;
  basisSource: "production" | "last-run" | "none";
}

export interface ModelEvaluation {
  version: number;
  versionId: string;
  accuracy: number;
  correct: number;
  count: number;
}

/** Candidate and production on the holdout split of the run's snapshot. */
export interface EvaluationResult {
  snapshot: string;
  split: "holdout";
  /** How many holdout items, and the sha256 of their sorted ids (what was evaluated, checkable later). */
  itemCount: number;
  itemSetSha256: string;
  candidate: ModelEvaluation;
  production: ModelEvaluation | null;
  method: string;
}

export interface PipelineRun {
  id: string;
  policyId: string;
  projectId: string;
  modelId: string;
  modelName: string;
  datasetId: string;
  /** The trigger firing this run answers; unique per policy (the database's claim). */
  triggerSeq: number;
  state: PipelineState;
  stateReason: string;
  trigger: TriggerInfo;
  /** Production at trigger time: what the candidate is fine-tuned from (null: trained from scratch). */
  baseVersion: number | null;
  baseVersionId: string | null;
  snapshotId: string | null;
  jobId: string | null;
  /** The training job's tracking run. */
  runId: string | null;
  candidateVersion: number | null;
  candidateVersionId: string | null;
  evaluation: EvaluationResult | null;
  /** Copied from the policy when the run fired, so a later policy change does not alter a running pass. */
  job: JobTemplate;
  autoDeploy: boolean;
  deployment: string | null;
  canaryPlan: Partial<AnalysisPlan> | null;
  ownerId: string;
  /** Bumped by every change; changes are conditional on it. */
  revision: number;
  createdAt: number;
  updatedAt: number;
  finishedAt: number | null;
}

export const STEP_STATUSES = ["running", "succeeded", "failed", "cancelled"] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

/** One step of a run as it happened (the steps table). */
export interface PipelineStep {
  id: number;
  runId: string;
  step: StepState;
  status: StepStatus;
  startedAt: number;
  finishedAt: number | null;
  reason: string | null;
  details: Record<string, unknown>;
  /** The job whose logs belong to this step (train). */
  jobId: string | null;
  /** The control-plane process that last ran the step, and how many times a restarted one took it over. */
  holder: string;
  resumes: number;
}

/** Fields a step may set on its run. */
export type RunPatch = Partial<
  Pick<
    PipelineRun,
    "snapshotId" | "jobId" | "runId" | "candidateVersion" | "candidateVersionId" | "evaluation" | "deployment"
  >
>;
