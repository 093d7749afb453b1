import type { Generated } from "kysely";

/** Jobs (docs/jobs-and-workloads.md): one row per job; `attempt` counts retries. Times are epoch ms. */
export interface JobsTable {
  id: string;
  project_id: string;
  name: string;
  /** JSON array of strings. */
  command: string;
  /** JSON object of the user's environment variables. */
  env: string;
  image: string | null;
  /** "host" | "none"; null = the server's default. */
  network: string | null;
  cpu: number;
  memory_mib: number;
  gpus: number;
  gpu_type: string | null;
  /** JSON {nodes, procsPerNode} or null. */
  distributed: string | null;
  /** "job" | "workspace" (0202). */
  kind: Generated<string>;
  /** JSON [{name}] of ports the workload listens on, or null (internal: workspaces). */
  ports: string | null;
  /** JSON [{name, mountPath}] of persistent volumes, or null (internal: workspaces). */
  volumes: string | null;
  /** JSON {name, home}: the login user the workload runs as, or null (internal: workspaces). */
  run_as: string | null;
  replicas: number;
  priority: number;
  max_retries: number;
  timeout_seconds: number | null;
  attempt: number;
  state: string;
  state_reason: string;
  created_by: string | null;
  owner_id: string | null;
  run_id: string | null;
  experiment_id: string | null;
  code_digest: string | null;
  cancel_requested: Generated<number>;
  submitted_at: number;
  updated_at: number;
  started_at: number | null;
  finished_at: number | null;
}

/** One replica of one attempt: where it was placed, its process, how it ended, its logs. */
export interface JobReplicasTable {
  replica_id: string;
  job_id: string;
  attempt: number;
  replica_index: number;
  node_id: string;
  cpu: number;
  memory_mib: number;
  /** JSON array of device uuids. */
  gpu_uuids: string;
  /** placed | running | ended */
  state: string;
  pid: number | null;
  end_reason: string | null;
  exit_code: number | null;
  signal: string | null;
  message: string | null;
  started_at: number | null;
  ended_at: number | null;
  stdout_sha256: string | null;
  stderr_sha256: string | null;
  /** JSON {name: {host, port}}: where the replica's ports are reachable, once it started (0202). */
  endpoints: string | null;
}

/** Every state change of a job: who, when, why. Append-only. */
export interface JobEventsTable {
  id: Generated<number>;
  job_id: string;
  at: number;
  from_state: string | null;
  to_state: string;
  attempt: number;
  actor: string;
  reason: string;
  /** JSON object. */
  details: string;
}

/** CPU and memory a placed/running replica holds on a node; deleted when the replica's job frees it. */
export interface ResourceHoldsTable {
  workload_id: string;
  replica_index: number;
  project_id: string;
  node_id: string;
  cpu: number;
  memory_mib: number;
  /** JSON array of device uuids (also rows of gpu_holds). */
  gpu_uuids: string;
  acquired_at: number;
}

/**
 * One row per GPU in use. The primary key on `device_uuid` is the database's guarantee that no device
 * is ever held by two workloads: only active holds exist, and a second insert fails.
 */
export interface GpuHoldsTable {
  device_uuid: string;
  workload_id: string;
  replica_index: number;
  project_id: string;
  acquired_at: number;
}

export interface JobTables {
  jobs: JobsTable;
  job_replicas: JobReplicasTable;
  job_events: JobEventsTable;
  resource_holds: ResourceHoldsTable;
  gpu_holds: GpuHoldsTable;
}
