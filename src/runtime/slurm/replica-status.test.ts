import { describe, expect, it } from "vitest";
import { replicaStatusOf } from "./replica-status.js";
import type { LaunchRecord } from "./slurm-files.js";

const launch: LaunchRecord = {
  replicaId: "j.a0.r0",
  jobId: "j",
  attempt: 0,
  replicaIndex: 0,
  gang: ["j.a0.r0"],
  slurmJobId: "42",
  graceMs: 1000,
  createdAt: "2026-01-01T00:00:00.000Z",
};
const started = { startedAt: "2026-01-01T00:00:01.000Z", node: "n1", pid: 7 };
const now = "2026-01-01T00:00:09.000Z";
const job = (state: string, reason = "None") => ({ jobId: "42", state, reason });

describe("Slurm replica status", () => {
  it("pending is starting, running with a started record is running", () => {
    expect(
      replicaStatusOf({ launch, started: null, exit: null, job: job("PENDING"), now }).status.state,
    ).toBe("starting");
    const running = replicaStatusOf({ launch, started, exit: null, job: job("RUNNING"), now }).status;
    expect(running).toMatchObject({ state: "running", node: "n1", externalId: "42" });
  });

  it("the wrapper's exit record is the truth; Slurm's TERM at the time limit counts as timeout", () => {
    const exit = {
      exitCode: null,
      signal: "SIGTERM",
      end: "stopped" as const,
      startedAt: started.startedAt,
      endedAt: now,
      slurmTerminated: true,
    };
    expect(replicaStatusOf({ launch, started, exit, job: job("TIMEOUT"), now }).status.exit?.end).toBe(
      "timeout",
    );
    expect(replicaStatusOf({ launch, started, exit, job: job("CANCELLED"), now }).status.exit?.end).toBe(
      "stopped",
    );
  });

  it("an allocation that ended without the wrapper's record: timeout, stopped or lost, and persisted", () => {
    const timeout = replicaStatusOf({ launch, started, exit: null, job: job("TIMEOUT"), now });
    expect(timeout.synthesized).toMatchObject({ end: "timeout", signal: "SIGKILL" });
    const stopped = replicaStatusOf({
      launch: { ...launch, stopRequestedAt: now },
      started: null,
      exit: null,
      job: job("CANCELLED"),
      now,
    });
    expect(stopped.status).toMatchObject({ state: "exited", exit: { end: "stopped", signal: null } });
    const lost = replicaStatusOf({ launch, started, exit: null, job: job("NODE_FAIL", "NodeDown"), now });
    expect(lost.status.state).toBe("lost");
    expect(lost.status.exit?.message).toMatch(/ended NODE_FAIL \(NodeDown\)/);
    const forgotten = replicaStatusOf({ launch, started, exit: null, job: null, now });
    expect(forgotten.status.exit?.message).toMatch(/no longer known to Slurm/);
    const kept = replicaStatusOf({
      launch: { ...launch, exit: lost.synthesized },
      started,
      exit: null,
      job: job("RUNNING"),
      now,
    });
    expect(kept.status.state).toBe("lost");
    expect(kept.synthesized).toBeUndefined();
  });
});
