import { RUNTIME_ENV } from "../runtime/runtime.js";
import type { Job } from "./job.js";

/**
 * The workload environment contract (docs/jobs-and-workloads.md): what the platform tells every replica
 * of a job. The user's `--env` values come first and the platform's names override them, so a job cannot
 * pretend to be another job or run (its token is scoped anyway). The runtime adds its own names on top
 * (RUNTIME_ENV in src/runtime/runtime.ts: HOME, MLOPS_WORK_DIR, MLOPS_OUTPUT_DIR, CUDA_VISIBLE_DEVICES and
 * the torchrun names), and puts the SDK on PYTHONPATH where it runs `python`.
 */
export interface WorkloadEnvInput {
  job: Job;
  /** The replica's index: its global rank in a distributed job. */
  replicaIndex: number;
  /** URL the workload reaches the control plane at (native API and MLflow API share it). */
  apiUrl: string;
  /** The job's workload token (scoped to its project, job and run). */
  token: string;
  /** The job's write-only values (`secretEnv`, docs/security.md), merged like `env`. */
  secretEnv?: Readonly<Record<string, string>>;
}

/** Names the platform sets here. */
const PLATFORM_ENV = [
  "MLOPS_API_URL",
  "MLOPS_TOKEN",
  "MLOPS_JOB_ID",
  "MLOPS_RUN_ID",
  "MLOPS_ATTEMPT",
  "MLOPS_REPLICA_INDEX",
  "MLFLOW_TRACKING_URI",
  "MLFLOW_TRACKING_TOKEN",
  "MLFLOW_RUN_ID",
  "MLFLOW_EXPERIMENT_ID",
] as const;

/** Names `--env` may not set: the platform's and the runtime's (a clear 400, not a silent override). */
export const RESERVED_ENV: readonly string[] = [...PLATFORM_ENV, ...RUNTIME_ENV];

export function workloadEnv(input: WorkloadEnvInput): Record<string, string> {
  const { job } = input;
  const env: Record<string, string> = { ...job.env, ...input.secretEnv };
  // Python buffers stdout when it is not a terminal; unbuffered output is what makes `logs -f` live.
  env.PYTHONUNBUFFERED ??= "1";
  Object.assign(env, {
    MLOPS_API_URL: input.apiUrl,
    MLOPS_TOKEN: input.token,
    MLOPS_JOB_ID: job.id,
    MLOPS_ATTEMPT: String(job.attempt),
    MLOPS_REPLICA_INDEX: String(input.replicaIndex),
    MLFLOW_TRACKING_URI: input.apiUrl,
    MLFLOW_TRACKING_TOKEN: input.token,
  });
  if (job.runId) {
    env.MLOPS_RUN_ID = job.runId;
    env.MLFLOW_RUN_ID = job.runId;
  }
  if (job.experimentId) env.MLFLOW_EXPERIMENT_ID = job.experimentId;
  return env;
}

/** Refuses `--env` names the platform or the runtime owns. */
export function reservedEnvNames(env: Record<string, string>): string[] {
  const reserved = new Set<string>(RESERVED_ENV);
  return Object.keys(env).filter((name) => reserved.has(name));
}
