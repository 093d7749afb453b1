import { grantWorkload } from "../auth/authorization.js";
import type { Principal } from "../auth/principal.js";
import type { Permission } from "../auth/roles.js";
import { InputError, NotFoundError } from "../errors.js";
import type { Experiment, RunInfo } from "./model.js";
import type { TrackingStore } from "./tracking-store.js";

/** What tracking needs from identity: a project the caller may use (IdentityService satisfies it). */
export interface ProjectAccess {
  getProject(
    principal: Principal,
    idOrName: string,
    permission?: Permission,
  ): Promise<{ id: string; name: string }>;
}

export function experimentNotFound(id: string): NotFoundError {
  return new NotFoundError(`No Experiment with id=${id} exists`, {
    mlflowErrorCode: "RESOURCE_DOES_NOT_EXIST",
  });
}

export function runNotFound(runId: string): NotFoundError {
  return new NotFoundError(`Run with id=${runId} not found`, { mlflowErrorCode: "RESOURCE_DOES_NOT_EXIST" });
}

/** Loads experiments and runs and checks the caller's right on their project (and a workload's run scope). */
export class TrackingAccess {
  constructor(
    readonly store: TrackingStore,
    private readonly projects: ProjectAccess,
  ) {}

  project(principal: Principal, nameOrId: string, permission: Permission) {
    return this.projects.getProject(principal, nameOrId, permission);
  }

  async experiment(principal: Principal, id: string, permission: Permission): Promise<Experiment> {
    const experiment = await this.store.findExperiment(String(id));
    if (!experiment) throw experimentNotFound(String(id));
    await this.projects.getProject(principal, experiment.projectId, permission);
    return experiment;
  }

  /** A run the caller may read. */
  async readRun(principal: Principal, runId: string): Promise<RunInfo> {
    const info = await this.store.findRunInfo(runId);
    if (!info) throw runNotFound(runId);
    await this.projects.getProject(principal, info.projectId, "read");
    return info;
  }

  /** A run the caller may write: project write permission, and a workload token only for its own run. */
  async writeRun(principal: Principal, runId: string): Promise<RunInfo> {
    // The scope check comes first and needs no lookup: a token for run A learns nothing about run B.
    const granted = grantWorkload(principal, "run.write", { runId });
    const info = await this.store.findRunInfo(runId);
    if (!info) throw runNotFound(runId);
    await this.projects.getProject(granted, info.projectId, "write");
    return info;
  }

  /** A write to a run's data (metrics, params, tags, artifacts) needs it active. */
  async writeActiveRun(principal: Principal, runId: string): Promise<RunInfo> {
    const info = await this.writeRun(principal, runId);
    if (info.lifecycleStage !== "active") {
      throw new InputError(
        `The run ${runId} must be in the 'active' state. Current state is ${info.lifecycleStage}.`,
        { mlflowErrorCode: "INVALID_PARAMETER_VALUE" },
      );
    }
    return info;
  }
}
