import { randomUUID } from "node:crypto";
import type { ArtifactStore } from "../../artifacts/artifact-store.js";
import type { BlobOwnership } from "../../artifacts/blob-ownership.js";
import type { AuditLog } from "../../audit/audit-log.js";
import { actorOf, type Principal } from "../../auth/principal.js";
import {
  ConflictError,
  ForbiddenError,
  InputError,
  NotFoundError,
  UnprocessableError,
} from "../../errors.js";
import { isTerminal } from "../../jobs/job.js";
import { parseModelDescriptorText } from "../../registry/model-descriptor.js";
import type { ModelVersion } from "../../registry/registry-store.js";
import { DESCRIPTOR_FILE, MODEL_FILE, readText } from "../../registry/version-files.js";
import {
  type BatchInput,
  type BatchPrediction,
  type BatchProgress,
  type BatchState,
  chunkCountOf,
  isFinished,
  progressOf,
} from "./batch.js";
import { datasetInputs, fileInputs } from "./batch-inputs.js";
import type { BatchDatasets, BatchJobs, BatchModels, BatchProjects } from "./batch-ports.js";
import type { BatchStore } from "./batch-store.js";

export interface CreateBatchInput {
  project?: string;
  model: string;
  /** Version number; default: the model's production version. */
  version?: string | number;
  /** Predict every item of this dataset (pre-annotations)... */
  dataset?: string;
  /** ...or the images of an uploaded archive (`POST /api/v1/jobs/code`), listed by relative path. */
  inputDigest?: string;
  files?: string[];
  chunkSize?: number;
  /** Inference threads of the worker (= CPU cores asked of the scheduler). */
  workers?: number;
  /** Job retries after a worker crash; each retry resumes from the checkpoints. */
  maxRetries?: number;
}

export interface BatchView extends Omit<BatchPrediction, "descriptorText"> {
  modelVersionName: string;
  progress: BatchProgress;
}

export interface BatchServiceDeps {
  store: BatchStore;
  projects: BatchProjects;
  models: BatchModels;
  datasets: BatchDatasets;
  jobs: BatchJobs;
  artifacts: ArtifactStore;
  /** Input archives resolve only for the project that owns them. */
  blobs: BlobOwnership;
  audit: AuditLog;
  /** The worker's command line for a batch (`node bin/mlops.js batch worker <id>`). */
  workerCommand: (batchId: string) => string[];
  /** Memory the worker asks the scheduler for (onnxruntime + node). */
  workerMemoryMiB?: number;
  now?: () => number;
}

export const DEFAULT_CHUNK_SIZE = 256;
const MAX_CHUNK_SIZE = 256;
const DEFAULT_WORKERS = 2;
const MAX_WORKERS = 64;

/** Batch predictions as users see them: create (submits the worker job), show with progress, cancel, resume. */
export class BatchService {
  private readonly now: () => number;

  constructor(private readonly deps: BatchServiceDeps) {
    this.now = deps.now ?? Date.now;
  }

  async create(principal: Principal, input: CreateBatchInput): Promise<BatchView> {
    if (principal.scope) throw new ForbiddenError("a workload token cannot start batch predictions");
    const project = await this.deps.projects.getProject(principal, input.project ?? "default", "write");
    const chunkSize = input.chunkSize ?? DEFAULT_CHUNK_SIZE;
    if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > MAX_CHUNK_SIZE)
      throw new InputError(`chunkSize must be an integer between 1 and ${MAX_CHUNK_SIZE}`);
    const workers = input.workers ?? DEFAULT_WORKERS;
    if (!Number.isInteger(workers) || workers < 1 || workers > MAX_WORKERS)
      throw new InputError(`workers must be an integer between 1 and ${MAX_WORKERS}`);
    if ((input.dataset === undefined) === (input.inputDigest === undefined))
      throw new InputError("give exactly one of dataset or inputDigest (with files)");

    const version = await this.resolveVersion(principal, project.id, input.model, input.version);
    const onnx = version.files.find((f) => f.path === MODEL_FILE);
    const json = version.files.find((f) => f.path === DESCRIPTOR_FILE);
    if (!onnx || !json)
      throw new UnprocessableError(
        `${version.modelName} version ${version.version} has no ${MODEL_FILE} + ${DESCRIPTOR_FILE}; it cannot predict`,
      );
    const descriptorText = await readText(this.deps.artifacts, json.sha256);
    const descriptor = parseModelDescriptorText(descriptorText);

    let inputs: BatchInput[];
    let source: BatchPrediction["source"];
    if (input.dataset !== undefined) {
      const ref = { project: project.name, dataset: input.dataset };
      const dataset = await this.deps.datasets.get(principal, ref);
      if (dataset.projectId !== project.id)
        throw new InputError(`dataset ${input.dataset} is not in project ${project.name}`);
      inputs = await datasetInputs(this.deps.datasets, principal, { dataset: dataset.id });
      source = { kind: "dataset", datasetId: dataset.id, datasetName: dataset.name };
    } else {
      const digest = String(input.inputDigest).toLowerCase();
      // Another project's archive gets the same answer as a missing one (docs/security.md, tenancy).
      if (!(await this.deps.blobs.resolve(project.id, digest)))
        throw new NotFoundError(
          `no uploaded archive ${digest}: upload the images first (POST /api/v1/jobs/code)`,
        );
      inputs = fileInputs(input.files);
      source = { kind: "input", inputDigest: digest };
    }
    if (inputs.length === 0) throw new InputError("there are no images to predict");

    const at = this.now();
    const batch: BatchPrediction = {
      id: randomUUID(),
      projectId: project.id,
      modelId: version.modelId,
      modelName: version.modelName,
      modelVersion: version.version,
      versionId: version.id,
      task: descriptor.task,
      classes: descriptor.classes,
      modelSha256: onnx.sha256,
      descriptorText,
      source,
      total: inputs.length,
      chunkSize,
      chunkCount: chunkCountOf(inputs.length, chunkSize),
      workers,
      state: "queued",
      stateReason: "submitting the worker job",
      jobId: null,
      jobsSubmitted: 0,
      chunksDone: 0,
      imagesDone: 0,
      rateSince: null,
      rateImagesSince: 0,
      lastChunkAt: null,
      createdAt: at,
      createdBy: principal.userName,
      startedAt: null,
      finishedAt: null,
      updatedAt: at,
    };
    await this.deps.store.insertBatch(batch, inputs);
    await this.deps.audit.record({
      actor: actorOf(principal),
      action: "batch.create",
      subjectType: "batch-prediction",
      subjectId: batch.id,
      projectId: project.id,
      details: {
        model: batch.modelName,
        version: batch.modelVersion,
        source: batch.source,
        images: batch.total,
        chunkSize,
      },
    });
    await this.submitWorker(principal, batch, ["queued"], input.maxRetries);
    return this.get(principal, batch.id);
  }

  async get(principal: Principal, id: string): Promise<BatchView> {
    const batch = await this.find(principal, id, "read");
    return view(await this.reconcile(principal, batch));
  }

  async list(principal: Principal, project?: string, limit = 50): Promise<BatchView[]> {
    const projectIds = project
      ? [(await this.deps.projects.getProject(principal, project, "read")).id]
      : undefined;
    const visible = projectIds ?? (await this.visibleProjects(principal));
    const batches = await this.deps.store.listBatches(visible, Math.min(Math.max(limit, 1), 500));
    return Promise.all(batches.map(async (b) => view(await this.reconcile(principal, b))));
  }

  /** Stops the worker job (SIGTERM) and marks the batch cancelled; stored chunks stay. */
  async cancel(principal: Principal, id: string): Promise<BatchView> {
    const batch = await this.reconcile(principal, await this.find(principal, id, "write"));
    if (isFinished(batch.state)) throw new ConflictError(`batch prediction ${id} has already ${batch.state}`);
    if (batch.jobId) {
      await this.deps.jobs.cancel(principal, batch.jobId).catch((err: unknown) => {
        if (!(err instanceof ConflictError)) throw err; // the job had ended already
      });
    }
    await this.deps.store.updateState(id, ["queued", "running"], {
      state: "cancelled",
      stateReason: `cancelled by ${principal.userName}`,
      finishedAt: this.now(),
      updatedAt: this.now(),
    });
    await this.record(principal, batch, "batch.cancel", {});
    return this.get(principal, id);
  }

  /** A failed or cancelled batch gets a new worker job, which predicts only the chunks not yet stored. */
  async resume(principal: Principal, id: string, maxRetries?: number): Promise<BatchView> {
    if (principal.scope) throw new ForbiddenError("a workload token cannot resume batch predictions");
    const batch = await this.reconcile(principal, await this.find(principal, id, "write"));
    if (batch.state !== "failed" && batch.state !== "cancelled")
      throw new ConflictError(
        `batch prediction ${id} is ${batch.state}; only failed or cancelled ones resume`,
      );
    await this.submitWorker(principal, batch, [batch.state], maxRetries);
    await this.record(principal, batch, "batch.resume", { chunksDone: batch.chunksDone });
    return this.get(principal, id);
  }

  /** The batch, if the caller may see (`read`) or change (`write`) its project. */
  async find(principal: Principal, id: string, permission: "read" | "write"): Promise<BatchPrediction> {
    const batch = await this.deps.store.getBatch(id);
    if (!batch) throw new NotFoundError(`batch prediction ${id} not found`);
    await this.deps.projects.getProject(principal, batch.projectId, permission);
    return batch;
  }

  /**
   * Claims the batch for a new worker job: state -> queued (compare-and-set, so two resumes do not both
   * submit), then the job, then its id. A worker that starts before its id is recorded is told to retry.
   */
  private async submitWorker(
    principal: Principal,
    batch: BatchPrediction,
    from: BatchState[],
    maxRetries = 2,
  ): Promise<void> {
    const claimed = await this.deps.store.updateState(batch.id, from, {
      state: "queued",
      stateReason: "submitting the worker job",
      jobId: null,
      finishedAt: null,
      updatedAt: this.now(),
    });
    if (!claimed) throw new ConflictError(`batch prediction ${batch.id} changed meanwhile; try again`);
    try {
      const job = await this.deps.jobs.submit(principal, {
        project: batch.projectId,
        name: `batch-predict ${batch.modelName}:${batch.modelVersion} ${batch.id.slice(0, 8)}`,
        command: this.deps.workerCommand(batch.id),
        resources: { cpu: batch.workers, memoryMiB: this.deps.workerMemoryMiB ?? 4096, gpus: 0 },
        maxRetries,
        timeoutSeconds: null,
        experiment: "batch-predictions",
        ...(batch.source.kind === "input" ? { codeDigest: batch.source.inputDigest } : {}),
      });
      await this.deps.store.updateState(batch.id, ["queued"], {
        state: "queued",
        stateReason: `waiting for job ${job.id}`,
        jobId: job.id,
        jobsSubmitted: batch.jobsSubmitted + 1,
        updatedAt: this.now(),
      });
    } catch (err) {
      await this.deps.store.updateState(batch.id, ["queued"], {
        state: "failed",
        stateReason: `could not submit the worker job: ${(err as Error).message}`,
        finishedAt: this.now(),
        updatedAt: this.now(),
      });
      throw err;
    }
  }

  /**
   * The batch's state follows its job: a job that ended (retries exhausted, cancelled, or exited without
   * storing every chunk) ends the batch. Done lazily when read, so no loop has to watch jobs.
   */
  private async reconcile(principal: Principal, batch: BatchPrediction): Promise<BatchPrediction> {
    if ((batch.state !== "queued" && batch.state !== "running") || !batch.jobId) return batch;
    const job = await this.deps.jobs.get(principal, batch.jobId).catch(() => undefined);
    if (job && !isTerminal(job.state)) return batch;
    const fresh = (await this.deps.store.getBatch(batch.id)) ?? batch;
    if (fresh.state !== "queued" && fresh.state !== "running") return fresh;
    if (fresh.chunksDone >= fresh.chunkCount) return fresh;
    const to: BatchState = job?.state === "cancelled" ? "cancelled" : "failed";
    const reason = !job
      ? `its job ${batch.jobId} no longer exists`
      : job.state === "succeeded"
        ? "the worker exited before every chunk was stored"
        : `job ${job.id} ${job.state}: ${job.stateReason} (resume to continue from chunk checkpoints)`;
    await this.deps.store.updateState(batch.id, ["queued", "running"], {
      state: to,
      stateReason: reason,
      finishedAt: this.now(),
      updatedAt: this.now(),
    });
    return (await this.deps.store.getBatch(batch.id)) ?? fresh;
  }

  private async resolveVersion(
    principal: Principal,
    project: string,
    model: string,
    version: string | number | undefined,
  ): Promise<ModelVersion> {
    if (version !== undefined && version !== "")
      return (await this.deps.models.getVersion(principal, project, model, version, "read")).version;
    const production = (await this.deps.models.listVersions(principal, project, model)).find(
      (v) => v.stage === "production",
    );
    if (!production)
      throw new InputError(`model ${model} has no production version; name one with --version`);
    return production;
  }

  private async visibleProjects(principal: Principal): Promise<string[]> {
    return (await this.deps.projects.listProjects(principal)).map((p) => p.id);
  }

  private async record(
    principal: Principal,
    batch: BatchPrediction,
    action: string,
    details: Record<string, unknown>,
  ): Promise<void> {
    await this.deps.audit.record({
      actor: actorOf(principal),
      action,
      subjectType: "batch-prediction",
      subjectId: batch.id,
      projectId: batch.projectId,
      details,
    });
  }
}

export function view(batch: BatchPrediction): BatchView {
  const { descriptorText: _descriptor, ...shown } = batch;
  return {
    ...shown,
    modelVersionName: `${batch.modelName}:${batch.modelVersion}`,
    progress: progressOf(batch),
  };
}
