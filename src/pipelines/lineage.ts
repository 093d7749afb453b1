import { LINEAGE_TAGS } from "../tracking/model.js";
import type { SnapshotPort, TrackingPort } from "./ports.js";
import type { SnapshotRef } from "./trigger.js";

/** Tags the pipeline writes on the training run (besides the lineage tags of tracking). */
export const PIPELINE_TAGS = {
  pipelineRun: "mlops.pipeline_run",
  baseModel: "mlops.base_model",
} as const;

/** The snapshot a model version was trained on: its source run's `mlops.dataset_snapshot` lineage tag. */
export async function trainingSnapshotOf(
  version: { runId: string | null } | undefined,
  tracking: TrackingPort,
  snapshots: SnapshotPort,
): Promise<SnapshotRef | null> {
  if (!version?.runId) return null;
  const run = await tracking.lookupRun(version.runId);
  const id = run?.tags[LINEAGE_TAGS.datasetSnapshot];
  if (!id) return null;
  const found = await snapshots.find(id);
  return found ? { id: found.id, createdAt: found.createdAt } : null;
}
