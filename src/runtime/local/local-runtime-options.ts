import path from "node:path";
import type { ArtifactStore } from "../../artifacts/artifact-store.js";
import { findOnPath, LAUNCHER_ENV } from "./sandbox.js";

export interface LocalRuntimeOptions {
  /** Per-replica records (survives restarts; keep it on local disk, out of every job's reach). */
  stateDir: string;
  /** stdout/stderr files, `<logDir>/<replicaId>.stdout.log`. */
  logDir: string;
  /** Root of the jobs' working directories, `<jobsDir>/<jobId>/` (hidden from every other job). */
  jobsDir: string;
  /** Root of the persistent volumes, `<volumesDir>/<name>/`. */
  volumesDir: string;
  /** Where code archives (spec.codeDigest) come from. */
  artifacts?: ArtifactStore;
  /** The interpreter `python`/`python3` commands mean (null: leave them to PATH). */
  python?: () => Promise<string | null>;
  /** The Python SDK's directory, put first on PYTHONPATH (bind it read-only via readOnlyPaths). */
  sdkPythonDir?: string;
  /** Host name in endpoints (default 127.0.0.1). */
  endpointHost?: string;
  /** nvidia-smi for GPU usage samples (default: looked up on PATH; missing: no GPU samples). */
  nvidiaSmiPath?: string;
  /**
   * "bubblewrap" (default): every replica runs sandboxed; where bubblewrap does not work, the runtime
   * refuses to start replicas (fail closed). "none": no isolation, the operator's explicit choice.
   */
  sandbox?: "bubblewrap" | "none";
  /** bubblewrap; default: `bwrap` looked up on searchPath. */
  bwrapPath?: string;
  /** Where `bwrap` is looked up when bwrapPath is unset (default: the system directories). */
  searchPath?: string;
  prlimitPath?: string;
  /** Node binary that runs the supervisors (default: this process's). */
  nodePath?: string;
  /** Paths no job may see: the platform's data dir, the jobs root. State and log dirs are always hidden. */
  hiddenPaths?: string[];
  /** Extra read-only paths inside the sandbox (e.g. a virtualenv outside /usr). */
  readOnlyPaths?: string[];
  /** SIGTERM -> SIGKILL grace for timeouts and stops (default 10 s). */
  defaultGraceMs?: number;
  /** The same for kind "workspace" (default 30 s: editors and shells get to save). */
  workspaceGraceMs?: number;
  /** How often replicas started by an earlier process, and followed logs, are polled (default 200 ms). */
  pollIntervalMs?: number;
  /** Use cgroups for memory and process limits where writable (default true; false: rlimits only). */
  cgroups?: boolean;
  /** cgroup root to look under (tests). */
  cgroupRoot?: string;
  /** Most processes/threads per replica (cgroup pids.max, or RLIMIT_NPROC of the workload uid). */
  maxProcesses?: number;
  /** Largest private /tmp (and /dev/shm) per replica; each is min(this, the replica's memory). */
  maxTmpMiB?: number;
}

export type ResolvedOptions = Required<
  Omit<
    LocalRuntimeOptions,
    "sandbox" | "cgroups" | "cgroupRoot" | "searchPath" | "artifacts" | "python" | "sdkPythonDir"
  >
> &
  Pick<LocalRuntimeOptions, "python" | "sdkPythonDir">;

export function resolveOptions(options: LocalRuntimeOptions): ResolvedOptions {
  return {
    stateDir: path.resolve(options.stateDir),
    logDir: path.resolve(options.logDir),
    jobsDir: path.resolve(options.jobsDir),
    volumesDir: path.resolve(options.volumesDir),
    python: options.python,
    sdkPythonDir: options.sdkPythonDir,
    endpointHost: options.endpointHost ?? "127.0.0.1",
    nvidiaSmiPath: options.nvidiaSmiPath ?? findOnPath("nvidia-smi", options.searchPath ?? LAUNCHER_ENV.PATH),
    bwrapPath: options.bwrapPath ?? findOnPath("bwrap", options.searchPath ?? LAUNCHER_ENV.PATH),
    prlimitPath: options.prlimitPath ?? "/usr/bin/prlimit",
    nodePath: options.nodePath ?? process.execPath,
    hiddenPaths: (options.hiddenPaths ?? []).map((hidden) => path.resolve(hidden)),
    readOnlyPaths: options.readOnlyPaths ?? [],
    defaultGraceMs: options.defaultGraceMs ?? 10_000,
    workspaceGraceMs: options.workspaceGraceMs ?? 30_000,
    pollIntervalMs: options.pollIntervalMs ?? 200,
    maxProcesses: options.maxProcesses ?? 4096,
    maxTmpMiB: options.maxTmpMiB ?? 4096,
  };
}
