import { EVALUATOR_VERSION } from "../../evaluation/evaluation-service.js";
import type { ValidationRecord } from "../../registry/registry-store.js";
import type { ModelEvaluation, PipelineRun } from "../pipeline-run.js";
import { next, type StepContext, type StepHandler } from "../step-context.js";

/** The metrics a validation record carries (the gate names one of them, normally `accuracy`). */
export function validationMetrics(evaluation: ModelEvaluation): Record<string, number> {
  return { accuracy: evaluation.accuracy, holdout_items: evaluation.count };
}

/**
 * Validation records for production and candidate on the run's snapshot, production first so that the
 * candidate's record is decided against it (the registry's gate decides, not the pipeline). Records that
 * already exist (a step run again after a crash) are reused.
 */
export const validateStep: StepHandler = async (run, ctx) => {
  const evaluation = run.evaluation;
  if (!evaluation || !run.snapshotId)
    throw new Error(`pipeline ${run.id} reached validation without an evaluation`);
  let productionRecord: ValidationRecord | undefined;
  if (evaluation.production) {
    productionRecord = await ensureRecord(run, evaluation.production, ctx);
  }
  const candidateRecord = await ensureRecord(run, evaluation.candidate, ctx);
  const details = {
    snapshot: run.snapshotId,
    candidateRecord: candidateRecord.id,
    productionRecord: productionRecord?.id ?? null,
    decision: candidateRecord.decision,
  };
  if (!candidateRecord.passed) {
    return next("rejected", `gate: ${candidateRecord.decision.reasons.join("; ") || "not passed"}`, {
      details,
    });
  }
  return next("stage", `gate passed: ${candidateRecord.decision.notes.join("; ") || "ok"}`, { details });
};

async function ensureRecord(
  run: PipelineRun,
  evaluation: ModelEvaluation,
  ctx: StepContext,
): Promise<ValidationRecord> {
  const snapshot = run.snapshotId as string;
  const existing = await ctx.ports.registry.listValidations(
    ctx.principal,
    run.projectId,
    run.modelName,
    String(evaluation.version),
  );
  const mine = existing.filter((r) => r.snapshot === snapshot && r.provenance === "platform");
  const measured = run.evaluation as NonNullable<PipelineRun["evaluation"]>;
  // Newest first (the registry lists validations by creation time, descending): a resumed step reuses it.
  if (mine.length > 0) return mine[0];
  return ctx.ports.registry.recordValidation(
    ctx.principal,
    run.projectId,
    run.modelName,
    evaluation.version,
    {
      snapshot,
      metrics: validationMetrics(evaluation),
      ...(run.runId && evaluation.versionId === run.candidateVersionId ? { runId: run.runId } : {}),
      // The evaluate step measured it with the platform's runner: a `platform` record (the gate counts it).
      provenance: "platform",
      evaluation: {
        split: "holdout",
        itemCount: measured.itemCount,
        itemSetSha256: measured.itemSetSha256,
        evaluator: EVALUATOR_VERSION,
        method: measured.method,
        task: "classification",
        trainingData: "holdout split: training jobs read only the train and val splits of a snapshot",
      },
    },
  );
}
