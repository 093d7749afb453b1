import { InputError } from "../errors.js";

/**
 * The job model (docs/jobs-and-workloads.md). A job runs one command as `nodes x procsPerNode` ranks: one
 * replica per rank (replicaIndex = global rank). `resources` are per node; each rank gets its node's share
 * (rankResources). The scheduler places all nodes of the gang in one pass or none.
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

/** "job" runs to completion; "workspace" is a long-running dev environment (src/workspaces/). */
export type JobKind = "job" | "workspace";

/**
 * Fields only the platform sets (internal submit, e.g. workspaces): passed through to the runtime's
 * replica spec (src/runtime/runtime.ts), never accepted from the public API.
 */
export interface JobInternals {
  kind?: JobKind;
  ports?: Array<{ name: string }>;
  volumes?: Array<{ name: string; mountPath: string }>;
  user?: { name: string; home: string };
}

export interface Job extends JobInternals {
  id: string;
  projectId: string;
  name: string;
  command: string[];
  env: Record<string, string>;
  image?: string;
  /** The replicas' network: "host" or "none" (docs/security.md); unset = the server's MLOPS_JOB_NETWORK. */
  network?: JobNetwork;
  /** Per node: a rank gets gpus/procsPerNode GPUs, cpu/procsPerNode cores, memoryMiB/procsPerNode MiB. */
  resources: JobResources;
  /** Set for distributed jobs (more than one rank, or asked for explicitly). */
  distributed?: DistributedSpec;
  /** Number of ranks (replicas) started together: nodes x procsPerNode. */
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
export interface JobRequest extends JobInternals {
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
const PORT_NAME = /^[a-z][a-z0-9_]{0,30}$/;
const VOLUME_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;
/** The largest gang one job may ask for. */
const MAX_RANKS = 1024;

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
    checkRankSplit(resources, distributed);
  }
  const ranks = distributed ? distributed.nodes * distributed.procsPerNode : 1;
  const internals = validateInternals(request);
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
    ...(distributed
      ? { distributed: { nodes: distributed.nodes, procsPerNode: distributed.procsPerNode } }
      : {}),
    replicas: ranks,
    ...internals,
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

/** A node's resources must split evenly into its ranks (GPUs), and leave each rank something (CPU, memory). */
function checkRankSplit(resources: JobResources, distributed: DistributedSpec): void {
  const { nodes, procsPerNode } = distributed;
  if (nodes * procsPerNode > MAX_RANKS) {
    throw new InputError(`nodes x procsPerNode is ${nodes * procsPerNode} ranks; at most ${MAX_RANKS}`);
  }
  if (resources.gpus > 0 && resources.gpus % procsPerNode !== 0) {
    throw new InputError(
      `resources.gpus (${resources.gpus} per node) must divide evenly among procsPerNode (${procsPerNode}) ranks`,
    );
  }
  if (Math.round((resources.cpu * 1000) / procsPerNode) < 1) {
    throw new InputError(`resources.cpu (${resources.cpu} per node) is too small for ${procsPerNode} ranks`);
  }
  if (Math.floor(resources.memoryMiB / procsPerNode) < 1) {
    throw new InputError(
      `resources.memoryMiB (${resources.memoryMiB} per node) is too small for ${procsPerNode} ranks`,
    );
  }
}

function validateInternals(request: JobInternals): JobInternals {
  const out: JobInternals = {};
  if (request.kind !== undefined) {
    if (request.kind !== "job" && request.kind !== "workspace")
      throw new InputError("kind must be job or workspace");
    if (request.kind === "workspace") out.kind = "workspace";
  }
  if (request.ports !== undefined && request.ports.length > 0) {
    const names = new Set<string>();
    for (const port of request.ports) {
      if (!PORT_NAME.test(port.name)) throw new InputError(`invalid port name '${port.name}'`);
      if (names.has(port.name)) throw new InputError(`port '${port.name}' appears twice`);
      names.add(port.name);
    }
    out.ports = request.ports.map((port) => ({ name: port.name }));
  }
  if (request.volumes !== undefined && request.volumes.length > 0) {
    for (const volume of request.volumes) {
      if (!VOLUME_NAME.test(volume.name)) throw new InputError(`invalid volume name '${volume.name}'`);
      if (!volume.mountPath.startsWith("/") || volume.mountPath.split("/").includes("..")) {
        throw new InputError(`volume mount path '${volume.mountPath}' must be absolute, without '..'`);
      }
    }
    out.volumes = request.volumes.map((volume) => ({ name: volume.name, mountPath: volume.mountPath }));
  }
  if (request.user !== undefined) {
    if (!USER_NAME.test(request.user.name)) throw new InputError(`invalid user name '${request.user.name}'`);
    if (!request.user.home.startsWith("/")) throw new InputError("user.home must be an absolute path");
    out.user = { name: request.user.name, home: request.user.home };
  }
  return out;
}

function requireInteger(value: unknown, name: string, min: number, max: number): void {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new InputError(`${name} must be an integer between ${min} and ${max}`);
  }
}

export function isTerminal(state: JobState): boolean {
  return state === "succeeded" || state === "failed" || state === "cancelled";
}

/** The gang's shape; a job without `distributed` is one node with one rank. */
export function gangShape(job: Pick<Job, "distributed">): DistributedSpec {
  return job.distributed ?? { nodes: 1, procsPerNode: 1 };
}

/** What one rank gets: its node's resources split evenly (CPU in millicores, memory in whole MiB). */
export function rankResources(resources: JobResources, procsPerNode: number): JobResources {
  if (procsPerNode === 1) return { ...resources };
  return {
    cpu: Math.round((resources.cpu * 1000) / procsPerNode) / 1000,
    memoryMiB: Math.floor(resources.memoryMiB / procsPerNode),
    gpus: resources.gpus / procsPerNode,
    ...(resources.gpuType !== undefined ? { gpuType: resources.gpuType } : {}),
  };
}

/** Total GPUs the job holds while running (all nodes). */
export function totalGpus(job: Pick<Job, "distributed" | "resources">): number {
  return gangShape(job).nodes * job.resources.gpus;
}
