/** Workspaces, users' SSH keys and per-project workspace limits (migration 0500_workspaces). */
export interface WorkspacesTable {
  id: string;
  project_id: string;
  name: string;
  owner_id: string;
  owner_name: string;
  login_user: string;
  cpu: number;
  memory_mib: number;
  gpus: number;
  gpu_type: string | null;
  image: string | null;
  idle_timeout_seconds: number;
  state: string;
  state_reason: string;
  job_id: string | null;
  /** JSON {host, port} while running. */
  endpoint: string | null;
  host_public_key: string;
  host_key_fingerprint: string;
  /** The host key's private part (OpenSSH format); handed to the workspace's job as a secret env value. */
  host_private_key: string;
  keep_home: number;
  created_at: number;
  updated_at: number;
  started_at: number | null;
  last_activity_at: number | null;
  sessions: number;
  last_report_at: number | null;
  idle_warned_at: number | null;
  notice: string | null;
}

export interface SshKeysTable {
  id: string;
  user_id: string;
  name: string;
  type: string;
  public_key: string;
  fingerprint: string;
  comment: string;
  created_at: number;
}

export interface WorkspaceLimitsTable {
  project_id: string;
  max_gpus: number | null;
  max_lifetime_seconds: number | null;
}

export interface WorkspaceTables {
  workspaces: WorkspacesTable;
  ssh_keys: SshKeysTable;
  workspace_limits: WorkspaceLimitsTable;
}
