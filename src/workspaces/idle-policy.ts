import type { Workspace } from "./workspace.js";

/**
 * When a running workspace is idle (docs/architecture/workspaces.md, idle culling). Idle means, for the whole
 * idle timeout: no SSH session (the in-workspace agent's report; a report older than `reportStaleMs`
 * counts as none), CPU below `cpuCores` and every GPU below `gpuPercent` (where measured). IDEs keep a
 * workspace alive because their server and port forwards ride on an SSH connection.
 */
export interface IdlePolicy {
  cpuCores: number;
  gpuPercent: number;
  /** A warning goes to the user's sessions this long before the idle stop (at most half the timeout). */
  warnBeforeMs: number;
  reportStaleMs: number;
  /** Longest a workspace runs; null = no limit. */
  maxLifetimeMs: number | null;
}

export const DEFAULT_IDLE_POLICY: IdlePolicy = {
  cpuCores: 0.25,
  gpuPercent: 5,
  warnBeforeMs: 10 * 60_000,
  reportStaleMs: 120_000,
  maxLifetimeMs: null,
};

export interface Activity {
  cpuCores?: number;
  gpuUtilizationPercent?: number[];
}

export type IdleVerdict =
  | { kind: "active" }
  | { kind: "idle"; idleMs: number }
  | { kind: "warn"; idleMs: number; stopsAt: number; message: string }
  | { kind: "stop"; reason: string; cause: "idle" | "lifetime" };

export function sessionsSeen(workspace: Workspace, now: number, policy: IdlePolicy): number {
  if (workspace.lastReportAt === null || now - workspace.lastReportAt > policy.reportStaleMs) return 0;
  return workspace.sessions;
}

export function isBusy(workspace: Workspace, activity: Activity, now: number, policy: IdlePolicy): boolean {
  if (sessionsSeen(workspace, now, policy) > 0) return true;
  if ((activity.cpuCores ?? 0) > policy.cpuCores) return true;
  return (activity.gpuUtilizationPercent ?? []).some((percent) => percent > policy.gpuPercent);
}

/** Pure: what to do with a running workspace now. `busy` is isBusy's answer for this pass. */
export function idleVerdict(
  workspace: Workspace,
  busy: boolean,
  now: number,
  policy: IdlePolicy,
): IdleVerdict {
  const startedAt = workspace.startedAt ?? now;
  if (policy.maxLifetimeMs !== null) {
    const endsAt = startedAt + policy.maxLifetimeMs;
    if (now >= endsAt) {
      return {
        kind: "stop",
        cause: "lifetime",
        reason: `stopped: reached the maximum lifetime of ${formatMs(policy.maxLifetimeMs)}`,
      };
    }
    // Sessions are open while a workspace is busy: this is the warning they see (written to their terminals).
    if (
      now >= endsAt - Math.min(policy.warnBeforeMs, policy.maxLifetimeMs / 2) &&
      workspace.idleWarnedAt === null
    ) {
      return {
        kind: "warn",
        idleMs: 0,
        stopsAt: endsAt,
        message: `workspace ${workspace.name} reaches its maximum lifetime and stops at ${new Date(endsAt).toISOString()} (in ${formatMs(endsAt - now)}); save your work, your home directory is kept`,
      };
    }
  }
  if (busy) return { kind: "active" };
  const timeoutMs = workspace.idleTimeoutSeconds * 1000;
  const idleMs = now - (workspace.lastActivityAt ?? startedAt);
  if (idleMs >= timeoutMs) {
    return {
      kind: "stop",
      cause: "idle",
      reason: `stopped: idle for ${formatMs(idleMs)} (idle timeout ${formatMs(timeoutMs)})`,
    };
  }
  const warnBeforeMs = Math.min(policy.warnBeforeMs, timeoutMs / 2);
  if (idleMs >= timeoutMs - warnBeforeMs && workspace.idleWarnedAt === null) {
    const stopsAt = now + (timeoutMs - idleMs);
    return {
      kind: "warn",
      idleMs,
      stopsAt,
      message: `workspace ${workspace.name} is idle and stops at ${new Date(stopsAt).toISOString()} (in ${formatMs(timeoutMs - idleMs)}) unless it is used; your home directory is kept`,
    };
  }
  return { kind: "idle", idleMs };
}

/** Within the last stretch before the maximum lifetime (a lifetime warning stays, activity or not). */
export function inLifetimeWarning(workspace: Workspace, now: number, policy: IdlePolicy): boolean {
  if (policy.maxLifetimeMs === null) return false;
  const endsAt = (workspace.startedAt ?? now) + policy.maxLifetimeMs;
  return now >= endsAt - Math.min(policy.warnBeforeMs, policy.maxLifetimeMs / 2);
}

export function formatMs(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 120) return `${minutes}m`;
  const hours = Math.round(minutes / 6) / 10;
  return hours < 48 ? `${hours}h` : `${Math.round(hours / 2.4) / 10}d`;
}
