import { randomBytes } from "node:crypto";
import type { AuditLog } from "../audit/audit-log.js";
import { actorOf, type Principal } from "../auth/principal.js";
import { ConflictError, ForbiddenError, InputError, NotFoundError } from "../errors.js";
import { type ProjectAccess, TrackingAccess } from "./access.js";
import {
  MAX_EXPERIMENT_NAME_LENGTH,
  MAX_RUN_NAME_LENGTH,
  parseKeyValue,
  parseLogBatch,
  type RawKeyValue,
  type RawMetric,
} from "./limits.js";
import {
  DEFAULT_EXPERIMENT_ID,
  DEFAULT_EXPERIMENT_NAME,
  type Experiment,
  type KeyValue,
  type LogBatch,
  RUN_NAME_TAG,
  RUN_STATUSES,
  type Run,
  type RunInfo,
  type RunStatus,
  USER_TAG,
} from "./model.js";
import { generateRunName } from "./run-names.js";
import type { TrackingStore } from "./tracking-store.js";

export const DEFAULT_PROJECT_NAME = "default";

export interface CreateExperimentInput {
  /** Project name or id; default `default`. */
  project?: string;
  name: string;
  tags?: KeyValue[];
}

export interface CreateRunInput {
  experimentId: string;
  runName?: string;
  startTime?: number;
  tags?: RawKeyValue[];
}

/** Experiments and runs: creation, lifecycle and logging, with access checks. */
export class TrackingService {
  readonly access: TrackingAccess;

  constructor(
    readonly store: TrackingStore,
    projects: ProjectAccess,
    private readonly audit: AuditLog,
    private readonly now: () => number = Date.now,
  ) {
    this.access = new TrackingAccess(store, projects);
  }

  /** Creates MLflow's experiment "0" ("Default") in the `default` project if missing; safe to race. */
  async ensureDefaultExperiment(defaultProjectId: string): Promise<void> {
    if (await this.store.findExperiment(DEFAULT_EXPERIMENT_ID)) return;
    try {
      await this.store.insertExperiment({
        id: DEFAULT_EXPERIMENT_ID,
        projectId: defaultProjectId,
        name: DEFAULT_EXPERIMENT_NAME,
        artifactLocation: "mlflow-artifacts:/{id}",
        createdBy: "system",
        at: this.now(),
        tags: [],
      });
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err; // another replica created it
    }
  }

  // ---- experiments ----

  async createExperiment(principal: Principal, input: CreateExperimentInput): Promise<Experiment> {
    if (principal.scope?.runId) throw new ForbiddenError("a workload token cannot create experiments");
    const name = typeof input.name === "string" ? input.name.trim() : "";
    if (name === "") throw new InputError(`Invalid experiment name: '${input.name ?? ""}'`);
    if (name.length > MAX_EXPERIMENT_NAME_LENGTH) {
      throw new InputError(`Experiment name is longer than ${MAX_EXPERIMENT_NAME_LENGTH} characters`);
    }
    const tags = (input.tags ?? []).map((t) => parseKeyValue("tag", t));
    const project = await this.access.project(principal, input.project ?? DEFAULT_PROJECT_NAME, "write");
    const experiment = await this.store.insertExperiment({
      projectId: project.id,
      name,
      artifactLocation: "mlflow-artifacts:/{id}",
      createdBy: principal.userName,
      at: this.now(),
      tags,
    });
    await this.audit.record({
      actor: actorOf(principal),
      action: "experiment.create",
      subjectType: "experiment",
      subjectId: experiment.id,
      projectId: project.id,
      details: { name },
    });
    return experiment;
  }

  getExperiment(principal: Principal, id: string): Promise<Experiment> {
    return this.access.experiment(principal, id, "read");
  }

  async getExperimentByName(principal: Principal, project: string, name: string): Promise<Experiment> {
    const p = await this.access.project(principal, project, "read");
    const experiment = await this.store.findExperimentByName(p.id, name);
    if (!experiment) {
      throw new NotFoundError(`Could not find experiment with name '${name}'`, {
        mlflowErrorCode: "RESOURCE_DOES_NOT_EXIST",
      });
    }
    return experiment;
  }

  async listExperiments(
    principal: Principal,
    project: string,
    lifecycle: "active" | "deleted" | "all",
  ): Promise<Experiment[]> {
    const p = await this.access.project(principal, project, "read");
    return this.store.listExperiments({ projectId: p.id, lifecycle });
  }

  async renameExperiment(principal: Principal, id: string, newName: string): Promise<void> {
    const experiment = await this.access.experiment(principal, id, "write");
    const name = typeof newName === "string" ? newName.trim() : "";
    if (name === "" || name.length > MAX_EXPERIMENT_NAME_LENGTH)
      throw new InputError(`Invalid experiment name: '${newName}'`);
    if (experiment.lifecycleStage !== "active") {
      throw new InputError("Cannot rename a non-active experiment.", { mlflowErrorCode: "INVALID_STATE" });
    }
    await this.store.updateExperiment(id, { name, at: this.now() });
  }

  async setExperimentLifecycle(principal: Principal, id: string, stage: "active" | "deleted"): Promise<void> {
    const experiment = await this.access.experiment(principal, id, "write");
    if (stage === "deleted" && experiment.id === DEFAULT_EXPERIMENT_ID) {
      throw new InputError(
        "Cannot delete the default experiment '0'. This is an internally reserved experiment.",
      );
    }
    if (experiment.lifecycleStage === stage) {
      const want = stage === "deleted" ? "active" : "deleted";
      throw new InputError(
        `The experiment ${id} must be in the '${want}' state. Current state is ${experiment.lifecycleStage}.`,
      );
    }
    await this.store.updateExperiment(id, { lifecycleStage: stage, at: this.now() });
    await this.audit.record({
      actor: actorOf(principal),
      action: stage === "deleted" ? "experiment.delete" : "experiment.restore",
      subjectType: "experiment",
      subjectId: id,
      projectId: experiment.projectId,
    });
  }

  async setExperimentTag(principal: Principal, id: string, raw: RawKeyValue): Promise<void> {
    const tag = parseKeyValue("tag", raw);
    await this.access.experiment(principal, id, "write");
    await this.store.setExperimentTag(id, tag.key, tag.value);
  }

  async deleteExperimentTag(principal: Principal, id: string, key: string): Promise<void> {
    await this.access.experiment(principal, id, "write");
    if (!(await this.store.deleteExperimentTag(id, key))) {
      throw new NotFoundError(`No tag with name: ${key} in experiment with id ${id}`, {
        mlflowErrorCode: "RESOURCE_DOES_NOT_EXIST",
      });
    }
  }

  // ---- runs ----

  async createRun(principal: Principal, input: CreateRunInput): Promise<Run> {
    if (principal.scope?.runId) throw new ForbiddenError("a workload token may only write to its own run");
    const experiment = await this.access.experiment(
      principal,
      String(input.experimentId ?? DEFAULT_EXPERIMENT_ID),
      "write",
    );
    if (experiment.lifecycleStage !== "active") {
      throw new InputError(
        `The experiment ${experiment.id} must be in the 'active' state. Current state is ${experiment.lifecycleStage}.`,
      );
    }
    const tags = (input.tags ?? []).map((t) => parseKeyValue("tag", t));
    const tagged = tags.find((t) => t.key === RUN_NAME_TAG)?.value;
    const runName = (input.runName || tagged || generateRunName()).slice(0, MAX_RUN_NAME_LENGTH);
    const runId = randomBytes(16).toString("hex");
    const info: RunInfo = {
      runId,
      experimentId: experiment.id,
      projectId: experiment.projectId,
      runName,
      status: "RUNNING",
      startTime: input.startTime ?? this.now(),
      endTime: null,
      lifecycleStage: "active",
      userId: principal.userName,
      artifactUri: `${experiment.artifactLocation}/${runId}/artifacts`,
    };
    const allTags = [
      ...tags.filter((t) => t.key !== RUN_NAME_TAG && t.key !== USER_TAG),
      { key: RUN_NAME_TAG, value: runName },
      { key: USER_TAG, value: principal.userName },
    ];
    await this.store.insertRun(info, allTags);
    return { info, metrics: [], params: {}, tags: Object.fromEntries(allTags.map((t) => [t.key, t.value])) };
  }

  async getRun(principal: Principal, runId: string): Promise<Run> {
    await this.access.readRun(principal, runId);
    const run = await this.store.getRun(runId);
    if (!run) throw new NotFoundError(`Run with id=${runId} not found`);
    return run;
  }

  /** For other domains (registry): a run and its files, without an access check — the caller checks. */
  async lookupRun(runId: string): Promise<Run | undefined> {
    return this.store.getRun(runId);
  }

  async updateRun(
    principal: Principal,
    runId: string,
    patch: { status?: string; endTime?: number | null; runName?: string },
  ): Promise<RunInfo> {
    const info = await this.access.writeRun(principal, runId);
    if (patch.status !== undefined && !(RUN_STATUSES as readonly string[]).includes(patch.status)) {
      throw new InputError(`Invalid run status '${patch.status}': use one of ${RUN_STATUSES.join(", ")}`);
    }
    const status = patch.status as RunStatus | undefined;
    const terminal = status !== undefined && status !== "RUNNING" && status !== "SCHEDULED";
    const endTime = patch.endTime !== undefined ? patch.endTime : terminal ? this.now() : undefined;
    const runName = patch.runName ? patch.runName.slice(0, MAX_RUN_NAME_LENGTH) : undefined;
    await this.store.updateRun(runId, { status, endTime, runName });
    if (runName)
      await this.store.logBatch(runId, {
        metrics: [],
        params: [],
        tags: [{ key: RUN_NAME_TAG, value: runName }],
      });
    return {
      ...info,
      ...(status ? { status } : {}),
      ...(endTime !== undefined ? { endTime } : {}),
      ...(runName ? { runName } : {}),
    };
  }

  async setRunLifecycle(principal: Principal, runId: string, stage: "active" | "deleted"): Promise<void> {
    const info = await this.access.writeRun(principal, runId);
    await this.store.updateRun(runId, {
      lifecycleStage: stage,
      deletedTime: stage === "deleted" ? this.now() : null,
    });
    await this.audit.record({
      actor: actorOf(principal),
      action: stage === "deleted" ? "run.delete" : "run.restore",
      subjectType: "run",
      subjectId: runId,
      projectId: info.projectId,
    });
  }

  /** Validates and stores metrics, params and tags in one transaction (MLflow `runs/log-batch`). */
  async logBatch(
    principal: Principal,
    runId: string,
    raw: { metrics?: RawMetric[]; params?: RawKeyValue[]; tags?: RawKeyValue[] },
  ): Promise<void> {
    const batch = parseLogBatch(raw, this.now());
    await this.access.writeActiveRun(principal, runId);
    await this.writeBatch(runId, batch);
  }

  private async writeBatch(runId: string, batch: LogBatch): Promise<void> {
    if (batch.metrics.length + batch.params.length + batch.tags.length === 0) return;
    await this.store.logBatch(runId, batch);
    const renamed = batch.tags.filter((t) => t.key === RUN_NAME_TAG).pop();
    if (renamed) await this.store.updateRun(runId, { runName: renamed.value.slice(0, MAX_RUN_NAME_LENGTH) });
  }

  async deleteTag(principal: Principal, runId: string, key: string): Promise<void> {
    await this.access.writeActiveRun(principal, runId);
    if (!(await this.store.deleteTag(runId, key))) {
      throw new NotFoundError(`No tag with name: ${key} in run with id ${runId}`, {
        mlflowErrorCode: "RESOURCE_DOES_NOT_EXIST",
      });
    }
  }
}
