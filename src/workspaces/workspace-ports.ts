import type { AuditLog } from "../audit/audit-log.js";
import type { Project } from "../auth/identity-store.js";
import type { Principal } from "../auth/principal.js";
import type { Permission } from "../auth/roles.js";
import type { Endpoint, WorkspaceResources } from "./workspace.js";
import type { WorkspaceStore } from "./workspace-store.js";

/** What workspaces need from the job system (an adapter over JobService implements it). */
export interface WorkspaceJobRequest {
  project: string;
  name: string;
  command: string[];
  env: Record<string, string>;
  secretEnv: Record<string, string>;
  resources: WorkspaceResources;
  image?: string;
  volumes: Array<{ name: string; mountPath: string }>;
  user: { name: string; home: string };
}

export type WorkspaceJobState = "queued" | "scheduled" | "running" | "succeeded" | "failed" | "cancelled";

export interface WorkspaceJobView {
  id: string;
  state: WorkspaceJobState;
  stateReason: string;
  /** The current attempt's replica 0, once placed. */
  replicaId?: string;
  /** Its `ssh` endpoint, once it runs. */
  ssh?: Endpoint;
}

export interface WorkspaceJobs {
  /** Submits the workspace's job as `principal` (the owner): quotas, project checks, audit as any job. */
  submit(principal: Principal, request: WorkspaceJobRequest): Promise<{ id: string }>;
  get(jobId: string): Promise<WorkspaceJobView | undefined>;
  /** Stops the job (no error when it has already ended). */
  cancel(jobId: string): Promise<void>;
}

/** The runtime's part: resource samples and the home volume. */
export interface WorkspaceRuntime {
  usage(
    replicaId: string,
  ): Promise<{ cpuCores?: number; gpus?: Array<{ utilizationPercent: number }> } | null>;
  deleteVolume(name: string): Promise<void>;
}

export interface WorkspaceProjects {
  getProject(principal: Principal, idOrName: string, permission?: Permission): Promise<Project>;
  listProjects(principal: Principal): Promise<Project[]>;
}

export interface WorkspaceDeps {
  store: WorkspaceStore;
  jobs: WorkspaceJobs;
  runtime: WorkspaceRuntime;
  projects: WorkspaceProjects;
  audit: AuditLog;
  /** Default idle timeout (config workspaceIdleTimeout), seconds. */
  defaultIdleTimeoutSeconds: number;
  /** Server-wide maximum lifetime (config workspaceMaxLifetime), seconds; null = none. */
  maxLifetimeSeconds: number | null;
  /** Host SSH clients use (config workspaceSshHost); unset = the endpoint's host. */
  sshHost?: string;
  /** How often the in-workspace agent reports sessions (seconds). */
  reportSeconds: number;
  /** The platform's CLI for sessions (`mlops run submit` from inside); unset = no `mlops` there. */
  cli?: { node: string; entry: string };
  /** Wakes the sync loop (after start/stop). */
  wake: () => void;
  now?: () => number;
}
