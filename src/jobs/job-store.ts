import type { Endpoint, ReplicaEnd } from "../runtime/runtime.js";
import type { ResourceHold } from "./capacity-pool.js";
import type { Job, JobState } from "./job.js";
import type { Placement, QueuedJob } from "./scheduler.js";

/**
 * Persistence for jobs, their replicas, their event history and the resources they hold. The job
 * domain talks to the database only through this contract (no connection or transaction types leak):
 * every method that changes a job's state is one atomic, *conditional* write, so that two control
 * planes on one database can never both move the same job (the loser's write matches no row).
 */

/** A replica's lifecycle as the job domain records it: placed -> running -> ended. */
export type ReplicaRecordState = "placed" | "running" | "ended";

export interface JobReplica {
  replicaId: string;
  jobId: string;
  attempt: number;
  replicaIndex: number;
  nodeId: string;
  cpu: number;
  memoryMiB: number;
  gpuUuids: string[];
  state: ReplicaRecordState;
  pid: number | null;
  end: ReplicaEnd | null;
  exitCode: number | null;
  signal: string | null;
  message: string | null;
  startedAt: number | null;
  endedAt: number | null;
  /** The replica's complete logs in the artifact store, once it has ended. */
  stdoutSha256: string | null;
  stderrSha256: string | null;
  /** Where the replica's ports (job.ports) are reachable, once it started; null without ports. */
  endpoints: Record<string, Endpoint> | null;
}

export interface JobEvent {
  id: number;
  jobId: string;
  at: number;
  /** null for the submission itself. */
  from: JobState | null;
  to: JobState;
  attempt: number;
  actor: string;
  reason: string;
  details: Record<string, unknown>;
}

export type NewJobEvent = Omit<JobEvent, "id" | "jobId">;

export interface JobQuery {
  /** Only these projects (the caller's readable projects); undefined = all. */
  projectIds?: string[];
  states?: JobState[];
  /** Cursor: jobs submitted before this job (newest first). */
  before?: { submittedAt: number; id: string };
  limit: number;
}

/** A queued job as the scheduler needs it, plus the attempt its claim must match. */
export interface QueuedJobRow extends QueuedJob {
  attempt: number;
  /** When it entered the queue for this attempt (submit, or the retry), ms since the epoch. */
  queuedAt: number;
}

/** A device hold with the job that holds it (inventory view). */
export interface DeviceHold {
  deviceUuid: string;
  workloadId: string;
  replicaIndex: number;
  projectId: string;
  acquiredAt: number;
}

export interface ReplicaStarted {
  replicaId: string;
  pid: number | null;
  startedAt: number;
  endpoints?: Record<string, Endpoint>;
}

export interface ReplicaEnded {
  replicaId: string;
  end: ReplicaEnd;
  exitCode: number | null;
  signal: string | null;
  message: string | null;
  startedAt: number | null;
  endedAt: number;
  stdoutSha256: string | null;
  stderrSha256: string | null;
}

export interface JobStore {
  insertJob(job: Job, event: NewJobEvent): Promise<void>;
  getJob(id: string): Promise<Job | undefined>;
  listJobs(query: JobQuery): Promise<Job[]>;
  /** Every queued job, in no particular order (the scheduler sorts). */
  queuedJobs(): Promise<QueuedJobRow[]>;
  /** Jobs in `scheduled` or `running`. */
  activeJobs(): Promise<Job[]>;
  /** Jobs whose cancel was requested while scheduled or running. */
  cancelRequestedJobs(): Promise<Job[]>;
  holds(): Promise<ResourceHold[]>;
  deviceHolds(): Promise<DeviceHold[]>;
  /** GPU quotas of the given projects (from each project's `quotas`). */
  projectGpuQuotas(projectIds: readonly string[]): Promise<Map<string, { gpus?: number }>>;

  /**
   * queued -> scheduled for `attempt`, with the placement's holds and replica rows, in one transaction.
   * false (and nothing written) when the job is no longer queued at that attempt or a device is held.
   */
  claimPlacement(placement: Placement, attempt: number, event: NewJobEvent): Promise<boolean>;

  /**
   * Writes `next` (state, reason, attempt, times) if the row still has `expected` state and attempt;
   * with `releaseHolds` also frees every hold of the job, in the same transaction. false if it lost.
   */
  transition(
    next: Job,
    expected: { state: JobState; attempt: number },
    event: NewJobEvent,
    options?: { releaseHolds?: boolean },
  ): Promise<boolean>;

  /** Records the waiting reason of queued jobs (skips jobs no longer queued). */
  setWaitReasons(reasons: ReadonlyMap<string, string>): Promise<void>;
  /** Marks a scheduled/running job for cancellation; false when it is in another state. */
  requestCancel(jobId: string): Promise<boolean>;
  setRun(jobId: string, run: { runId: string; experimentId: string }): Promise<void>;

  replicas(jobId: string, attempt?: number): Promise<JobReplica[]>;
  /** Every replica in state `running`, of any job (usage sampling). */
  runningReplicas(): Promise<JobReplica[]>;
  markReplicaStarted(started: ReplicaStarted): Promise<void>;
  markReplicaEnded(ended: ReplicaEnded): Promise<void>;

  events(jobId: string): Promise<JobEvent[]>;
  /** Number of jobs per state (metrics). */
  countByState(): Promise<Record<string, number>>;
}
