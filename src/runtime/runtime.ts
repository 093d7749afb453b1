import type { Readable } from "node:stream";
import { InputError } from "../errors.js";

/**
 * The runtime contract (docs/architecture/runtime-contract.md): where workloads run. A runtime starts,
 * watches, stops and streams the logs of *replicas*: one process (tree) of a workload. A job with N ranks
 * is N replicas started together with `startGang` after the platform's scheduler admitted all of them.
 *
 * Backends: local/ (process groups under bubblewrap), slurm/ (one allocation per gang, ranks via srun),
 * kubernetes/ (an Indexed Job per gang). Nothing in a spec is a path on the control plane's host: the
 * runtime owns the working directory, fetches the code archive by digest, resolves `python`, and hands
 * logs back as streams. Every backend passes the same suite (test/runtime-contract/).
 */
export type WorkloadKind = "job" | "workspace";

export interface ReplicaResources {
  /** CPU cores; fractions allowed. Backends that cannot enforce it (local) record it. */
  cpu: number;
  memoryMiB: number;
  gpus: number;
  /** Normalized GPU type ("h100"); unset = any. */
  gpuType?: string;
  /**
   * Explicit devices on the node, chosen by the platform's scheduler where it places (local runtime).
   * Backends whose cluster assigns devices (Slurm gres, Kubernetes device plugin) ignore them.
   * The runtime sets CUDA_VISIBLE_DEVICES to exactly the replica's devices.
   */
  devices?: ReadonlyArray<{ index: number; uuid: string; simulated: boolean }>;
}

/** Where one replica sits in a distributed gang; the runtime turns it into the torchrun environment. */
export interface RankLayout {
  /** Global rank (RANK); equals the replica index. */
  rank: number;
  /** Rank within its node (LOCAL_RANK). */
  localRank: number;
  /** The node's index in the gang (NODE_RANK, GROUP_RANK). */
  nodeRank: number;
  worldSize: number;
  /** Ranks per node (LOCAL_WORLD_SIZE). */
  localWorldSize: number;
  nodes: number;
}

export interface ReplicaSpec {
  jobId: string;
  /** The job's attempt (retries start fresh replicas with their own logs). */
  attempt: number;
  /** The replica's index in its gang: the global rank for distributed jobs. */
  replicaIndex: number;
  /** "job" (default): runs to completion. "workspace": long-running, with a home volume and ports. */
  kind?: WorkloadKind;
  /** The platform scheduler's node id; backends whose cluster decides placement ignore it. */
  node?: string;
  /** Container image; the local runtime runs on the host's installation and records it only. */
  image?: string;
  /**
   * sha256 of the packed code (artifact store). The runtime puts it, unpacked, in the job's working
   * directory before the command starts (local: from the store; clusters: fetched with the job token).
   */
  codeDigest?: string;
  /** argv. `python`/`python3` as the program means the runtime's Python (with torch and the SDK). */
  command: string[];
  /**
   * The workload environment from the platform. The runtime adds: HOME, MLOPS_WORK_DIR,
   * MLOPS_OUTPUT_DIR, CUDA_VISIBLE_DEVICES, the torchrun names for `rank`, and MLOPS_PORT_<NAME>.
   */
  env: Record<string, string>;
  resources: ReplicaResources;
  /** Set for every member of a distributed gang (also when the gang has one rank). */
  rank?: RankLayout;
  /** Ports the workload listens on (e.g. a workspace's sshd): the runtime picks them, see handle.endpoints. */
  ports?: ReadonlyArray<{ name: string }>;
  /** Persistent volumes (created on first use, kept across replicas until deleteVolume). */
  volumes?: ReadonlyArray<{ name: string; mountPath: string }>;
  /** Present the workload's (unprivileged) uid as this login user with this home (workspaces' sshd). */
  user?: { name: string; home: string };
  /** null = no limit. Fractions are allowed (tests). */
  timeoutSeconds: number | null;
  /** How long after SIGTERM (timeout or stop) before SIGKILL; the runtime's default when unset. */
  graceMs?: number;
  /** "host" (default): the host's network, the control plane reachable; "none": loopback only, alone. */
  network?: "host" | "none";
  /** Values never to appear in stored logs (the job's token): written as "***". */
  maskInLogs?: string[];
}

/** Why a replica ended: on its own, killed by its timeout, stopped on request, or lost track of. */
export type ReplicaEnd = "exited" | "timeout" | "stopped" | "lost";

export interface ReplicaExit {
  replicaId: string;
  end: ReplicaEnd;
  /** Exit status when the process exited; null when it died of a signal or was lost. */
  exitCode: number | null;
  /** Signal name ("SIGKILL") when it died of one. */
  signal: string | null;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  /** Detail for humans: why it was lost, or why it could not start. */
  message?: string;
  /**
   * The runtime is certain the workload never ran: the control plane that launched the replica ended
   * before the replica started, and the runtime made sure it never will. A job whose start was not yet
   * recorded then goes back to the queue at no retry cost.
   */
  neverStarted?: boolean;
}

export interface Endpoint {
  host: string;
  port: number;
}

export interface ReplicaHandle {
  replicaId: string;
  /** Backend detail for operators: host pid (local), Slurm job id, Pod name. */
  pid?: number | null;
  externalId?: string;
  /** The node it runs on, when known. */
  node?: string;
  startedAt: string;
  /** Where the replica's `ports` are reachable, by name. */
  endpoints?: Record<string, Endpoint>;
  /** Settles once, when the replica has ended and every process of it is gone. */
  exited: Promise<ReplicaExit>;
}

export type ReplicaState = "starting" | "running" | "exited" | "lost";

/** What a runtime knows about a replica, also one started by an earlier control-plane process. */
export interface ReplicaStatus {
  replicaId: string;
  jobId: string;
  attempt: number;
  replicaIndex: number;
  state: ReplicaState;
  pid?: number;
  externalId?: string;
  node?: string;
  startedAt?: string;
  endpoints?: Record<string, Endpoint>;
  exit?: ReplicaExit;
}

export interface LogChunk {
  stream: "stdout" | "stderr";
  data: Buffer;
}

export interface LogOptions {
  /** Keep streaming until the replica has ended (default false: what is there now). */
  follow?: boolean;
  /** Byte offsets to start from, per stream (resuming a stream). */
  from?: { stdout?: number; stderr?: number };
  signal?: AbortSignal;
}

/** A replica's resource use, sampled by the runtime; fields it cannot measure are absent. */
export interface ReplicaUsage {
  /** CPU use over the last sample interval, in cores (1.5 = one and a half cores busy). */
  cpuCores?: number;
  /** Resident memory of all its processes. */
  memoryBytes?: number;
  /** Per device, where nvidia-smi (or the cluster) reports it. */
  gpus?: Array<{ index: number; utilizationPercent: number; memoryUsedMiB: number }>;
  sampledAt: string;
}

export interface RuntimeDescription {
  name: "local" | "slurm" | "kubernetes";
  /**
   * "bubblewrap": jobs run isolated; "none": the operator turned the sandbox off (MLOPS_SANDBOX=none),
   * jobs run unisolated; "unavailable": a sandbox is required but does not work here, so no job runs;
   * "cluster": isolation is the cluster's (containers, cgroups, the cluster's users).
   */
  sandbox: "bubblewrap" | "none" | "unavailable" | "cluster";
  /** Why there is no sandbox (missing binary, probe failure, disabled by config). */
  sandboxReason?: string;
  /** cgroup (memory + pids), else RLIMIT_AS (CPU replicas) / RLIMIT_DATA (GPU replicas) + RLIMIT_NPROC. */
  memoryLimit: "cgroup" | "rlimit" | "none" | "cluster";
  memoryLimitReason?: string;
  /** "platform": the platform's scheduler picks nodes and devices; "cluster": the cluster does. */
  placement: "platform" | "cluster";
}

export interface Runtime {
  describe(): RuntimeDescription;
  /** Resolves once the replica's process runs. */
  start(spec: ReplicaSpec): Promise<ReplicaHandle>;
  /**
   * Starts the replicas of one gang (same job and attempt) together: all run, or none does (those
   * already started are stopped before the error propagates). The runtime reserves the rendezvous
   * (MASTER_ADDR/MASTER_PORT) for specs that carry `rank`.
   */
  startGang(specs: readonly ReplicaSpec[]): Promise<ReplicaHandle[]>;
  /** Waits for a replica's end, whether this process or an earlier one started it. */
  wait(replicaId: string): Promise<ReplicaExit>;
  /** SIGTERM to the replica's processes, SIGKILL after graceMs; resolves with its exit. */
  stop(replicaId: string, options?: { graceMs?: number }): Promise<ReplicaExit>;
  /** Live (follow) or stored log chunks of both streams. */
  logs(replicaId: string, options?: LogOptions): AsyncIterable<LogChunk>;
  /** The complete logs of a replica (ended, or so far), e.g. to copy into the artifact store. */
  logArchive(replicaId: string): Promise<{ stdout: Readable; stderr: Readable }>;
  /** Latest resource sample of a running replica; null when it is not running or nothing is measured. */
  usage(replicaId: string): Promise<ReplicaUsage | null>;
  /**
   * Every replica this runtime's state knows, including those started by an earlier control-plane
   * process: running, finished (with exit code), or lost (its processes vanished without a record).
   */
  reconcile(): Promise<ReplicaStatus[]>;
  /** Forgets a finished replica's state (its logs stay until the archive was taken). */
  remove(replicaId: string): Promise<void>;
  /** The job is over: its working directory (code, outputs, checkpoints) goes. Idempotent. */
  removeJobFiles(jobId: string): Promise<void>;
  /** Deletes a persistent volume (a workspace's home). Idempotent; refused while a replica uses it. */
  deleteVolume(name: string): Promise<void>;
  /** Stops watching; running replicas keep running. */
  close(): Promise<void>;
}

const ID_PART = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** `<jobId>.a<attempt>.r<replicaIndex>`: unique per try, safe as a file name and a Kubernetes name part. */
export function replicaIdOf(spec: Pick<ReplicaSpec, "jobId" | "attempt" | "replicaIndex">): string {
  if (!ID_PART.test(spec.jobId)) throw new InputError(`job id '${spec.jobId}' is not usable as a replica id`);
  if (!Number.isInteger(spec.attempt) || spec.attempt < 0)
    throw new InputError("attempt must be an integer >= 0");
  if (!Number.isInteger(spec.replicaIndex) || spec.replicaIndex < 0) {
    throw new InputError("replicaIndex must be an integer >= 0");
  }
  return `${spec.jobId}.a${spec.attempt}.r${spec.replicaIndex}`;
}

export function parseReplicaId(
  replicaId: string,
): { jobId: string; attempt: number; replicaIndex: number } | null {
  const match = /^(.+)\.a(\d+)\.r(\d+)$/.exec(replicaId);
  if (!match || !ID_PART.test(match[1])) return null;
  return { jobId: match[1], attempt: Number(match[2]), replicaIndex: Number(match[3]) };
}

/**
 * The torchrun environment of one rank (docs/distributed-training.md). Every backend uses this, with the
 * rendezvous address it determined (local: 127.0.0.1 and a reserved port; Slurm: the allocation's
 * first node; Kubernetes: index 0's DNS name behind the headless Service).
 */
export function torchrunEnv(rank: RankLayout, master: Endpoint): Record<string, string> {
  return {
    RANK: String(rank.rank),
    LOCAL_RANK: String(rank.localRank),
    WORLD_SIZE: String(rank.worldSize),
    LOCAL_WORLD_SIZE: String(rank.localWorldSize),
    GROUP_RANK: String(rank.nodeRank),
    NODE_RANK: String(rank.nodeRank),
    ROLE_RANK: String(rank.rank),
    ROLE_WORLD_SIZE: String(rank.worldSize),
    MASTER_ADDR: master.host,
    MASTER_PORT: String(master.port),
    TORCHELASTIC_RUN_ID: "none",
  };
}

/** Env names the runtime owns; a job's `--env` may not set them (the API answers 400). */
export const RUNTIME_ENV = [
  "HOME",
  "MLOPS_WORK_DIR",
  "MLOPS_OUTPUT_DIR",
  "CUDA_VISIBLE_DEVICES",
  "RANK",
  "LOCAL_RANK",
  "WORLD_SIZE",
  "LOCAL_WORLD_SIZE",
  "GROUP_RANK",
  "NODE_RANK",
  "MASTER_ADDR",
  "MASTER_PORT",
] as const;

/** Lists the problems of a gang (same job and attempt, distinct indices 0..n-1); empty when fine. */
export function gangProblems(specs: readonly ReplicaSpec[]): string[] {
  const problems: string[] = [];
  if (specs.length === 0) return ["a gang needs at least one replica"];
  const { jobId, attempt } = specs[0];
  const indices = new Set<number>();
  for (const spec of specs) {
    if (spec.jobId !== jobId || spec.attempt !== attempt)
      problems.push("all replicas of a gang share job and attempt");
    if (indices.has(spec.replicaIndex)) problems.push(`replica index ${spec.replicaIndex} appears twice`);
    indices.add(spec.replicaIndex);
  }
  for (let index = 0; index < specs.length; index++) {
    if (!indices.has(index)) problems.push(`replica index ${index} is missing`);
  }
  return [...new Set(problems)];
}
