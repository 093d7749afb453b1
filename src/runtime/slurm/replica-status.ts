import type { ReplicaExit, ReplicaStatus } from "../runtime.js";
import type { ExitRecord, LaunchRecord, StartedRecord } from "./slurm-files.js";
import { isActiveJobState, isPendingJobState, type QueueEntry } from "./slurm-text.js";

/**
 * A replica's state from what is known about it (pure; docs/architecture/slurm.md, "Reconcile"):
 * the runtime's launch record, the wrapper's started/exit records on the shared dir, and Slurm's view of
 * the allocation (squeue; null once Slurm has forgotten the job). The wrapper's exit record is the
 * truth; without one, an allocation that is over means the wrapper itself was killed, and Slurm's end
 * state says why. `synthesized` is such an end, for the runtime to persist so it stays the same answer.
 */
export interface StatusInput {
  launch: LaunchRecord;
  started: StartedRecord | null;
  exit: ExitRecord | null;
  job: QueueEntry | null;
  now: string;
}

export function replicaStatusOf(input: StatusInput): { status: ReplicaStatus; synthesized?: ExitRecord } {
  const { launch, started, job } = input;
  const base: ReplicaStatus = {
    replicaId: launch.replicaId,
    jobId: launch.jobId,
    attempt: launch.attempt,
    replicaIndex: launch.replicaIndex,
    state: "starting",
    ...(launch.slurmJobId ? { externalId: launch.slurmJobId } : {}),
    ...(started ? { node: started.node, startedAt: started.startedAt } : {}),
  };
  const recorded = launch.exit ?? wrapperExit(input.exit, job);
  if (recorded) {
    return {
      status: { ...base, state: recorded.end === "lost" ? "lost" : "exited", exit: toExit(launch, recorded) },
    };
  }
  if (job && isActiveJobState(job.state)) {
    const running = started !== null && !isPendingJobState(job.state);
    return { status: { ...base, state: running ? "running" : "starting" } };
  }
  const synthesized = endWithoutRecord(input);
  return {
    status: {
      ...base,
      state: synthesized.end === "lost" ? "lost" : "exited",
      exit: toExit(launch, synthesized),
    },
    synthesized,
  };
}

function wrapperExit(exit: ExitRecord | null, job: QueueEntry | null): ExitRecord | null {
  if (!exit) return null;
  // Slurm's SIGTERM at the time limit looks like a stop to the wrapper; Slurm knows better.
  if (exit.slurmTerminated && job?.state === "TIMEOUT") return { ...exit, end: "timeout" };
  return exit;
}

function endWithoutRecord(input: StatusInput): ExitRecord {
  const { launch, started, job, now } = input;
  const startedAt = started?.startedAt ?? launch.createdAt;
  const base = { exitCode: null, startedAt, endedAt: now, ...(started ? { node: started.node } : {}) };
  if (!launch.slurmJobId) {
    return {
      ...base,
      signal: null,
      end: "lost",
      message: "the Slurm job was never submitted (sbatch did not return)",
    };
  }
  const state = job?.state ?? "UNKNOWN";
  if (state === "TIMEOUT") {
    return {
      ...base,
      signal: "SIGKILL",
      end: "timeout",
      message: `Slurm job ${launch.slurmJobId} hit its time limit`,
    };
  }
  if (launch.stopRequestedAt && (state === "CANCELLED" || state === "UNKNOWN" || started === null)) {
    return { ...base, signal: started ? "SIGKILL" : null, end: "stopped" };
  }
  const why = job
    ? `ended ${state}${job.reason && job.reason !== "None" ? ` (${job.reason})` : ""}`
    : "is no longer known to Slurm";
  return {
    ...base,
    signal: null,
    end: "lost",
    message: `Slurm job ${launch.slurmJobId} ${why} without an exit record of this rank (its wrapper was killed: node failure, out of memory, scancel outside the platform)`,
  };
}

export function toExit(launch: LaunchRecord, record: ExitRecord): ReplicaExit {
  const durationMs = Math.max(0, Date.parse(record.endedAt) - Date.parse(record.startedAt)) || 0;
  return {
    replicaId: launch.replicaId,
    end: record.end,
    exitCode: record.exitCode,
    signal: record.signal,
    startedAt: record.startedAt,
    endedAt: record.endedAt,
    durationMs,
    ...(record.message ? { message: record.message } : {}),
  };
}
