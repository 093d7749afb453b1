import type { ArtifactStore } from "../../artifacts/artifact-store.js";
import type { BlobOwnership } from "../../artifacts/blob-ownership.js";
import type { AuditLog } from "../../audit/audit-log.js";
import type { BatchDatasets, BatchJobs, BatchModels, BatchProjects } from "./batch-ports.js";
import { BatchResults } from "./batch-results.js";
import { BatchService } from "./batch-service.js";
import type { BatchStore } from "./batch-store.js";
import { BatchWorkerApi } from "./batch-worker-api.js";
import { batchWorkerCommand } from "./worker-command.js";

/** Batch prediction as the platform sees it (`platform.batch`). */
export interface BatchServices {
  /** Create (submits the worker job), show with progress, list, cancel, resume. */
  service: BatchService;
  /** The worker's endpoints: start an attempt, inputs, model file, chunk checkpoints. */
  worker: BatchWorkerApi;
  /** Stored predictions and the Label Studio / COCO exports. */
  results: BatchResults;
}

export interface BatchServicesDeps {
  store: BatchStore;
  projects: BatchProjects;
  models: BatchModels;
  datasets: BatchDatasets;
  jobs: BatchJobs;
  artifacts: ArtifactStore;
  blobs: BlobOwnership;
  audit: AuditLog;
  workerCommand?: (batchId: string) => string[];
  workerMemoryMiB?: number;
}

export function createBatchServices(deps: BatchServicesDeps): BatchServices {
  const service = new BatchService({
    ...deps,
    workerCommand: deps.workerCommand ?? ((id) => batchWorkerCommand(id)),
  });
  return {
    service,
    worker: new BatchWorkerApi({ store: deps.store, projects: deps.projects, artifacts: deps.artifacts }),
    results: new BatchResults(deps.store, service),
  };
}
