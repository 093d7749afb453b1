import type { Readable } from "node:stream";
import type { ArtifactStore } from "../../artifacts/artifact-store.js";
import { grantWorkload } from "../../auth/authorization.js";
import type { Principal } from "../../auth/principal.js";
import { ConflictError, ForbiddenError, InputError, NotFoundError } from "../../errors.js";
import { type BatchPrediction, chunkRange } from "./batch.js";
import type { BatchProjects } from "./batch-ports.js";
import { type BatchView, view } from "./batch-service.js";
import { blobsBytes } from "./blob-bytes.js";
import type { BatchStore, NewChunkResult } from "./batch-store.js";
import { topOf, validatePrediction } from "./prediction-format.js";

/** What a worker learns when it starts: the model, and which chunks are still to do. */
export interface WorkerStart {
  batch: BatchView;
  /** The version's model.json, as stored. */
  descriptorText: string;
  /** Chunk indices without a checkpoint, ascending. */
  pending: number[];
}

export interface ChunkInputItem {
  position: number;
  key: string;
  itemId: string | null;
  /** Dataset images: the bytes, base64. Input-directory images are read from the job's directory. */
  image?: string;
  /** Dataset items referenced by URL: the worker fetches them. */
  url?: string;
}

export interface ChunkSubmission {
  predictions: Array<{ position: number; prediction: unknown }>;
  /** Worker-measured time for the chunk, ms. */
  durationMs: number;
  /** The job attempt (MLOPS_ATTEMPT) that computed it. */
  attempt: number;
}

/** This worker was started before the batch recorded its job id (a create or resume in progress): retry. */
export class WorkerNotLinkedError extends ConflictError {
  override readonly code: string = "BATCH_WORKER_NOT_LINKED";
}

/**
 * The worker's side of a batch (`mlops batch worker`, running as a scheduler job with a workload token):
 * start an attempt, fetch a chunk's inputs and the model file, and store a chunk's predictions together
 * with its checkpoint. Only the batch's current job may do this (or a user with write access, by hand).
 */
export class BatchWorkerApi {
  constructor(
    private readonly deps: {
      store: BatchStore;
      projects: BatchProjects;
      artifacts: ArtifactStore;
      now?: () => number;
    },
  ) {}

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  async start(principal: Principal, id: string, attempt: number): Promise<WorkerStart> {
    const batch = await this.authorize(principal, id);
    if (batch.state === "succeeded")
      return { batch: view(batch), descriptorText: batch.descriptorText, pending: [] };
    if (batch.state !== "queued" && batch.state !== "running")
      throw new ConflictError(`batch prediction ${id} is ${batch.state}; resume it first`);
    const at = this.now();
    const moved = await this.deps.store.updateState(id, ["queued", "running"], {
      state: "running",
      stateReason: `worker running (job ${principal.scope?.jobId ?? "manual"}, attempt ${attempt})`,
      startedAt: batch.startedAt ?? at,
      rateSince: null,
      rateImagesSince: batch.imagesDone,
      updatedAt: at,
    });
    if (!moved) throw new ConflictError(`batch prediction ${id} changed state while its worker started`);
    const done = new Set(await this.deps.store.doneChunks(id));
    const pending: number[] = [];
    for (let i = 0; i < batch.chunkCount; i++) if (!done.has(i)) pending.push(i);
    const fresh = (await this.deps.store.getBatch(id)) ?? batch;
    return { batch: view(fresh), descriptorText: batch.descriptorText, pending };
  }

  async modelFile(principal: Principal, id: string): Promise<{ stream: Readable; size: number }> {
    const batch = await this.authorize(principal, id);
    const info = await this.deps.artifacts.stat(batch.modelSha256);
    return { stream: await this.deps.artifacts.get(batch.modelSha256), size: info.size };
  }

  async chunkInputs(principal: Principal, id: string, index: number): Promise<{ items: ChunkInputItem[] }> {
    const batch = await this.authorize(principal, id);
    const { start, end } = this.range(batch, index);
    const inputs = await this.deps.store.inputs(id, start, end);
    const withBlob = inputs.filter((input) => input.sha256 !== null);
    const bytes = await blobsBytes(
      this.deps.artifacts,
      withBlob.map((input) => input.sha256 as string),
    );
    const imageOf = new Map(withBlob.map((input, i) => [input.position, bytes[i]]));
    const items = inputs.map((input): ChunkInputItem => {
      const item: ChunkInputItem = { position: input.position, key: input.key, itemId: input.itemId };
      const image = imageOf.get(input.position);
      if (image) item.image = image.toString("base64");
      else if (input.url) item.url = input.url;
      return item;
    });
    return { items };
  }

  /**
   * Stores a chunk's predictions and its checkpoint in one transaction. A chunk stored before (a retried
   * request, or a second worker) is a no-op answered with `stored: false`, so no image is predicted twice.
   */
  async completeChunk(
    principal: Principal,
    id: string,
    index: number,
    submission: ChunkSubmission,
  ): Promise<{ stored: boolean; batch: BatchView }> {
    const batch = await this.authorize(principal, id);
    const { start, end } = this.range(batch, index);
    const { predictions } = submission;
    if (!Array.isArray(predictions) || predictions.length !== end - start)
      throw new InputError(
        `chunk ${index} holds positions ${start}..${end - 1}: send exactly ${end - start} predictions`,
      );
    const inputs = await this.deps.store.inputs(id, start, end);
    const byPosition = new Map(predictions.map((p) => [p.position, p.prediction]));
    const results: NewChunkResult[] = inputs.map((input) => {
      if (!byPosition.has(input.position))
        throw new InputError(`chunk ${index}: no prediction for position ${input.position}`);
      const prediction = validatePrediction(batch, byPosition.get(input.position), input.position);
      const top = topOf(prediction);
      return {
        position: input.position,
        key: input.key,
        itemId: input.itemId,
        prediction,
        topLabel: top.label,
        score: top.score,
      };
    });
    if (!Number.isFinite(submission.durationMs) || submission.durationMs < 0)
      throw new InputError("durationMs must be a number >= 0");
    const stored = await this.deps.store.completeChunk(id, {
      chunk: {
        chunkIndex: index,
        items: results.length,
        jobId: principal.scope?.jobId ?? null,
        attempt: Number.isInteger(submission.attempt) ? submission.attempt : 0,
        durationMs: submission.durationMs,
        completedAt: this.now(),
      },
      results,
    });
    return { stored: stored.stored, batch: view(stored.batch) };
  }

  private range(batch: BatchPrediction, index: number): { start: number; end: number } {
    if (!Number.isInteger(index) || index < 0 || index >= batch.chunkCount)
      throw new NotFoundError(
        `batch prediction ${batch.id} has chunks 0..${batch.chunkCount - 1}, not ${index}`,
      );
    return chunkRange(batch, index);
  }

  private async authorize(principal: Principal, id: string): Promise<BatchPrediction> {
    const batch = await this.deps.store.getBatch(id);
    if (!batch) throw new NotFoundError(`batch prediction ${id} not found`);
    if (principal.scope) {
      // Another project's workload learns nothing about this batch (not even its job).
      await this.deps.projects.getProject(principal, batch.projectId, "read");
      const jobId = principal.scope.jobId;
      if (!jobId) throw new ForbiddenError("only a batch prediction's own job may act as its worker");
      if (batch.jobId === null)
        throw new WorkerNotLinkedError(`batch prediction ${id} is still recording its job; retry shortly`);
      if (batch.jobId !== jobId)
        throw new ForbiddenError(
          `job ${jobId} is not the worker of batch prediction ${id} (job ${batch.jobId} is)`,
        );
    }
    const granted = grantWorkload(principal, "batch.report", { jobId: batch.jobId });
    await this.deps.projects.getProject(granted, batch.projectId, "write");
    return batch;
  }
}
