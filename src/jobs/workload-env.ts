import { cudaVisibleDevices, type GpuDevice } from "./gpu-inventory.js";
import type { Job } from "./job.js";

/**
 * The workload environment contract (docs/jobs-and-workloads.md): what every replica of a job is told. The user's `--env`
 * values come first and the platform's names override them, so a job cannot pretend to be another job
 * or run (its token is scoped anyway) nor widen its GPUs.
 */
export interface WorkloadEnvInput {
  job: Job;
  replicaIndex: number;
  /** URL the workload reaches the control plane at (native API and MLflow API share it). */
  apiUrl: string;
  /** The job's workload token (scoped to its project, job and run). */
  token: string;
  outputDir: string;
  /** The replica's devices; CUDA_VISIBLE_DEVICES names exactly these (empty: no GPU visible). */
  gpus: readonly GpuDevice[];
  /** Directory holding the `mlops_sdk` package, put first on PYTHONPATH. */
  sdkPythonDir?: string;
  /** The job's write-only values (`secretEnv`, docs/security.md), merged like `env`. */
  secretEnv?: Readonly<Record<string, string>>;
}

/** Names the platform sets; `--env` may not override them. */
export const RESERVED_ENV = [
  "MLOPS_API_URL",
  "MLOPS_TOKEN",
  "MLOPS_JOB_ID",
  "MLOPS_RUN_ID",
  "MLOPS_OUTPUT_DIR",
  "MLOPS_ATTEMPT",
  "MLOPS_REPLICA_INDEX",
  "MLFLOW_TRACKING_URI",
  "MLFLOW_TRACKING_TOKEN",
  "MLFLOW_RUN_ID",
  "MLFLOW_EXPERIMENT_ID",
  "CUDA_VISIBLE_DEVICES",
] as const;

export function workloadEnv(input: WorkloadEnvInput): Record<string, string> {
  const { job } = input;
  const env: Record<string, string> = { ...job.env, ...input.secretEnv };
  const pythonPath = [input.sdkPythonDir, job.env.PYTHONPATH].filter((part): part is string => !!part);
  if (pythonPath.length > 0) env.PYTHONPATH = pythonPath.join(":");
  // Python buffers stdout when it is not a terminal; unbuffered output is what makes `logs -f` live.
  env.PYTHONUNBUFFERED ??= "1";
  Object.assign(env, {
    MLOPS_API_URL: input.apiUrl,
    MLOPS_TOKEN: input.token,
    MLOPS_JOB_ID: job.id,
    MLOPS_OUTPUT_DIR: input.outputDir,
    MLOPS_ATTEMPT: String(job.attempt),
    MLOPS_REPLICA_INDEX: String(input.replicaIndex),
    MLFLOW_TRACKING_URI: input.apiUrl,
    MLFLOW_TRACKING_TOKEN: input.token,
    CUDA_VISIBLE_DEVICES: cudaVisibleDevices(input.gpus),
  });
  if (job.runId) {
    env.MLOPS_RUN_ID = job.runId;
    env.MLFLOW_RUN_ID = job.runId;
  }
  if (job.experimentId) env.MLFLOW_EXPERIMENT_ID = job.experimentId;
  return env;
}

/** Refuses `--env` names the platform owns (a clear 400 rather than a silently ignored value). */
export function reservedEnvNames(env: Record<string, string>): string[] {
  const reserved = new Set<string>(RESERVED_ENV);
  return Object.keys(env).filter((name) => reserved.has(name));
}

/**
 * `python`/`python3` as the program means "the platform's Python" (configured, or the first one found
 * that can import torch): users write `-- python train.py` and need not know where torch is installed.
 * Any other program, or an explicit path such as `/usr/bin/python3.11`, runs as given.
 */
export function resolveCommand(command: readonly string[], python: string | null): string[] {
  const [program, ...rest] = command;
  if (python !== null && (program === "python" || program === "python3")) return [python, ...rest];
  return [...command];
}
