import { ConflictError } from "../errors.js";
import type { Job, JobState } from "./job.js";

/**
 * The job state machine. `queued -> scheduled -> running -> succeeded | failed | cancelled`, plus two
 * ways back to `queued`:
 * - `scheduled -> queued`: the placement was released before anything ran (e.g. the start failed to
 *   launch, or a restarted control plane found no replica); it costs no retry.
 * - `running -> queued`: a retry after a failed attempt; allowed only while `attempt < maxRetries`, and it
 *   increments `attempt`.
 */
export const JOB_TRANSITIONS: Readonly<Record<JobState, readonly JobState[]>> = {
  queued: ["scheduled", "cancelled", "failed"],
  scheduled: ["running", "queued", "failed", "cancelled"],
  running: ["succeeded", "failed", "cancelled", "queued"],
  succeeded: [],
  failed: [],
  cancelled: [],
};

export interface JobTransition {
  jobId: string;
  from: JobState;
  to: JobState;
  /** The attempt the transition belongs to (before a retry increments it). */
  attempt: number;
  reason: string;
  at: string;
}

export function canTransition(from: JobState, to: JobState): boolean {
  return JOB_TRANSITIONS[from].includes(to);
}

/** Applies one transition; throws ConflictError when the table or the retry budget forbids it. */
export function applyJobTransition(
  job: Job,
  to: JobState,
  reason: string,
  now: Date = new Date(),
): { job: Job; transition: JobTransition } {
  if (!canTransition(job.state, to)) {
    throw new ConflictError(`job ${job.id} cannot go from ${job.state} to ${to}`, {
      jobId: job.id,
      from: job.state,
      to,
    });
  }
  const isRetry = job.state === "running" && to === "queued";
  if (isRetry && job.attempt >= job.maxRetries) {
    throw new ConflictError(`job ${job.id} has no retries left (${job.attempt} of ${job.maxRetries} used)`, {
      jobId: job.id,
    });
  }
  const at = now.toISOString();
  const next: Job = { ...job, state: to, stateReason: reason, updatedAt: at };
  if (to === "running") next.startedAt = at;
  if (to === "succeeded" || to === "failed" || to === "cancelled") next.finishedAt = at;
  if (to === "queued") {
    delete next.startedAt;
    delete next.finishedAt;
  }
  if (isRetry) next.attempt = job.attempt + 1;
  return {
    job: next,
    transition: { jobId: job.id, from: job.state, to, attempt: job.attempt, reason, at },
  };
}

/** After a failed attempt: back to the queue while retries remain, else failed. */
export function failOrRetry(job: Job, reason: string, now: Date = new Date()) {
  if (job.state === "running" && job.attempt < job.maxRetries) {
    return applyJobTransition(job, "queued", `retry ${job.attempt + 1} of ${job.maxRetries}: ${reason}`, now);
  }
  return applyJobTransition(job, "failed", reason, now);
}
