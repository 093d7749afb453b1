import type { Selectable } from "kysely";
import type {
  BatchChunk,
  BatchInput,
  BatchPrediction,
  BatchResult,
  BatchSource,
  BatchState,
  StoredPrediction,
} from "../../serving/batch/batch.js";
import type {
  BatchPredictionChunksTable,
  BatchPredictionInputsTable,
  BatchPredictionResultsTable,
  BatchPredictionsTable,
} from "../tables/batch.js";

export function batchToRow(b: BatchPrediction): BatchPredictionsTable {
  return {
    id: b.id,
    project_id: b.projectId,
    model_id: b.modelId,
    model_name: b.modelName,
    model_version: b.modelVersion,
    version_id: b.versionId,
    task: b.task,
    classes: JSON.stringify(b.classes),
    model_sha256: b.modelSha256,
    descriptor: b.descriptorText,
    source_kind: b.source.kind,
    dataset_id: b.source.kind === "dataset" ? b.source.datasetId : null,
    dataset_name: b.source.kind === "dataset" ? b.source.datasetName : null,
    input_digest: b.source.kind === "input" ? b.source.inputDigest : null,
    total: b.total,
    chunk_size: b.chunkSize,
    chunk_count: b.chunkCount,
    workers: b.workers,
    state: b.state,
    state_reason: b.stateReason,
    job_id: b.jobId,
    jobs_submitted: b.jobsSubmitted,
    chunks_done: b.chunksDone,
    images_done: b.imagesDone,
    rate_since: b.rateSince,
    rate_images_since: b.rateImagesSince,
    last_chunk_at: b.lastChunkAt,
    created_at: b.createdAt,
    created_by: b.createdBy,
    started_at: b.startedAt,
    finished_at: b.finishedAt,
    updated_at: b.updatedAt,
  };
}

export function rowToBatch(r: Selectable<BatchPredictionsTable>): BatchPrediction {
  const source: BatchSource =
    r.source_kind === "dataset"
      ? { kind: "dataset", datasetId: r.dataset_id ?? "", datasetName: r.dataset_name ?? "" }
      : { kind: "input", inputDigest: r.input_digest ?? "" };
  return {
    id: r.id,
    projectId: r.project_id,
    modelId: r.model_id,
    modelName: r.model_name,
    modelVersion: Number(r.model_version),
    versionId: r.version_id,
    task: r.task === "detection" ? "detection" : "classification",
    classes: JSON.parse(r.classes) as string[],
    modelSha256: r.model_sha256,
    descriptorText: r.descriptor,
    source,
    total: Number(r.total),
    chunkSize: Number(r.chunk_size),
    chunkCount: Number(r.chunk_count),
    workers: Number(r.workers),
    state: r.state as BatchState,
    stateReason: r.state_reason,
    jobId: r.job_id,
    jobsSubmitted: Number(r.jobs_submitted),
    chunksDone: Number(r.chunks_done),
    imagesDone: Number(r.images_done),
    rateSince: numOrNull(r.rate_since),
    rateImagesSince: Number(r.rate_images_since),
    lastChunkAt: numOrNull(r.last_chunk_at),
    createdAt: Number(r.created_at),
    createdBy: r.created_by,
    startedAt: numOrNull(r.started_at),
    finishedAt: numOrNull(r.finished_at),
    updatedAt: Number(r.updated_at),
  };
}

export function inputToRow(batchId: string, i: BatchInput): BatchPredictionInputsTable {
  return {
    batch_id: batchId,
    position: i.position,
    item_key: i.key,
    item_id: i.itemId,
    sha256: i.sha256,
    url: i.url,
  };
}

export function rowToInput(r: Selectable<BatchPredictionInputsTable>): BatchInput {
  return {
    position: Number(r.position),
    key: r.item_key,
    itemId: r.item_id,
    sha256: r.sha256,
    url: r.url,
  };
}

export function rowToChunk(r: Selectable<BatchPredictionChunksTable>): BatchChunk {
  return {
    chunkIndex: Number(r.chunk_index),
    items: Number(r.items),
    jobId: r.job_id,
    attempt: Number(r.attempt),
    durationMs: Number(r.duration_ms),
    completedAt: Number(r.completed_at),
  };
}

export function rowToResult(r: Selectable<BatchPredictionResultsTable>): BatchResult {
  return {
    position: Number(r.position),
    chunkIndex: Number(r.chunk_index),
    key: r.item_key,
    itemId: r.item_id,
    prediction: JSON.parse(r.prediction) as StoredPrediction,
    createdAt: Number(r.created_at),
  };
}

function numOrNull(v: number | null): number | null {
  return v === null || v === undefined ? null : Number(v);
}
