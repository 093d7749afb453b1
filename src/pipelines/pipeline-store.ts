import type { PipelineRun, PipelineState, PipelineStep, StepState, StepStatus } from "./pipeline-run.js";
import type { RetrainPolicy } from "./policy.js";

/** How a transition closes the current step and opens the next one (all in the run's transaction). */
export interface StepChange {
  close?: { status: StepStatus; reason: string; details: Record<string, unknown>; at: number };
  open?: { step: StepState; at: number; holder: string };
}

export interface RunListQuery {
  projectIds: string[];
  modelId?: string;
  states?: PipelineState[];
  limit: number;
}

/** The pipelines domain's storage contract (implemented by `store/repositories/pipelines.ts`). */
export interface PipelineStore {
  /** Inserts or replaces the model's policy (one per model). */
  upsertPolicy(policy: RetrainPolicy): Promise<RetrainPolicy>;
  findPolicyByModel(modelId: string): Promise<RetrainPolicy | undefined>;
  findPolicy(id: string): Promise<RetrainPolicy | undefined>;
  listPolicies(filter: { projectIds?: string[]; activeOnly?: boolean }): Promise<RetrainPolicy[]>;
  setPaused(policyId: string, paused: boolean, actor: string, at: number): Promise<boolean>;

  /**
   * The claim of one threshold crossing: bumps the policy's trigger sequence from `expectedSeq` and inserts
   * the run (unique per policy and sequence) in one transaction, with the run's first step opened. Returns
   * false when another process claimed it first (the sequence moved, or the unique key refused the row).
   */
  /** Records when the trigger first saw the threshold met (kept if already set), or clears it (null). */
  setThresholdMetAt(policyId: string, at: number | null): Promise<void>;
  claimTrigger(run: PipelineRun, expectedSeq: number, firstStep: StepChange["open"]): Promise<boolean>;

  getRun(id: string): Promise<PipelineRun | undefined>;
  listRuns(query: RunListQuery): Promise<PipelineRun[]>;
  /** Runs not in an end state (what the loop advances and what blocks a new trigger). */
  activeRuns(policyId?: string): Promise<PipelineRun[]>;
  /** The policy's most recent run. */
  lastRun(policyId: string): Promise<PipelineRun | undefined>;
  countRuns(policyId: string): Promise<number>;

  /**
   * Writes `next` if the run is still at `expectedRevision`, and applies the step change, in one
   * transaction. false: someone else changed the run first (nothing written).
   */
  updateRun(next: PipelineRun, expectedRevision: number, change?: StepChange): Promise<boolean>;

  steps(runId: string): Promise<PipelineStep[]>;
  /** The open step row of a run (status running). */
  currentStep(runId: string): Promise<PipelineStep | undefined>;
  /** Updates the open step's details / job / holder (a wait that learned something, a takeover). */
  updateStep(
    stepId: number,
    patch: Partial<Pick<PipelineStep, "details" | "jobId" | "holder" | "resumes">>,
  ): Promise<void>;
}
