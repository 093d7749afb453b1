import { InputError } from "../errors.js";
import { parsePlan } from "../serving/deployments/analysis-plan.js";
import type { AnalysisPlan } from "../serving/deployments/deployment.js";

/**
 * A retrain policy (docs/sequence/model-lifecycle.md): per registered model, which dataset feeds it, how many new or changed labels
 * make a retrain worth it, how long to wait between two retrains, what training job to run and whether the
 * candidate goes to a canary on the model's deployment by itself.
 */
export interface JobTemplate {
  /** argv of the training command, run in the job's directory (the code archive unpacked). */
  command: string[];
  /** sha256 of a code archive (`POST /api/v1/jobs/code`); unset = the bundled vision-classifier example. */
  codeDigest?: string;
  gpus: number;
  gpuType?: string;
  cpu: number;
  memoryMiB: number;
  env: Record<string, string>;
  timeoutSeconds: number | null;
  maxRetries: number;
}

export interface RetrainPolicy {
  id: string;
  projectId: string;
  modelId: string;
  modelName: string;
  datasetId: string;
  datasetName: string;
  minNewLabels: number;
  cooldownSeconds: number;
  /**
   * Quiet period: the trigger fires only once no label has changed for this long and no bulk import is open,
   * so a retrain never snapshots half an import. Bounded by MAX_SETTLE_FACTOR so steady labeling still fires.
   */
  settleSeconds: number;
  /** When the trigger first saw the threshold met; null while below it (set by the trigger only). */
  thresholdMetAt: number | null;
  job: JobTemplate;
  autoDeploy: boolean;
  /** The deployment a candidate is canaried on (autoDeploy); default: the model's name. */
  deployment: string | null;
  /** Canary analysis plan overrides (the pipeline always runs it with `auto: true`). */
  canaryPlan: Partial<AnalysisPlan> | null;
  paused: boolean;
  /** How many times the trigger fired; the next firing claims `triggerSeq + 1` (unique per policy). */
  triggerSeq: number;
  lastFiredAt: number | null;
  /** The user the training jobs run as (their workload tokens are issued to this user). */
  ownerId: string;
  createdAt: number;
  updatedAt: number;
  createdBy: string;
  updatedBy: string;
}

/**
 * The default training job: the bundled example fine-tunes from the current production version
 * (`MLOPS_BASE_MODEL`, read by `--init-from`'s default) on the pipeline's snapshot (`MLOPS_DATASET_SNAPSHOT`,
 * read by `--snapshot`'s default): train + val splits only, never holdout.
 */
export const DEFAULT_TRAIN_COMMAND: readonly string[] = [
  "python",
  "train.py",
  "--epochs",
  "8",
  "--keep-best",
];

export const POLICY_DEFAULTS = {
  cooldownSeconds: 300,
  settleSeconds: 10,
  cpu: 1,
  memoryMiB: 2048,
  gpus: 0,
  timeoutSeconds: 3600,
  maxRetries: 1,
} as const;

/** What a client sends to create or replace a policy (everything but dataset and threshold has a default). */
export interface PolicyInput {
  dataset: string;
  minNewLabels: number;
  cooldownSeconds?: number;
  settleSeconds?: number;
  command?: string[];
  codeDigest?: string;
  gpus?: number;
  gpuType?: string;
  cpu?: number;
  memoryMiB?: number;
  env?: Record<string, string>;
  timeoutSeconds?: number | null;
  maxRetries?: number;
  autoDeploy?: boolean;
  deployment?: string | null;
  canaryPlan?: Partial<AnalysisPlan> | null;
  paused?: boolean;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SHA256 = /^[0-9a-f]{64}$/;

function integer(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new InputError(`${name} must be an integer between ${min} and ${max}`);
  }
  return value;
}

/** Validates a policy request and fills defaults; the services resolve model and dataset names. */
export function parsePolicyInput(
  input: PolicyInput,
): Omit<
  RetrainPolicy,
  | "id"
  | "projectId"
  | "modelId"
  | "modelName"
  | "datasetId"
  | "datasetName"
  | "triggerSeq"
  | "lastFiredAt"
  | "thresholdMetAt"
  | "ownerId"
  | "createdAt"
  | "updatedAt"
  | "createdBy"
  | "updatedBy"
> {
  const minNewLabels = integer(input.minNewLabels, "minNewLabels", 1, 100_000_000);
  const cooldownSeconds = integer(
    input.cooldownSeconds ?? POLICY_DEFAULTS.cooldownSeconds,
    "cooldownSeconds",
    0,
    365 * 24 * 3600,
  );
  const settleSeconds = integer(
    input.settleSeconds ?? POLICY_DEFAULTS.settleSeconds,
    "settleSeconds",
    0,
    24 * 3600,
  );
  const command = input.command && input.command.length > 0 ? input.command : [...DEFAULT_TRAIN_COMMAND];
  if (command.some((part) => typeof part !== "string") || command[0] === "") {
    throw new InputError("command must be a list of strings with a non-empty program");
  }
  const env = input.env ?? {};
  for (const [key, value] of Object.entries(env)) {
    if (!ENV_NAME.test(key)) throw new InputError(`invalid environment variable name '${key}'`);
    if (typeof value !== "string") throw new InputError(`environment variable ${key} must be a string`);
  }
  const codeDigest = input.codeDigest?.toLowerCase();
  if (codeDigest !== undefined && !SHA256.test(codeDigest)) {
    throw new InputError("codeDigest must be a sha256 hex digest of an uploaded code archive");
  }
  const cpu = input.cpu ?? POLICY_DEFAULTS.cpu;
  if (typeof cpu !== "number" || !Number.isFinite(cpu) || cpu <= 0 || cpu > 4096) {
    throw new InputError("cpu must be a positive number of cores");
  }
  const timeoutSeconds =
    input.timeoutSeconds === null
      ? null
      : integer(input.timeoutSeconds ?? POLICY_DEFAULTS.timeoutSeconds, "timeoutSeconds", 1, 7 * 24 * 3600);
  const deployment = input.deployment?.trim() || null;
  // Checked now (InputError names the field) rather than when a canary starts hours later.
  if (input.canaryPlan) parsePlan({ ...input.canaryPlan, auto: true });
  const autoDeploy = input.autoDeploy ?? false;
  return {
    minNewLabels,
    cooldownSeconds,
    settleSeconds,
    job: {
      command: [...command],
      ...(codeDigest ? { codeDigest } : {}),
      gpus: integer(input.gpus ?? POLICY_DEFAULTS.gpus, "gpus", 0, 1024),
      ...(input.gpuType ? { gpuType: input.gpuType } : {}),
      cpu,
      memoryMiB: integer(input.memoryMiB ?? POLICY_DEFAULTS.memoryMiB, "memoryMiB", 64, 64 * 1024 * 1024),
      env: { ...env },
      timeoutSeconds,
      maxRetries: integer(input.maxRetries ?? POLICY_DEFAULTS.maxRetries, "maxRetries", 0, 100),
    },
    autoDeploy,
    deployment,
    canaryPlan: input.canaryPlan ?? null,
    paused: input.paused ?? false,
  };
}

/** The deployment a policy canaries on: the configured one, else the model's name as a deployment name. */
export function deploymentOf(policy: Pick<RetrainPolicy, "deployment" | "modelName">): string {
  return policy.deployment ?? policy.modelName.toLowerCase().replace(/[^a-z0-9._-]/g, "-");
}
