import { describe, expect, it } from "vitest";
import { ConflictError } from "../errors.js";
import { createJob, JOB_STATES } from "./job.js";
import { applyJobTransition, canTransition, failOrRetry, JOB_TRANSITIONS } from "./job-states.js";

const t0 = new Date("2024-01-01T00:00:00Z");
const t1 = new Date("2024-01-01T00:01:00Z");

function queuedJob(maxRetries = 0) {
  return createJob({ projectId: "p", command: ["x"], maxRetries }, "j1", t0);
}

describe("job state machine", () => {
  it("walks the happy path and records each transition", () => {
    const a = applyJobTransition(queuedJob(), "scheduled", "placed on local", t0);
    const b = applyJobTransition(a.job, "running", "replica started", t1);
    const c = applyJobTransition(b.job, "succeeded", "exit 0", t1);
    expect(c.job.state).toBe("succeeded");
    expect(b.job.startedAt).toBe(t1.toISOString());
    expect(c.job.finishedAt).toBe(t1.toISOString());
    expect(c.transition).toEqual({
      jobId: "j1",
      from: "running",
      to: "succeeded",
      attempt: 0,
      reason: "exit 0",
      at: t1.toISOString(),
    });
  });

  it("throws ConflictError on every transition the table does not list", () => {
    let refused = 0;
    for (const from of JOB_STATES) {
      for (const to of JOB_STATES) {
        if (canTransition(from, to)) continue;
        const job = { ...queuedJob(5), state: from };
        expect(() => applyJobTransition(job, to, "x")).toThrow(ConflictError);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(20);
    expect(JOB_TRANSITIONS.succeeded).toEqual([]);
  });

  it("retries increment the attempt and stop when the budget is used", () => {
    let job = queuedJob(1);
    job = applyJobTransition(job, "scheduled", "placed").job;
    job = applyJobTransition(job, "running", "started").job;
    const retried = failOrRetry(job, "exit 3");
    expect(retried.job.state).toBe("queued");
    expect(retried.job.attempt).toBe(1);
    expect(retried.job.startedAt).toBeUndefined();
    job = applyJobTransition(retried.job, "scheduled", "placed").job;
    job = applyJobTransition(job, "running", "started").job;
    expect(() => applyJobTransition(job, "queued", "again")).toThrow(/no retries left/);
    expect(failOrRetry(job, "exit 3").job.state).toBe("failed");
  });

  it("re-queues a scheduled job without spending a retry", () => {
    const scheduled = applyJobTransition(queuedJob(0), "scheduled", "placed").job;
    const back = applyJobTransition(scheduled, "queued", "start failed: no such node");
    expect(back.job.attempt).toBe(0);
    expect(back.job.state).toBe("queued");
  });
});
