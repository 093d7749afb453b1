import { itemsOfSplit } from "../../data/manifest.js";
import { itemSetSha256 } from "../../evaluation/item-set.js";
import type { EvaluationResult } from "../pipeline-run.js";
import { next, type StepHandler } from "../step-context.js";

export { itemSetSha256 };

/**
 * Candidate and current production on the holdout split of the run's snapshot — the same items for both,
 * none of which the candidate trained on (training jobs read train and val only). Runs in-process with the
 * serving model runner (onnxruntime), so the figures are what serving will answer.
 */
export const evaluateStep: StepHandler = async (run, ctx) => {
  if (!run.snapshotId || !run.candidateVersionId || run.candidateVersion === null) {
    throw new Error(`pipeline ${run.id} reached evaluation without a snapshot or candidate`);
  }
  const manifest = await ctx.ports.snapshots.manifest(run.snapshotId);
  if (manifest.dataset.task !== "classification") {
    return next("failed", `evaluating ${manifest.dataset.task} models is not supported yet`);
  }
  const holdout = itemsOfSplit(manifest, "holdout");
  const candidate = await ctx.ports.evaluator.evaluate(
    { id: run.candidateVersionId, version: run.candidateVersion },
    holdout,
  );
  // Production as it is now (normally the base version): the gate compares with the current production.
  const versions = await ctx.ports.registry.listVersions(ctx.principal, run.projectId, run.modelName);
  const production = versions.find((v) => v.stage === "production" && v.id !== run.candidateVersionId);
  const productionEval = production
    ? await ctx.ports.evaluator.evaluate({ id: production.id, version: production.version }, holdout)
    : null;
  const evaluation: EvaluationResult = {
    snapshot: run.snapshotId,
    split: "holdout",
    itemCount: holdout.length,
    itemSetSha256: itemSetSha256(holdout.map((item) => item.id)),
    candidate,
    production: productionEval,
    method: ctx.ports.evaluator.method,
  };
  const vs = productionEval
    ? ` vs production v${productionEval.version} ${productionEval.accuracy.toFixed(4)}`
    : "";
  return next(
    "validate",
    `holdout accuracy: candidate v${candidate.version} ${candidate.accuracy.toFixed(4)}${vs} on ${holdout.length} items`,
    { patch: { evaluation }, details: { ...evaluation } },
  );
};
