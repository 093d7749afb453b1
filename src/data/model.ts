/** The data domain's vocabulary: datasets, items, labels with revisions, snapshots. */

export const DATASET_TASKS = ["classification", "detection"] as const;
export type DatasetTask = (typeof DATASET_TASKS)[number];

export const SPLITS = ["train", "val", "holdout"] as const;
export type Split = (typeof SPLITS)[number];

export interface SplitFractions {
  train: number;
  val: number;
  holdout: number;
}

export const DEFAULT_SPLIT_FRACTIONS: SplitFractions = { train: 0.8, val: 0.1, holdout: 0.1 };

export interface Dataset {
  id: string;
  projectId: string;
  name: string;
  description: string;
  task: DatasetTask;
  classes: string[];
  splitFractions: SplitFractions;
  /** Whether Label Studio webhooks must carry the shared secret. */
  hasWebhookSecret: boolean;
  createdAt: number;
  createdBy: string;
}

export interface DatasetItem {
  id: string;
  datasetId: string;
  key: string;
  sha256: string | null;
  url: string | null;
  size: number | null;
  sourceName: string | null;
  fileName: string | null;
  split: Split;
  externalTaskId: string | null;
  createdAt: number;
}

/** A box in coordinates normalized to 0..1 of the image: top-left corner, width, height. */
export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
  label: string;
}

export type ClassLabel = { class: string };
export type BoxesLabel = { boxes: Box[] };
export type Label = ClassLabel | BoxesLabel;

export const LABEL_SOURCES = ["import", "api", "label-studio"] as const;
export type LabelSource = (typeof LABEL_SOURCES)[number];

export type PredictionOutcome = "accepted" | "corrected";

/** The served prediction a label revision answers, as the labeling tool or client reported it. */
export interface PredictionLink {
  predictionId: string | null;
  modelVersion: string | null;
  deployment: string | null;
  predictedLabel: Label | null;
}

export interface LabelRevision {
  id: number;
  datasetId: string;
  itemId: string;
  /** null: a tombstone (the label was deleted). */
  label: Label | null;
  source: LabelSource;
  author: string;
  createdAt: number;
  dedupeKey: string;
  sourceRef: string | null;
  prediction: PredictionLink | null;
  outcome: PredictionOutcome | null;
}

export interface SplitCounts {
  train: number;
  val: number;
  holdout: number;
}

export interface Snapshot {
  /** sha256 of the canonical manifest: the same content always gets the same id. */
  id: string;
  datasetId: string;
  itemCount: number;
  splitCounts: SplitCounts;
  manifestSize: number;
  createdAt: number;
  createdBy: string;
}

export interface AgreementCounts {
  accepted: number;
  corrected: number;
  total: number;
}

export interface AgreementRow extends AgreementCounts {
  modelVersion: string;
  deployment: string | null;
  /** accepted / total (0 when total is 0). */
  agreement: number;
}
