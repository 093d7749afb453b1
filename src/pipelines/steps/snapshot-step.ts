import { next, type StepHandler } from "../step-context.js";

/** Freezes what the candidate will see: content-addressed, so running it again returns the same snapshot. */
export const snapshotStep: StepHandler = async (run, ctx) => {
  const snapshot = await ctx.ports.snapshots.create(run.datasetId, ctx.actor);
  const counts = snapshot.splitCounts;
  const details = {
    snapshot: snapshot.id,
    items: snapshot.itemCount,
    splitCounts: counts,
    created: snapshot.created,
  };
  if (counts.train === 0) return next("failed", "the snapshot has no training items", { details });
  if (counts.holdout === 0) {
    return next("failed", "the snapshot has no holdout items to evaluate on", { details });
  }
  return next("train", `snapshot ${snapshot.id.slice(0, 12)}: ${snapshot.itemCount} items`, {
    patch: { snapshotId: snapshot.id },
    details,
  });
};
