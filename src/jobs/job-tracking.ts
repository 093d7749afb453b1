import type { Principal } from "../auth/principal.js";
import { ConflictError, NotFoundError } from "../errors.js";
import { LINEAGE_TAGS } from "../tracking/model.js";
import type { TrackingService } from "../tracking/tracking-service.js";

/**
 * What jobs need from tracking: a run per job (its id goes into MLFLOW_RUN_ID) and closing it with the
 * job's outcome. Narrow on purpose, so the job domain depends on two calls, not on the tracking service.
 */
export interface JobTracking {
  /** Creates the job's run in the project's experiment `experiment` (created if missing). */
  createRun(
    principal: Principal,
    input: { projectId: string; experiment: string; runName: string; jobId: string; codeDigest?: string },
  ): Promise<{ runId: string; experimentId: string }>;
  /** Ends the run with the job's outcome, unless the workload already ended it. */
  endRun(runId: string, status: "FINISHED" | "FAILED" | "KILLED"): Promise<void>;
}

export const DEFAULT_JOB_EXPERIMENT = "jobs";

/** The adapter over the tracking service; `system` is the principal the scheduler acts as. */
export function jobTrackingFrom(tracking: TrackingService, system: Principal): JobTracking {
  return {
    async createRun(principal, input) {
      const experiment = await findOrCreateExperiment(tracking, principal, input.projectId, input.experiment);
      const tags = [{ key: LINEAGE_TAGS.jobId, value: input.jobId }];
      if (input.codeDigest) tags.push({ key: LINEAGE_TAGS.codeRef, value: `sha256:${input.codeDigest}` });
      const run = await tracking.createRun(principal, {
        experimentId: experiment,
        runName: input.runName,
        tags,
      });
      return { runId: run.info.runId, experimentId: run.info.experimentId };
    },
    async endRun(runId, status) {
      const run = await tracking.getRun(system, runId);
      if (run.info.status === "RUNNING" || run.info.status === "SCHEDULED") {
        await tracking.updateRun(system, runId, { status });
      }
    },
  };
}

async function findOrCreateExperiment(
  tracking: TrackingService,
  principal: Principal,
  projectId: string,
  name: string,
): Promise<string> {
  try {
    return (await tracking.getExperimentByName(principal, projectId, name)).id;
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
  }
  try {
    return (await tracking.createExperiment(principal, { project: projectId, name })).id;
  } catch (err) {
    // Another submit created it between our lookup and insert.
    if (!(err instanceof ConflictError)) throw err;
    return (await tracking.getExperimentByName(principal, projectId, name)).id;
  }
}
