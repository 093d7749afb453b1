import type { Selectable } from "kysely";
import type { Job, JobState } from "../../jobs/job.js";
import type { JobEvent, JobReplica, NewJobEvent, ReplicaRecordState } from "../../jobs/job-store.js";
import type { ReplicaEnd } from "../../runtime/runtime.js";
import type { JobEventsTable, JobReplicasTable, JobsTable } from "../tables/jobs.js";

/** Row <-> domain mapping for the jobs repository. */

const iso = (ms: number | null): string | undefined => (ms === null ? undefined : new Date(ms).toISOString());
const ms = (text: string | undefined): number | null => (text === undefined ? null : Date.parse(text));

export function jobToRow(
  job: Job,
): Omit<JobsTable, "cancel_requested" | "kind"> & { cancel_requested: number; kind: string } {
  return {
    id: job.id,
    project_id: job.projectId,
    name: job.name,
    command: JSON.stringify(job.command),
    env: JSON.stringify(job.env),
    image: job.image ?? null,
    network: job.network ?? null,
    cpu: job.resources.cpu,
    memory_mib: job.resources.memoryMiB,
    gpus: job.resources.gpus,
    gpu_type: job.resources.gpuType ?? null,
    distributed: job.distributed ? JSON.stringify(job.distributed) : null,
    kind: job.kind ?? "job",
    ports: job.ports ? JSON.stringify(job.ports) : null,
    volumes: job.volumes ? JSON.stringify(job.volumes) : null,
    run_as: job.user ? JSON.stringify(job.user) : null,
    replicas: job.replicas,
    priority: job.priority,
    max_retries: job.maxRetries,
    timeout_seconds: job.timeoutSeconds,
    attempt: job.attempt,
    state: job.state,
    state_reason: job.stateReason,
    created_by: job.createdBy ?? null,
    owner_id: job.ownerId ?? null,
    run_id: job.runId ?? null,
    experiment_id: job.experimentId ?? null,
    code_digest: job.codeDigest ?? null,
    cancel_requested: job.cancelRequested ? 1 : 0,
    submitted_at: Date.parse(job.submittedAt),
    updated_at: Date.parse(job.updatedAt),
    started_at: ms(job.startedAt),
    finished_at: ms(job.finishedAt),
  };
}

/** The columns a state transition writes. */
export function transitionColumns(job: Job) {
  const row = jobToRow(job);
  return {
    state: row.state,
    state_reason: row.state_reason,
    attempt: row.attempt,
    updated_at: row.updated_at,
    started_at: row.started_at,
    finished_at: row.finished_at,
  };
}

export function rowToJob(row: Selectable<JobsTable>): Job {
  const job: Job = {
    id: row.id,
    projectId: row.project_id,
    name: row.name,
    command: JSON.parse(row.command) as string[],
    env: JSON.parse(row.env) as Record<string, string>,
    resources: {
      cpu: Number(row.cpu),
      memoryMiB: Number(row.memory_mib),
      gpus: Number(row.gpus),
      ...(row.gpu_type ? { gpuType: row.gpu_type } : {}),
    },
    replicas: Number(row.replicas),
    priority: Number(row.priority),
    maxRetries: Number(row.max_retries),
    timeoutSeconds: row.timeout_seconds === null ? null : Number(row.timeout_seconds),
    attempt: Number(row.attempt),
    state: row.state as JobState,
    stateReason: row.state_reason,
    submittedAt: iso(Number(row.submitted_at))!,
    updatedAt: iso(Number(row.updated_at))!,
  };
  if (row.image) job.image = row.image;
  if (row.network === "host" || row.network === "none") job.network = row.network;
  if (row.distributed) job.distributed = JSON.parse(row.distributed) as Job["distributed"];
  if (row.kind === "workspace") job.kind = "workspace";
  if (row.ports) job.ports = JSON.parse(row.ports) as Job["ports"];
  if (row.volumes) job.volumes = JSON.parse(row.volumes) as Job["volumes"];
  if (row.run_as) job.user = JSON.parse(row.run_as) as Job["user"];
  if (row.created_by) job.createdBy = row.created_by;
  if (row.owner_id) job.ownerId = row.owner_id;
  if (row.run_id) job.runId = row.run_id;
  if (row.experiment_id) job.experimentId = row.experiment_id;
  if (row.code_digest) job.codeDigest = row.code_digest;
  if (Number(row.cancel_requested) === 1) job.cancelRequested = true;
  if (row.started_at !== null) job.startedAt = iso(Number(row.started_at));
  if (row.finished_at !== null) job.finishedAt = iso(Number(row.finished_at));
  return job;
}

export function rowToReplica(row: Selectable<JobReplicasTable>): JobReplica {
  const num = (value: number | null) => (value === null ? null : Number(value));
  return {
    replicaId: row.replica_id,
    jobId: row.job_id,
    attempt: Number(row.attempt),
    replicaIndex: Number(row.replica_index),
    nodeId: row.node_id,
    cpu: Number(row.cpu),
    memoryMiB: Number(row.memory_mib),
    gpuUuids: JSON.parse(row.gpu_uuids) as string[],
    state: row.state as ReplicaRecordState,
    pid: num(row.pid),
    end: row.end_reason as ReplicaEnd | null,
    exitCode: num(row.exit_code),
    signal: row.signal,
    message: row.message,
    startedAt: num(row.started_at),
    endedAt: num(row.ended_at),
    stdoutSha256: row.stdout_sha256,
    stderrSha256: row.stderr_sha256,
    endpoints: row.endpoints ? (JSON.parse(row.endpoints) as JobReplica["endpoints"]) : null,
  };
}

export function eventToRow(jobId: string, event: NewJobEvent): Omit<JobEventsTable, "id"> {
  return {
    job_id: jobId,
    at: event.at,
    from_state: event.from,
    to_state: event.to,
    attempt: event.attempt,
    actor: event.actor,
    reason: event.reason,
    details: JSON.stringify(event.details),
  };
}

export function rowToEvent(row: Selectable<JobEventsTable>): JobEvent {
  return {
    id: Number(row.id),
    jobId: row.job_id,
    at: Number(row.at),
    from: row.from_state as JobState | null,
    to: row.to_state as JobState,
    attempt: Number(row.attempt),
    actor: row.actor,
    reason: row.reason,
    details: JSON.parse(row.details) as Record<string, unknown>,
  };
}
