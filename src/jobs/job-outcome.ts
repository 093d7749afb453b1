import type { ReplicaEnd } from "../runtime/runtime.js";

/** How one replica of an attempt ended, as recorded. */
export interface ReplicaResult {
  replicaIndex: number;
  end: ReplicaEnd;
  exitCode: number | null;
  signal: string | null;
  message?: string | null;
  /** When it ended (ms since the epoch), where recorded: the first failure is the cause. */
  endedAt?: number | null;
}

export type AttemptOutcome =
  | { kind: "succeeded"; reason: string }
  | { kind: "cancelled"; reason: string }
  /** A failure: retried while the job has retries left (failOrRetry decides). */
  | { kind: "failed"; reason: string };

/**
 * What an attempt's replicas mean for the job, once all of them have ended. A job that finished cleanly
 * succeeded even if a cancel came too late; otherwise a requested cancel wins (the stop was asked for);
 * any replica that did not exit 0 fails the attempt, and the first one to fail (by end time, then index)
 * names the reason — ranks stopped because a sibling failed are not the cause, nor are ranks that
 * crashed later because their peer vanished (a DDP all-reduce errors out on the survivors).
 */
export function attemptOutcome(
  results: readonly ReplicaResult[],
  options: { cancelRequested: boolean; timeoutSeconds: number | null },
): AttemptOutcome {
  const sorted = [...results].sort((a, b) => a.replicaIndex - b.replicaIndex);
  const failures = sorted.filter((result) => !(result.end === "exited" && result.exitCode === 0));
  if (failures.length === 0) {
    return {
      kind: "succeeded",
      reason: sorted.length > 1 ? "all replicas exited with code 0" : "exited with code 0",
    };
  }
  if (options.cancelRequested) return { kind: "cancelled", reason: "cancelled on request" };
  const unstopped = failures
    .filter((result) => result.end !== "stopped")
    .sort((a, b) => (a.endedAt ?? Number.MAX_SAFE_INTEGER) - (b.endedAt ?? Number.MAX_SAFE_INTEGER));
  const cause = unstopped[0] ?? failures[0];
  const who = sorted.length > 1 ? `rank ${cause.replicaIndex} ` : "";
  return { kind: "failed", reason: `${who}${describeEnd(cause, options.timeoutSeconds)}` };
}

export function describeEnd(result: ReplicaResult, timeoutSeconds: number | null): string {
  const detail = result.message ? `: ${result.message}` : "";
  switch (result.end) {
    case "timeout":
      return `timed out after ${timeoutSeconds ?? "?"} s${result.signal ? ` (ended by ${result.signal})` : ""}`;
    case "stopped":
      return `stopped${detail}`;
    case "lost":
      return `lost track of the process${detail}`;
    default:
      if (result.signal) return `killed by ${result.signal}${detail}`;
      return `exited with code ${result.exitCode ?? "?"}${detail}`;
  }
}

/** The MLflow run status that matches a finished job. */
export function runStatusFor(kind: AttemptOutcome["kind"]): "FINISHED" | "FAILED" | "KILLED" {
  return kind === "succeeded" ? "FINISHED" : kind === "cancelled" ? "KILLED" : "FAILED";
}
