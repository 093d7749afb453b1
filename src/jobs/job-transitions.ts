import type { AuditLog } from "../audit/audit-log.js";
import { failOrRetry, applyJobTransition, type JobTransition } from "./job-states.js";
import type { Job, JobState } from "./job.js";
import type { JobStore } from "./job-store.js";

export interface TransitionOptions {
  actor: string;
  /** Free the job's holds in the same write (the job stops using its devices). */
  releaseHolds?: boolean;
  details?: Record<string, unknown>;
}

/**
 * Applies a state-machine transition and records it: the conditional write (with the job event), then
 * the audit entry. Returns the new job, or null when another writer moved the job first.
 */
export class JobTransitions {
  constructor(
    private readonly store: JobStore,
    private readonly audit: AuditLog,
    private readonly onTransition: (transition: JobTransition) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {}

  apply(job: Job, to: JobState, reason: string, options: TransitionOptions): Promise<Job | null> {
    return this.persist(job, applyJobTransition(job, to, reason, new Date(this.now())), options);
  }

  /** After a failed attempt: back to the queue while retries remain, else failed. */
  failOrRetry(job: Job, reason: string, options: TransitionOptions): Promise<Job | null> {
    return this.persist(job, failOrRetry(job, reason, new Date(this.now())), options);
  }

  private async persist(
    job: Job,
    result: { job: Job; transition: JobTransition },
    options: TransitionOptions,
  ): Promise<Job | null> {
    const { transition } = result;
    const at = Date.parse(transition.at);
    const details = options.details ?? {};
    const won = await this.store.transition(
      result.job,
      { state: job.state, attempt: job.attempt },
      {
        at,
        from: transition.from,
        to: transition.to,
        attempt: transition.attempt,
        actor: options.actor,
        reason: transition.reason,
        details,
      },
      { releaseHolds: options.releaseHolds ?? false },
    );
    if (!won) return null;
    await this.recorded(job, transition, options.actor, details);
    return result.job;
  }

  /** The audit entry and metrics of a transition already written (also used after a claim). */
  async recorded(
    job: Pick<Job, "id" | "projectId">,
    transition: JobTransition,
    actor: string,
    details: Record<string, unknown> = {},
  ) {
    this.onTransition(transition);
    await this.audit.record({
      actor,
      action: "job.transition",
      subjectType: "job",
      subjectId: job.id,
      projectId: job.projectId,
      reason: transition.reason,
      details: { from: transition.from, to: transition.to, attempt: transition.attempt, ...details },
    });
  }
}
