import { randomBytes } from "node:crypto";
import type { Readable } from "node:stream";
import type { ArtifactStore } from "../artifacts/artifact-store.js";
import { normalizeArtifactDir, normalizeArtifactPath } from "../artifacts/artifact-path.js";
import { grantWorkload } from "../auth/authorization.js";
import type { Principal } from "../auth/principal.js";
import { InputError, NotFoundError } from "../errors.js";
import type { TrackingAccess } from "./access.js";
import { MAX_PARAMS_TAGS_PER_BATCH, parseKeyValue, type RawKeyValue } from "./limits.js";
import {
  LOGGED_MODEL_ID,
  LOGGED_MODEL_STATUSES,
  type LoggedModel,
  type LoggedModelStatus,
  type LoggedModelStore,
  type ModelOutput,
} from "./logged-models-model.js";
import type { ArtifactEntry, RunArtifact } from "./model.js";
import { directoryEntries } from "./run-artifacts.js";
import { generateRunName } from "./run-names.js";

const MAX_NAME_LENGTH = 250;

export function loggedModelNotFound(id: string): NotFoundError {
  return new NotFoundError(`Logged model with ID '${id}' not found.`, {
    mlflowErrorCode: "RESOURCE_DOES_NOT_EXIST",
  });
}

function keyValues(kind: "parameter" | "tag", raw: RawKeyValue[] | undefined) {
  const list = raw ?? [];
  if (list.length > MAX_PARAMS_TAGS_PER_BATCH) {
    throw new InputError(`at most ${MAX_PARAMS_TAGS_PER_BATCH} ${kind}s per request, got ${list.length}`);
  }
  return list.map((kv) => parseKeyValue(kind, kv));
}

/** Accepts MLflow's enum name or number (JSON clients send either). */
export function parseLoggedModelStatus(raw: unknown): LoggedModelStatus {
  const byNumber: Record<string, LoggedModelStatus> = {
    "1": "LOGGED_MODEL_PENDING",
    "2": "LOGGED_MODEL_READY",
    "3": "LOGGED_MODEL_UPLOAD_FAILED",
  };
  const status = byNumber[String(raw)] ?? String(raw);
  if (!(LOGGED_MODEL_STATUSES as readonly string[]).includes(status)) {
    throw new InputError(`Invalid status '${String(raw)}': use one of ${LOGGED_MODEL_STATUSES.join(", ")}`);
  }
  return status as LoggedModelStatus;
}

/**
 * MLflow 3 logged models with access checks: the experiment's project grants read/write, and a workload
 * token may only create or change models whose source run is its own run.
 */
export class LoggedModels {
  constructor(
    private readonly access: TrackingAccess,
    readonly store: LoggedModelStore,
    private readonly blobs: ArtifactStore,
    private readonly now: () => number = Date.now,
  ) {}

  async create(
    principal: Principal,
    input: {
      experimentId: string;
      name?: string;
      modelType?: string;
      sourceRunId?: string;
      params?: RawKeyValue[];
      tags?: RawKeyValue[];
    },
  ): Promise<LoggedModel> {
    // A workload token writes models of its own run only (docs/security.md): the grant names that run.
    const caller = grantWorkload(principal, "run.write", { runId: input.sourceRunId });
    const experiment = await this.access.experiment(caller, input.experimentId, "write");
    if (experiment.lifecycleStage !== "active") {
      throw new InputError(`Experiment ${experiment.id} is deleted; restore it to log models.`);
    }
    if (input.sourceRunId) {
      const run = await this.access.writeRun(principal, input.sourceRunId);
      if (run.projectId !== experiment.projectId) {
        throw new InputError(`Run ${run.runId} belongs to another project than experiment ${experiment.id}`);
      }
    }
    const name = input.name?.trim() || generateRunName();
    if (name.length > MAX_NAME_LENGTH) throw new InputError(`model name longer than ${MAX_NAME_LENGTH}`);
    if (input.modelType !== undefined && input.modelType.length > MAX_NAME_LENGTH) {
      throw new InputError(`model_type longer than ${MAX_NAME_LENGTH}`);
    }
    const params = keyValues("parameter", input.params);
    const tags = keyValues("tag", input.tags);
    const at = this.now();
    const id = `m-${randomBytes(16).toString("hex")}`;
    await this.store.insert({
      id,
      experimentId: experiment.id,
      projectId: experiment.projectId,
      name,
      modelType: input.modelType ?? null,
      sourceRunId: input.sourceRunId ?? null,
      status: "LOGGED_MODEL_PENDING",
      statusMessage: null,
      creator: principal.userName,
      createdAt: at,
      updatedAt: at,
      params,
      tags,
    });
    return this.reload(id);
  }

  private async reload(id: string): Promise<LoggedModel> {
    const model = await this.store.find(id);
    if (!model) throw loggedModelNotFound(id);
    return model;
  }

  /** A model the caller may read. Malformed ids are simply not found. */
  async get(principal: Principal, id: string): Promise<LoggedModel> {
    const model = LOGGED_MODEL_ID.test(id) ? await this.store.find(id) : undefined;
    if (!model) throw loggedModelNotFound(id);
    await this.access.project(principal, model.projectId, "read");
    return model;
  }

  /** A model the caller may change: project write, and a workload token only for its own run's models. */
  private async writable(principal: Principal, id: string): Promise<LoggedModel> {
    const model = await this.get(principal, id);
    const caller = grantWorkload(principal, "run.write", { runId: model.sourceRunId });
    await this.access.project(caller, model.projectId, "write");
    return model;
  }

  async finalize(principal: Principal, id: string, rawStatus: unknown): Promise<LoggedModel> {
    const status = parseLoggedModelStatus(rawStatus);
    if (status === "LOGGED_MODEL_PENDING") {
      throw new InputError("A logged model is finalized as LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED");
    }
    await this.writable(principal, id);
    await this.store.update(id, { status, at: this.now() });
    return this.reload(id);
  }

  async setTags(principal: Principal, id: string, raw: RawKeyValue[] | undefined): Promise<void> {
    await this.writable(principal, id);
    await this.store.setTags(id, keyValues("tag", raw), this.now());
  }

  async deleteTag(principal: Principal, id: string, key: string): Promise<void> {
    await this.writable(principal, id);
    if (!(await this.store.deleteTag(id, key, this.now()))) {
      throw new NotFoundError(`No tag with key '${key}' found for logged model ${id}`, {
        mlflowErrorCode: "RESOURCE_DOES_NOT_EXIST",
      });
    }
  }

  async logParams(principal: Principal, id: string, raw: RawKeyValue[] | undefined): Promise<void> {
    await this.writable(principal, id);
    await this.store.logParams(id, keyValues("parameter", raw), this.now());
  }

  async delete(principal: Principal, id: string): Promise<void> {
    await this.writable(principal, id);
    await this.store.markDeleted(id, this.now());
  }

  /** Models of the given experiments the caller may read (each experiment is checked). */
  async search(principal: Principal, experimentIds: string[]): Promise<LoggedModel[]> {
    if (experimentIds.length === 0) {
      throw new InputError("experiment_ids must contain at least one experiment id");
    }
    for (const id of experimentIds) await this.access.experiment(principal, id, "read");
    return this.store.list(experimentIds);
  }

  /** Streams a file into the model (replacing an earlier file at the path). Checked before a byte is read. */
  async upload(
    principal: Principal,
    id: string,
    rawPath: string,
    body: Readable | AsyncIterable<Uint8Array>,
  ): Promise<RunArtifact> {
    const path = normalizeArtifactPath(rawPath);
    await this.writable(principal, id);
    const put = await this.blobs.put(body);
    const artifact: RunArtifact = { path, sha256: put.sha256, size: put.size, createdAt: this.now() };
    await this.store.putArtifact(id, artifact);
    return artifact;
  }

  async open(
    principal: Principal,
    id: string,
    rawPath: string,
  ): Promise<{ artifact: RunArtifact; stream: Readable }> {
    const path = normalizeArtifactPath(rawPath);
    await this.get(principal, id);
    const artifact = await this.store.findArtifact(id, path);
    if (!artifact) {
      throw new NotFoundError(`Artifact '${path}' of logged model ${id} not found`, {
        mlflowErrorCode: "RESOURCE_DOES_NOT_EXIST",
      });
    }
    return { artifact, stream: await this.blobs.get(artifact.sha256) };
  }

  /** Entries directly inside `dir` of the model, paths relative to the model's artifact root. */
  async list(principal: Principal, id: string, rawDir: string | undefined): Promise<ArtifactEntry[]> {
    const dir = normalizeArtifactDir(rawDir);
    await this.get(principal, id);
    return directoryEntries(await this.store.listArtifacts(id, dir), dir);
  }

  /** Every file of a model the caller may read, for registering it as a model version. */
  async allFiles(principal: Principal, id: string): Promise<{ model: LoggedModel; files: RunArtifact[] }> {
    const model = await this.get(principal, id);
    return { model, files: await this.store.listArtifacts(id, "") };
  }

  /** `runs/outputs`: links the run to models it produced; the run is written, the models must share its project. */
  async logOutputs(principal: Principal, runId: string, outputs: ModelOutput[]): Promise<void> {
    const run = await this.access.writeActiveRun(principal, runId);
    for (const o of outputs) {
      if (!Number.isSafeInteger(o.step) || o.step < 0) {
        throw new InputError(`Invalid step ${String(o.step)} for model ${o.modelId}`);
      }
      const model = LOGGED_MODEL_ID.test(o.modelId) ? await this.store.find(o.modelId) : undefined;
      if (!model || model.projectId !== run.projectId) throw loggedModelNotFound(o.modelId);
    }
    await this.store.logOutputs(runId, outputs);
  }

  async outputsOf(principal: Principal, runId: string): Promise<ModelOutput[]> {
    await this.access.readRun(principal, runId);
    return this.store.listOutputs(runId);
  }
}
