import type { Workspace, WorkspaceState } from "./workspace.js";

/**
 * Persistence of workspaces, their host keys, users' SSH keys and per-project workspace limits. Writes
 * that move a workspace are conditional on its previous state (two control planes never both move one).
 */
export interface SshKeyRecord {
  id: string;
  userId: string;
  name: string;
  type: string;
  /** `TYPE BASE64` */
  publicKey: string;
  fingerprint: string;
  comment: string;
  createdAt: number;
}

export interface WorkspaceLimits {
  projectId: string;
  /** GPUs all of a project's active workspaces may hold together; null = no limit. */
  maxGpus: number | null;
  /** Longest a workspace of the project runs before it is stopped; null = the server's default. */
  maxLifetimeSeconds: number | null;
}

export interface WorkspaceStore {
  insert(workspace: Workspace, hostPrivateKey: string): Promise<void>;
  get(id: string): Promise<Workspace | undefined>;
  findByName(projectId: string, ownerId: string, name: string): Promise<Workspace | undefined>;
  findByJob(jobId: string): Promise<Workspace | undefined>;
  list(query: { projectIds: readonly string[]; ownerId?: string }): Promise<Workspace[]>;
  /** Workspaces in these states, any project (the sync loop). */
  inStates(states: readonly WorkspaceState[]): Promise<Workspace[]>;
  /** Writes `next` if the row still has `expectedState`; false when it lost the race. */
  update(next: Workspace, expectedState: WorkspaceState): Promise<boolean>;
  /** Records activity fields only (no state change). */
  recordActivity(
    id: string,
    activity: Pick<Workspace, "sessions" | "lastReportAt" | "lastActivityAt" | "idleWarnedAt" | "notice">,
  ): Promise<void>;
  hostPrivateKey(id: string): Promise<string | undefined>;
  remove(id: string): Promise<void>;
  /** GPUs of a project's workspaces in queued/running/stopping, without `exceptId`. */
  activeGpus(projectId: string, exceptId?: string): Promise<number>;
  countByState(): Promise<Record<string, number>>;

  insertKey(key: SshKeyRecord): Promise<void>;
  keysOf(userId: string): Promise<SshKeyRecord[]>;
  removeKey(userId: string, id: string): Promise<boolean>;

  limits(projectId: string): Promise<WorkspaceLimits | undefined>;
  setLimits(limits: WorkspaceLimits): Promise<void>;
}
