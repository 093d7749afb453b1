import type {
  BatchChunk,
  BatchInput,
  BatchPrediction,
  BatchResult,
  BatchState,
  StoredPrediction,
} from "./batch.js";

export interface BatchStatePatch {
  state: BatchState;
  stateReason: string;
  jobId?: string | null;
  jobsSubmitted?: number;
  startedAt?: number | null;
  finishedAt?: number | null;
  rateSince?: number | null;
  rateImagesSince?: number;
  updatedAt: number;
}

export interface NewChunkResult {
  position: number;
  key: string;
  itemId: string | null;
  prediction: StoredPrediction;
  topLabel: string | null;
  score: number | null;
}

export interface CompletedChunk {
  chunk: BatchChunk;
  results: NewChunkResult[];
}

/** Persistence of batch predictions (SQL implementation: store/repositories/batch.ts). */
export interface BatchStore {
  /** The batch and its frozen input list, in one transaction. */
  insertBatch(batch: BatchPrediction, inputs: BatchInput[]): Promise<void>;
  getBatch(id: string): Promise<BatchPrediction | undefined>;
  listBatches(projectIds: string[], limit: number): Promise<BatchPrediction[]>;
  /** Compare-and-set on the state: applies the patch only while the batch is in `from`; false otherwise. */
  updateState(id: string, from: BatchState[], patch: BatchStatePatch): Promise<boolean>;
  /** Inputs with position in [start, end), by position. */
  inputs(batchId: string, start: number, end: number): Promise<BatchInput[]>;
  /** Indices of the chunks already checkpointed. */
  doneChunks(batchId: string): Promise<number[]>;
  chunks(batchId: string): Promise<BatchChunk[]>;
  /**
   * Checkpoints a chunk: its row, its results and the batch's counters in one transaction. Returns
   * false (and writes nothing) when the chunk was already checkpointed. When it was the last chunk,
   * the batch becomes `succeeded` in the same transaction.
   */
  completeChunk(batchId: string, done: CompletedChunk): Promise<{ stored: boolean; batch: BatchPrediction }>;
  /** Results by position, after `afterPosition`. */
  results(batchId: string, afterPosition: number, limit: number): Promise<BatchResult[]>;
  countResults(batchId: string): Promise<{ rows: number; distinctPositions: number }>;
}
