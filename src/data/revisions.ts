import type { NewRevision } from "./data-store.js";
import { predictionOutcome } from "./labels.js";
import type { DatasetItem, Label, LabelSource, PredictionLink } from "./model.js";

/** A new label revision; the agreement outcome is decided here, once, from what was stored. */
export function buildRevision(args: {
  item: DatasetItem;
  label: Label | null;
  source: LabelSource;
  dedupeKey: string;
  author: string;
  createdAt: number;
  sourceRef?: string | null;
  prediction?: PredictionLink | null;
}): NewRevision {
  const prediction = args.prediction ?? null;
  const outcome =
    args.label && prediction?.predictedLabel
      ? predictionOutcome(args.label, prediction.predictedLabel)
      : null;
  return {
    datasetId: args.item.datasetId,
    itemId: args.item.id,
    label: args.label,
    source: args.source,
    dedupeKey: args.dedupeKey,
    author: args.author,
    createdAt: args.createdAt,
    sourceRef: args.sourceRef ?? null,
    prediction,
    outcome,
  };
}
