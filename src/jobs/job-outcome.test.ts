import { describe, expect, it } from "vitest";
import { attemptOutcome, runStatusFor } from "./job-outcome.js";

describe("attempt outcome", () => {
  const ok = { replicaIndex: 0, end: "exited" as const, exitCode: 0, signal: null };
  const options = { cancelRequested: false, timeoutSeconds: 5 };

  it("succeeds only when every replica exited 0, even if a cancel came too late", () => {
    expect(attemptOutcome([ok, { ...ok, replicaIndex: 1 }], options)).toEqual({
      kind: "succeeded",
      reason: "all replicas exited with code 0",
    });
    expect(attemptOutcome([ok], { ...options, cancelRequested: true }).kind).toBe("succeeded");
  });

  it("names the replica that caused a failure, not the siblings stopped because of it", () => {
    const outcome = attemptOutcome(
      [
        { replicaIndex: 0, end: "stopped", exitCode: null, signal: "SIGTERM" },
        { replicaIndex: 1, end: "exited", exitCode: 3, signal: null },
      ],
      options,
    );
    expect(outcome).toEqual({ kind: "failed", reason: "rank 1 exited with code 3" });
    // Rank 1 was killed first; rank 0 then crashed on its broken all-reduce: rank 1 is the cause.
    const peerLost = attemptOutcome(
      [
        { replicaIndex: 0, end: "exited", exitCode: 1, signal: null, endedAt: 2_000 },
        { replicaIndex: 1, end: "exited", exitCode: null, signal: "SIGKILL", endedAt: 1_000 },
      ],
      options,
    );
    expect(peerLost.reason).toBe("rank 1 killed by SIGKILL");
    expect(
      attemptOutcome([{ ...ok, end: "timeout", exitCode: null, signal: "SIGKILL" }], options).reason,
    ).toBe("timed out after 5 s (ended by SIGKILL)");
    expect(attemptOutcome([{ ...ok, end: "lost", exitCode: null, message: "gone" }], options).reason).toBe(
      "lost track of the process: gone",
    );
    expect(
      attemptOutcome([{ ...ok, end: "stopped", exitCode: null, signal: "SIGTERM" }], {
        ...options,
        cancelRequested: true,
      }).kind,
    ).toBe("cancelled");
    expect(runStatusFor("cancelled")).toBe("KILLED");
  });
});
