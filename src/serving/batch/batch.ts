import { ConflictError } from "../../errors.js";

/**
 * A batch prediction (pseudo-labeling) job: one model version over every image of a dataset or of an
 * uploaded directory, in fixed chunks. The batch is a thin record around a scheduler job that runs the
 * worker (`mlops batch worker <id>`); progress and exactly-once live in its chunk checkpoints.
 */
export type BatchState = "queued" | "running" | "succeeded" | "failed" | "cancelled";

export const BATCH_STATES: readonly BatchState[] = ["queued", "running", "succeeded", "failed", "cancelled"];

/**
 * Allowed transitions. `running -> running` is a new worker attempt (a job retry resumes); a failed or
 * cancelled batch is resumed into `queued` with a new job. `succeeded` is final: every chunk is stored.
 */
const TRANSITIONS: Record<BatchState, readonly BatchState[]> = {
  queued: ["running", "succeeded", "failed", "cancelled"],
  running: ["running", "succeeded", "failed", "cancelled"],
  succeeded: [],
  failed: ["queued"],
  cancelled: ["queued"],
};

export function canTransition(from: BatchState, to: BatchState): boolean {
  return TRANSITIONS[from].includes(to);
}

export function assertTransition(from: BatchState, to: BatchState): void {
  if (!canTransition(from, to))
    throw new ConflictError(`batch prediction is ${from}; it cannot become ${to}`);
}

export function isFinished(state: BatchState): boolean {
  return state === "succeeded" || state === "failed" || state === "cancelled";
}

export type BatchSource =
  | { kind: "dataset"; datasetId: string; datasetName: string }
  | { kind: "input"; inputDigest: string };

export interface BatchPrediction {
  id: string;
  projectId: string;
  modelId: string;
  modelName: string;
  modelVersion: number;
  versionId: string;
  task: "classification" | "detection";
  classes: string[];
  /** The version's model.onnx (artifact sha256) and model.json text, frozen when the batch was created. */
  modelSha256: string;
  descriptorText: string;
  source: BatchSource;
  total: number;
  chunkSize: number;
  chunkCount: number;
  workers: number;
  state: BatchState;
  stateReason: string;
  jobId: string | null;
  jobsSubmitted: number;
  chunksDone: number;
  imagesDone: number;
  rateSince: number | null;
  rateImagesSince: number;
  lastChunkAt: number | null;
  createdAt: number;
  createdBy: string;
  startedAt: number | null;
  finishedAt: number | null;
  updatedAt: number;
}

/** One image to predict: a dataset item (blob or URL) or a file of the input directory. */
export interface BatchInput {
  position: number;
  key: string;
  itemId: string | null;
  sha256: string | null;
  url: string | null;
}

/** A chunk checkpoint: written once, with the chunk's results, in one transaction. */
export interface BatchChunk {
  chunkIndex: number;
  items: number;
  jobId: string | null;
  attempt: number;
  durationMs: number;
  completedAt: number;
}

/**
 * What a batch stores per image: the model's answer, boxes normalized to 0..1 of the image. An image the
 * worker could not read or decode gets `error` and no labels/boxes (it still counts as done: retrying
 * a corrupt file would not help, and the batch must finish).
 */
export type StoredPrediction =
  | {
      task: "classification";
      width: number;
      height: number;
      labels: Array<{ label: string; score: number }>;
      error?: string;
    }
  | {
      task: "detection";
      width: number;
      height: number;
      boxes: Array<{ label: string; score: number; x1: number; y1: number; x2: number; y2: number }>;
      error?: string;
    };

export interface BatchResult {
  position: number;
  chunkIndex: number;
  key: string;
  itemId: string | null;
  prediction: StoredPrediction;
  createdAt: number;
}

export interface BatchProgress {
  done: number;
  total: number;
  chunksDone: number;
  chunkCount: number;
  /** Images per second of the current (or last) worker attempt, between its first and last stored chunk. */
  imagesPerSecond: number | null;
  fraction: number;
}

export function progressOf(batch: BatchPrediction): BatchProgress {
  const since = batch.rateSince;
  const doneThisAttempt = batch.imagesDone - batch.rateImagesSince;
  const seconds = since !== null && batch.lastChunkAt !== null ? (batch.lastChunkAt - since) / 1000 : 0;
  return {
    done: batch.imagesDone,
    total: batch.total,
    chunksDone: batch.chunksDone,
    chunkCount: batch.chunkCount,
    imagesPerSecond: seconds > 0 && doneThisAttempt > 0 ? doneThisAttempt / seconds : null,
    fraction: batch.total === 0 ? 1 : batch.imagesDone / batch.total,
  };
}

/** Positions [start, end) of chunk `index`. */
export function chunkRange(batch: Pick<BatchPrediction, "chunkSize" | "total">, index: number) {
  const start = index * batch.chunkSize;
  return { start, end: Math.min(batch.total, start + batch.chunkSize) };
}

export function chunkCountOf(total: number, chunkSize: number): number {
  return Math.ceil(total / chunkSize);
}
