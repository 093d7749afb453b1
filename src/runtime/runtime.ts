import { InputError } from "../errors.js";

/**
 * Where workloads run. A runtime starts, watches, stops and streams the logs of *replicas*: one
 * process (tree) of a job. A job with N replicas is N start() calls made together after the scheduler has
 * placed all of them. Implementations: local/ (process groups, bubblewrap); kubernetes/ later (Pods).
 */
export interface ReplicaSpec {
  jobId: string;
  /** The job's attempt (retries start fresh replicas with their own logs). */
  attempt: number;
  replicaIndex: number;
  command: string[];
  /** The complete environment of the workload; nothing of the control plane's own leaks in. */
  env: Record<string, string>;
  /** The job's own directory: the working directory, and the only writable place besides a private /tmp. */
  workDir: string;
  /** Driver indices of the assigned GPUs: the device nodes made visible. CUDA_VISIBLE_DEVICES is in env. */
  gpuDeviceIndices: number[];
  memoryMiB: number;
  cpu?: number;
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
}

export interface ReplicaHandle {
  replicaId: string;
  /** Host pid of the replica's process-group leader; null when the command could not be started at all. */
  pid: number | null;
  startedAt: string;
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
  startedAt?: string;
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

export interface RuntimeDescription {
  name: string;
  /**
   * "bubblewrap": jobs run isolated; "none": the operator turned the sandbox off (MLOPS_SANDBOX=none),
   * jobs run unisolated; "unavailable": a sandbox is required but does not work here, so no job runs.
   */
  sandbox: "bubblewrap" | "none" | "unavailable";
  /** Why there is no sandbox (missing binary, probe failure, disabled by config). */
  sandboxReason?: string;
  /** cgroup (memory + pids), else RLIMIT_AS (CPU replicas) / RLIMIT_DATA (GPU replicas) + RLIMIT_NPROC. */
  memoryLimit: "cgroup" | "rlimit" | "none";
  memoryLimitReason?: string;
}

export interface Runtime {
  describe(): RuntimeDescription;
  /** Resolves once the replica's process runs. */
  start(spec: ReplicaSpec): Promise<ReplicaHandle>;
  /** Waits for a replica's end, whether this process or an earlier one started it. */
  wait(replicaId: string): Promise<ReplicaExit>;
  /** SIGTERM to the replica's processes, SIGKILL after graceMs; resolves with its exit. */
  stop(replicaId: string, options?: { graceMs?: number }): Promise<ReplicaExit>;
  /** Live (follow) or stored log chunks of both streams. */
  logs(replicaId: string, options?: LogOptions): AsyncIterable<LogChunk>;
  /** Paths of the complete log files, e.g. to copy into the artifact store when the replica ends. */
  logFiles(replicaId: string): { stdout: string; stderr: string };
  /**
   * Every replica this runtime's state knows, including those started by an earlier control-plane
   * process: running, finished (with exit code), or lost (its processes vanished without a record).
   */
  reconcile(): Promise<ReplicaStatus[]>;
  /** Forgets a finished replica's state (its logs stay). */
  remove(replicaId: string): Promise<void>;
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
