import { ConflictError, DomainError } from "../errors.js";
import {
  canTransition,
  isEndState,
  type PipelineRun,
  type PipelineState,
  type RunPatch,
  type StepState,
  type StepStatus,
} from "./pipeline-run.js";
import type { PipelineStore } from "./pipeline-store.js";
import type { PipelinePorts } from "./ports.js";
import { PIPELINE_ACTOR, pipelinePrincipal, type StepContext, type StepHandler } from "./step-context.js";
import { analysisStep, canaryStep, stageStep } from "./steps/deploy-steps.js";
import { evaluateStep } from "./steps/evaluate-step.js";
import { snapshotStep } from "./steps/snapshot-step.js";
import { trainStep } from "./steps/train-step.js";
import { validateStep } from "./steps/validate-step.js";

export const STEP_HANDLERS: Readonly<Record<StepState, StepHandler>> = {
  snapshot: snapshotStep,
  train: trainStep,
  evaluate: evaluateStep,
  validate: validateStep,
  stage: stageStep,
  canary: canaryStep,
  analysis: analysisStep,
};

/** An error that is not a domain error (a database hiccup, a crash in a runner) is retried this often. */
const MAX_STEP_ERRORS = 5;

export interface EngineDeps {
  store: PipelineStore;
  ports: PipelinePorts;
  /** This control-plane process (recorded on the step it runs, to show takeovers after a restart). */
  holder: string;
  handlers?: Partial<Record<StepState, StepHandler>>;
  now?: () => number;
  log?: (message: string, details: Record<string, unknown>) => void;
}

/**
 * Runs pipeline steps. `advance` runs the current step of a run once (the loop calls it every tick);
 * `applyTransition` is the one function that moves a run: it checks the transition table, writes the run
 * conditionally on its revision together with the steps table (close this step, open the next) in one
 * transaction, and records the move in the audit log.
 */
export class PipelineEngine {
  private readonly now: () => number;
  private readonly log: (message: string, details: Record<string, unknown>) => void;

  constructor(private readonly deps: EngineDeps) {
    this.now = deps.now ?? Date.now;
    this.log = deps.log ?? (() => {});
  }

  async advance(runId: string): Promise<PipelineRun | undefined> {
    const run = await this.deps.store.getRun(runId);
    if (!run || isEndState(run.state)) return run;
    const step = await this.deps.store.currentStep(run.id);
    if (step && step.holder !== this.deps.holder) {
      // Another (dead, or former leader) process ran this step: we take it over and run it again.
      await this.deps.store.updateStep(step.id, { holder: this.deps.holder, resumes: step.resumes + 1 });
      await this.audit(run, "pipeline.resume", `resumed at ${run.state} by ${this.deps.holder}`, {
        step: run.state,
        previousHolder: step.holder,
      });
    }
    const handler = this.deps.handlers?.[run.state as StepState] ?? STEP_HANDLERS[run.state as StepState];
    const ctx = this.context(run);
    let outcome: Awaited<ReturnType<StepHandler>>;
    try {
      outcome = await handler(run, ctx);
    } catch (err) {
      return this.onStepError(run, err as Error, (step?.details.errors as number | undefined) ?? 0, step?.id);
    }
    if (outcome.kind === "next") {
      return this.applyTransition(run, outcome.to, outcome.reason, outcome.patch, outcome.details);
    }
    if (outcome.patch) await this.patch(run, outcome.patch);
    if (step && (outcome.details || outcome.jobId || outcome.note)) {
      await this.deps.store.updateStep(step.id, {
        details: {
          ...step.details,
          ...(outcome.details ?? {}),
          ...(outcome.note ? { waiting: outcome.note } : {}),
        },
        ...(outcome.jobId ? { jobId: outcome.jobId } : {}),
      });
    }
    return this.deps.store.getRun(run.id);
  }

  /** The one function that changes a run's state (see the class comment). */
  async applyTransition(
    run: PipelineRun,
    to: PipelineState,
    reason: string,
    patch: RunPatch = {},
    details: Record<string, unknown> = {},
  ): Promise<PipelineRun> {
    if (!canTransition(run.state, to)) {
      throw new ConflictError(`pipeline ${run.id} cannot go from ${run.state} to ${to}`);
    }
    const at = this.now();
    const ended = isEndState(to);
    const nextRun: PipelineRun = {
      ...run,
      ...patch,
      state: to,
      stateReason: reason,
      revision: run.revision + 1,
      updatedAt: at,
      finishedAt: ended ? at : null,
    };
    const status: StepStatus =
      to === "cancelled"
        ? "cancelled"
        : to === "failed" || to === "rejected" || to === "rolled_back"
          ? "failed"
          : "succeeded";
    const written = await this.deps.store.updateRun(nextRun, run.revision, {
      close: { status, reason, details, at },
      ...(ended ? {} : { open: { step: to as StepState, at, holder: this.deps.holder } }),
    });
    if (!written) throw new ConflictError(`pipeline ${run.id} was changed by another process meanwhile`);
    await this.audit(nextRun, "pipeline.transition", reason, { from: run.state, to, ...summary(details) });
    this.log("pipeline step finished", { pipeline: run.id, from: run.state, to, reason });
    return nextRun;
  }

  private async patch(run: PipelineRun, patch: RunPatch): Promise<void> {
    const nextRun = { ...run, ...patch, revision: run.revision + 1, updatedAt: this.now() };
    if (!(await this.deps.store.updateRun(nextRun, run.revision))) {
      throw new ConflictError(`pipeline ${run.id} was changed by another process meanwhile`);
    }
  }

  private async onStepError(
    run: PipelineRun,
    err: Error,
    errors: number,
    stepId?: number,
  ): Promise<PipelineRun> {
    // Refusals (not found, forbidden, invalid, unprocessable) will not go away by retrying.
    const permanent = err instanceof DomainError && err.status !== 409 && err.status < 500;
    if (permanent || errors + 1 >= MAX_STEP_ERRORS) {
      return this.applyTransition(
        run,
        "failed",
        `${run.state} failed: ${err.message}`,
        {},
        { error: err.message },
      );
    }
    this.log("pipeline step error (will retry)", { pipeline: run.id, step: run.state, error: err.message });
    if (stepId !== undefined) {
      const step = await this.deps.store.currentStep(run.id);
      await this.deps.store.updateStep(stepId, {
        details: { ...(step?.details ?? {}), errors: errors + 1, lastError: err.message },
      });
    }
    return run;
  }

  private context(run: PipelineRun): StepContext {
    return {
      ports: this.deps.ports,
      principal: pipelinePrincipal(run.ownerId),
      actor: PIPELINE_ACTOR,
      now: this.now,
      log: this.log,
    };
  }

  private async audit(run: PipelineRun, action: string, reason: string, details: Record<string, unknown>) {
    await this.deps.ports.audit.record({
      actor: PIPELINE_ACTOR,
      action,
      subjectType: "pipeline_run",
      subjectId: run.id,
      projectId: run.projectId,
      reason,
      details: { model: run.modelName, ...details },
    });
  }
}

/** Small scalar details only: the audit log is not the place for an evaluation's full figures. */
function summary(details: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(details).filter(
      ([, v]) => v === null || ["string", "number", "boolean"].includes(typeof v),
    ),
  );
}
