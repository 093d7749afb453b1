import { InputError } from "../../errors.js";
import type { ReplicaSpec } from "../runtime.js";

/**
 * How one gang becomes one Slurm allocation (docs/architecture/slurm.md): the sbatch options and the
 * batch script, which starts one srun task per rank under the rank wrapper. Pure: no I/O.
 */
export interface SbatchPlanInput {
  /** The gang's specs, ordered by replicaIndex; srun task i runs replicaIds[i]. */
  specs: readonly ReplicaSpec[];
  replicaIds: readonly string[];
  partition?: string;
  account?: string;
  /** sbatch --uid/--gid (the submitter must be root or SlurmUser). */
  jobUser?: { uid: number; gid: number };
  /** Interpreter on the nodes that runs the rank wrapper. */
  python: string;
  wrapperPath: string;
  /** Where each replica's run dir (task.json, records) lies, on the shared work dir. */
  runsDir: string;
  /** The job's working directory (cwd of the batch script). */
  jobDir: string;
  /** The batch script's own output. */
  batchOutput: string;
  /** scontrol as called on the nodes. */
  scontrol: string;
  /** PATH of the batch script. */
  path: string;
  graceMs: number;
}

export interface SbatchPlan {
  args: string[];
  script: string;
  nodes: number;
  tasksPerNode: number;
}

/** Seconds added to the Slurm time limit beyond the job's own timeout + grace (the wrapper enforces those). */
export const TIME_LIMIT_SLACK_SECONDS = 60;

export function planSbatch(input: SbatchPlanInput): SbatchPlan {
  const { specs } = input;
  if (specs.length === 0) throw new InputError("a gang needs at least one replica");
  const first = specs[0];
  const nodes = first.rank?.nodes ?? 1;
  const tasksPerNode = first.rank?.localWorldSize ?? specs.length;
  if (nodes * tasksPerNode !== specs.length) {
    throw new InputError(
      `rank layout ${nodes} node(s) x ${tasksPerNode} per node does not match ${specs.length} replicas`,
    );
  }
  for (const spec of specs) {
    const r = spec.resources;
    if (r.gpus !== first.resources.gpus || r.gpuType !== first.resources.gpuType) {
      throw new InputError("all ranks of a gang need the same GPUs");
    }
    if (!Number.isInteger(r.gpus) || r.gpus < 0) throw new InputError("gpus must be an integer >= 0");
    if (!(r.cpu > 0) || !(r.memoryMiB > 0)) throw new InputError("cpu and memoryMiB must be positive");
  }
  const gpusPerNode = first.resources.gpus * tasksPerNode;
  const cpusPerTask = Math.max(1, Math.ceil(Math.max(...specs.map((s) => s.resources.cpu))));
  const memPerNode = Math.ceil(Math.max(...specs.map((s) => s.resources.memoryMiB))) * tasksPerNode;
  const timeouts = specs.map((s) => s.timeoutSeconds);
  const args = [
    `--job-name=mlops-${input.replicaIds[0].replace(/\.r\d+$/, "")}`.slice(0, 100),
    `--nodes=${nodes}`,
    `--ntasks-per-node=${tasksPerNode}`,
    `--ntasks=${specs.length}`,
    `--cpus-per-task=${cpusPerTask}`,
    `--mem=${memPerNode}M`,
    ...(gpusPerNode > 0
      ? [`--gres=gpu:${first.resources.gpuType ? `${first.resources.gpuType}:` : ""}${gpusPerNode}`]
      : []),
    ...(timeouts.every((t) => t !== null)
      ? [`--time=${timeLimitMinutes(Math.max(...(timeouts as number[])), input.graceMs)}`]
      : []),
    ...(input.partition ? [`--partition=${input.partition}`] : []),
    ...(input.account ? [`--account=${input.account}`] : []),
    ...(input.jobUser ? [`--uid=${input.jobUser.uid}`, `--gid=${input.jobUser.gid}`] : []),
    // Nothing of the control plane's environment goes to the job; the wrapper builds the job's env.
    "--export=NONE",
    `--chdir=${input.jobDir}`,
    `--output=${input.batchOutput}`,
    `--error=${input.batchOutput}`,
  ];
  const srun = [
    "srun",
    "--export=ALL",
    "--kill-on-bad-exit=0",
    `--nodes=${nodes}`,
    `--ntasks=${specs.length}`,
    `--ntasks-per-node=${tasksPerNode}`,
    `--cpus-per-task=${cpusPerTask}`,
    input.python,
    input.wrapperPath,
    input.runsDir,
    ...input.replicaIds,
  ];
  const script = [
    "#!/bin/bash",
    `# mlops-platform: ${specs.length} rank(s) of job ${first.jobId}, attempt ${first.attempt}`,
    `export PATH=${shellQuote(input.path)}`,
    // The torchrun rendezvous: the allocation's first node, a port derived from the Slurm job id so that
    // two jobs sharing a node do not collide (docs/architecture/slurm.md).
    `MLOPS_MASTER_ADDR=$(${shellQuote(input.scontrol)} show hostnames "$SLURM_JOB_NODELIST" | head -n1)`,
    "MLOPS_MASTER_PORT=$((20000 + SLURM_JOB_ID % 20000))",
    "export MLOPS_MASTER_ADDR MLOPS_MASTER_PORT",
    `exec ${srun.map(shellQuote).join(" ")}`,
    "",
  ].join("\n");
  return { args, script, nodes, tasksPerNode };
}

/** Slurm --time in whole minutes: the timeout plus the grace plus slack, so the wrapper ends it first. */
export function timeLimitMinutes(timeoutSeconds: number, graceMs: number): number {
  return Math.max(1, Math.ceil((timeoutSeconds + graceMs / 1000 + TIME_LIMIT_SLACK_SECONDS) / 60));
}

export function shellQuote(value: string): string {
  return /^[A-Za-z0-9_./:=,@%+-]+$/.test(value) ? value : `'${value.replace(/'/g, "'\\''")}'`;
}
