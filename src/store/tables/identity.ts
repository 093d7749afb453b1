import type { Generated } from "kysely";

export interface UsersTable {
  id: string;
  name: string;
  role: string;
  created_at: number;
  disabled: Generated<number>;
}

export interface TokensTable {
  id: string;
  user_id: string;
  name: string;
  token_hash: string;
  prefix: string;
  /** JSON: {runId?, jobId?, projectId?} for workload tokens; null for user tokens. */
  scope: string | null;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
}

export interface ProjectsTable {
  id: string;
  name: string;
  description: string;
  created_at: number;
  created_by: string;
  /** JSON: per-project quotas, e.g. {"gpus": 4}. */
  quotas: string;
}

export interface ProjectMembersTable {
  project_id: string;
  user_id: string;
  role: string;
  added_at: number;
}

export interface IdentityTables {
  users: UsersTable;
  tokens: TokensTable;
  projects: ProjectsTable;
  project_members: ProjectMembersTable;
}
