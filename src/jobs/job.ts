import { InputError } from "../errors.js";

/**
 * The job model (docs/jobs-and-workloads.md). A job runs `replicas` copies of one command; `resources` are per replica
 * (per node for a distributed job), and the scheduler places all replicas at once or none (gang).
 * Distributed jobs come later, but the shape is here so that a job with replicas > 1 needs no rewrite.
 */
export type JobState = "queued" | "scheduled" | "running" | "succeeded" | "failed" | "cancelled";

export const JOB_STATES: readonly JobState[] = [
  "queued",
  "scheduled",
  "running",
  "succeeded",
  "failed",
  "cancelled",
];

export interface JobResources {
  /** CPU cores per replica; fractions allowed (0.5). */
  cpu: number;
  memoryMiB: number;
  gpus: number;
  /** Normalized GPU type ("h100"); unset = any type, but all of one replica's GPUs share a type. */
  gpuType?: string;
}

export const JOB_NETWORKS = ["host", "none"] as const;
export type JobNetwork = (typeof JOB_NETWORKS)[number];

export interface DistributedSpec {
  nodes: number;
  procsPerNode: number;
}

export interface Job {
  id: string;
  projectId: string;
  name: string;
  command: string[];
  env: Record<string, string>;
  image?: string;
  /** The replicas' network: "host" or "none" (docs/security.md); unset = the server's MLOPS_JOB_NETWORK. */
  network?: JobNetwork;
  resources: JobResources;
  distributed?: DistributedSpec;
  /** Number of replicas started together: distributed.nodes, else 1. */
  replicas: number;
  /** Higher runs first. */
  priority: number;
  maxRetries: number;
  /** null = no limit. */
  timeoutSeconds: number | null;
  /** 0 for the first try, incremented on each retry. */
  attempt: number;
  state: JobState;
  /** Why the job is in its state (the last transition's reason, or why it waits). */
  stateReason: string;
  createdBy?: string;
  /** The submitting user's id (workload tokens are issued to this user). */
  ownerId?: string;
  runId?: string;
  /** The MLflow experiment of the job's run. */
  experimentId?: string;
  /** sha256 of the packed code the job runs (`--code DIR`). */
  codeDigest?: string;
  /** Set by a cancel while the job is scheduled or running; the scheduler stops its replicas. */
  cancelRequested?: boolean;
  submittedAt: string;
  updatedAt: string;
  startedAt?: string;
  finishedAt?: string;
}

/** What a client submits; everything but project and command has a default. */
export interface JobRequest {
  projectId: string;
  name?: string;
  command: string[];
  env?: Record<string, string>;
  image?: string;
  network?: JobNetwork;
  resources?: Partial<JobResources>;
  distributed?: DistributedSpec;
  priority?: number;
  maxRetries?: number;
  timeoutSeconds?: number | null;
  createdBy?: string;
  codeDigest?: string;
}

export const JOB_DEFAULTS = {
  cpu: 1,
  memoryMiB: 2048,
  gpus: 0,
  priority: 0,
  maxRetries: 0,
} as const;

/** Limits that keep one request from being absurd; the scheduler's own checks come on top. */
const MAX_RETRIES = 100;
const MAX_PRIORITY = 1_000_000;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const GPU_TYPE = /^[a-z0-9][a-z0-9_-]*$/;

/** Validates a request and builds the queued job. Pure: the caller supplies id and clock. */
export function createJob(request: JobRequest, id: string, now: Date): Job {
  if (!Array.isArray(request.command) || request.command.length === 0) {
    throw new InputError("command must be a non-empty list of strings");
  }
  if (request.command.some((part) => typeof part !== "string") || request.command[0] === "") {
    throw new InputError("command must be a list of strings with a non-empty program");
  }
  const env = request.env ?? {};
  for (const [key, value] of Object.entries(env)) {
    if (!ENV_NAME.test(key)) throw new InputError(`invalid environment variable name '${key}'`);
    if (typeof value !== "string") throw new InputError(`environment variable ${key} must be a string`);
    if (value.includes("\0")) throw new InputError(`environment variable ${key} contains a NUL byte`);
  }
  if (request.network !== undefined && !(JOB_NETWORKS as readonly string[]).includes(request.network)) {
    throw new InputError(`network must be one of ${JOB_NETWORKS.join(", ")}`);
  }
  const resources = normalizeResources(request.resources ?? {});
  const distributed = request.distributed;
  if (distributed) {
    requireInteger(distributed.nodes, "distributed.nodes", 1, 1024);
    requireInteger(distributed.procsPerNode, "distributed.procsPerNode", 1, 1024);
  }
  const priority = request.priority ?? JOB_DEFAULTS.priority;
  requireInteger(priority, "priority", -MAX_PRIORITY, MAX_PRIORITY);
  const maxRetries = request.maxRetries ?? JOB_DEFAULTS.maxRetries;
  requireInteger(maxRetries, "maxRetries", 0, MAX_RETRIES);
  const timeoutSeconds = request.timeoutSeconds ?? null;
  if (timeoutSeconds !== null) requireInteger(timeoutSeconds, "timeoutSeconds", 1, 365 * 24 * 3600);
  const at = now.toISOString();
  return {
    id,
    projectId: request.projectId,
    name: request.name?.trim() || request.command.join(" ").slice(0, 80),
    command: [...request.command],
    env: { ...env },
    ...(request.image ? { image: request.image } : {}),
    ...(request.network ? { network: request.network } : {}),
    resources,
    ...(distributed ? { distributed: { ...distributed } } : {}),
    replicas: distributed ? distributed.nodes : 1,
    priority,
    maxRetries,
    timeoutSeconds,
    attempt: 0,
    state: "queued",
    stateReason: "submitted",
    ...(request.createdBy ? { createdBy: request.createdBy } : {}),
    ...(request.codeDigest ? { codeDigest: request.codeDigest } : {}),
    submittedAt: at,
    updatedAt: at,
  };
}

export function normalizeResources(input: Partial<JobResources>): JobResources {
  const cpu = input.cpu ?? JOB_DEFAULTS.cpu;
  if (typeof cpu !== "number" || !Number.isFinite(cpu) || cpu <= 0 || cpu > 4096) {
    throw new InputError("resources.cpu must be a positive number of cores");
  }
  const memoryMiB = input.memoryMiB ?? JOB_DEFAULTS.memoryMiB;
  requireInteger(memoryMiB, "resources.memoryMiB", 1, 64 * 1024 * 1024);
  const gpus = input.gpus ?? JOB_DEFAULTS.gpus;
  requireInteger(gpus, "resources.gpus", 0, 1024);
  const gpuType = input.gpuType === undefined || input.gpuType === "" ? undefined : input.gpuType;
  if (gpuType !== undefined) {
    if (typeof gpuType !== "string" || !GPU_TYPE.test(gpuType.toLowerCase())) {
      throw new InputError(`invalid GPU type '${String(gpuType)}'`);
    }
    if (gpus === 0) throw new InputError("resources.gpuType needs resources.gpus >= 1");
  }
  return { cpu, memoryMiB, gpus, ...(gpuType ? { gpuType: gpuType.toLowerCase() } : {}) };
}

function requireInteger(value: unknown, name: string, min: number, max: number): void {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new InputError(`${name} must be an integer between ${min} and ${max}`);
  }
}

export function isTerminal(state: JobState): boolean {
  return state === "succeeded" || state === "failed" || state === "cancelled";
}

/** Total GPUs the job holds while running (all replicas). */
export function totalGpus(job: Pick<Job, "replicas" | "resources">): number {
  return job.replicas * job.resources.gpus;
}
