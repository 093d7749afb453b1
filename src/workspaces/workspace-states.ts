import { ConflictError } from "../errors.js";
import type { Workspace, WorkspaceState } from "./workspace.js";

/**
 * The workspace state machine (docs/architecture/workspaces.md). `queued`: its job waits for GPUs;
 * `running`: sshd runs; `stopping`: its job was cancelled and has not ended yet; `stopped`: no job, home
 * kept; `failed`: its job ended on its own (sshd crashed, node lost); `deleting`: its job is ending and its
 * home goes once it has.
 */
export const WORKSPACE_TRANSITIONS: Readonly<Record<WorkspaceState, readonly WorkspaceState[]>> = {
  queued: ["running", "stopping", "stopped", "failed", "deleting"],
  running: ["stopping", "stopped", "failed", "deleting"],
  stopping: ["stopped", "failed", "deleting"],
  stopped: ["queued", "deleting"],
  failed: ["queued", "deleting"],
  deleting: [],
};

export function canTransition(from: WorkspaceState, to: WorkspaceState): boolean {
  return WORKSPACE_TRANSITIONS[from].includes(to);
}

/**
 * The one function that moves a workspace: checks the table and returns the next row (pure). The store
 * writes it conditionally on the previous state, so two control planes never both move one workspace.
 */
export function transitionWorkspace(
  workspace: Workspace,
  to: WorkspaceState,
  reason: string,
  now: number,
  changes: Partial<Omit<Workspace, "id" | "state" | "stateReason" | "updatedAt">> = {},
): Workspace {
  if (!canTransition(workspace.state, to)) {
    throw new ConflictError(`workspace ${workspace.name} is ${workspace.state}: cannot go to ${to}`);
  }
  const next: Workspace = { ...workspace, ...changes, state: to, stateReason: reason, updatedAt: now };
  if (to !== "running") {
    next.endpoint = null;
    next.sessions = 0;
  }
  if (to === "queued") {
    next.startedAt = null;
    next.lastActivityAt = null;
    next.lastReportAt = null;
    next.idleWarnedAt = null;
    next.notice = null;
  }
  return next;
}
