import type { ApiClient } from "../client.js";
import { emit, printKeyValues, printTable } from "../output.js";

/** Human output of the jobs commands. */
export interface JobOutput {
  id: string;
  name: string;
  state: string;
  stateReason: string;
  attempt: number;
  maxRetries: number;
  resources: { cpu: number; memoryMiB: number; gpus: number; gpuType?: string };
  replicas?: number;
  distributed?: { nodes: number; procsPerNode: number };
  command: string[];
  runId?: string;
  experimentId?: string;
  codeDigest?: string;
  createdBy?: string;
  submittedAt: string;
  startedAt?: string;
  finishedAt?: string;
  timeoutSeconds: number | null;
}

export interface ReplicaOutput {
  attempt: number;
  replicaIndex: number;
  nodeId?: string;
  gpuUuids: string[];
  state: string;
  pid: number | null;
  end: string | null;
  exitCode: number | null;
  signal: string | null;
  usage?: {
    cpuCores?: number;
    memoryBytes?: number;
    gpus?: Array<{ index: number; utilizationPercent: number; memoryUsedMiB: number }>;
  };
}

export function printJob(
  job: JobOutput,
  replicas: ReplicaOutput[],
  events: Array<Record<string, unknown>>,
): void {
  printKeyValues({
    id: job.id,
    name: job.name,
    state: job.state,
    reason: job.stateReason,
    command: job.command.join(" "),
    resources: `${job.resources.gpus} GPU${job.resources.gpuType ? ` (${job.resources.gpuType})` : ""}, ${job.resources.cpu} CPU, ${job.resources.memoryMiB} MiB${job.distributed ? " per node" : ""}`,
    ...(job.distributed
      ? {
          ranks: `${job.distributed.nodes} node(s) x ${job.distributed.procsPerNode} = ${job.distributed.nodes * job.distributed.procsPerNode}`,
        }
      : {}),
    attempt: `${job.attempt} (max retries ${job.maxRetries})`,
    timeout: job.timeoutSeconds === null ? "none" : `${job.timeoutSeconds} s`,
    run: job.runId,
    experiment: job.experimentId,
    code: job.codeDigest,
    by: job.createdBy,
    submitted: job.submittedAt,
    started: job.startedAt,
    finished: job.finishedAt,
  });
  process.stdout.write("\nranks:\n");
  printTable(replicas.map(rankRow));
  process.stdout.write("\nevents:\n");
  printEvents(events);
}

/** One rank of one attempt: where, how it is or how it ended, and what it uses now. */
export function rankRow(r: ReplicaOutput): Record<string, unknown> {
  const gpuUse = r.usage?.gpus?.map((g) => `${g.utilizationPercent}%`).join(",");
  return {
    attempt: r.attempt,
    rank: r.replicaIndex,
    node: r.nodeId,
    state: r.state,
    gpus: r.gpuUuids.join(",") || "-",
    pid: r.pid,
    exit: r.signal ?? (r.exitCode === null ? (r.end ?? null) : r.exitCode),
    cpu: r.usage?.cpuCores !== undefined ? r.usage.cpuCores.toFixed(2) : null,
    memory: r.usage?.memoryBytes !== undefined ? formatBytes(r.usage.memoryBytes) : null,
    "gpu util": gpuUse || null,
  };
}

export function printEvents(events: Array<Record<string, unknown>>): void {
  printTable(
    events.map((e) => ({
      at: e.at,
      from: e.from,
      to: e.to,
      attempt: e.attempt,
      by: e.actor,
      reason: e.reason,
    })),
  );
}

interface GpuView {
  source: string;
  devices: Array<{
    index: number;
    uuid: string;
    type: string;
    name?: string;
    simulated: boolean;
    heldBy: { jobId: string; jobName: string } | { otherProject: true } | null;
  }>;
  nodes: Array<{ id: string; cpu: number; memoryMiB: number; cpuHeld: number; memoryMiBHeld: number }>;
  runtime: { sandbox: string; sandboxReason?: string; memoryLimit: string; memoryLimitReason?: string };
}

export async function printGpus(client: ApiClient, opts: { json?: boolean }): Promise<void> {
  const view = await client.get<GpuView>("/api/v1/gpus");
  emit(opts, view, () => {
    const source = {
      detected: "detected with nvidia-smi",
      declared: "declared in config (simulated)",
      none: "none",
    };
    process.stdout.write(`GPUs: ${source[view.source as keyof typeof source] ?? view.source}\n`);
    printTable(
      view.devices.map((d) => ({
        index: d.index,
        type: d.type,
        uuid: d.uuid,
        simulated: d.simulated ? "yes" : "no",
        job: !d.heldBy
          ? "free"
          : "jobId" in d.heldBy
            ? `${d.heldBy.jobId} (${d.heldBy.jobName.slice(0, 30)})`
            : "(a job of another project)",
      })),
    );
    for (const node of view.nodes) {
      process.stdout.write(
        `node ${node.id}: CPU ${node.cpuHeld}/${node.cpu} held, memory ${node.memoryMiBHeld}/${node.memoryMiB} MiB held\n`,
      );
    }
    const reason = view.runtime.sandboxReason ?? "unknown";
    const sandbox =
      view.runtime.sandbox === "none"
        ? `NONE — WARNING: jobs are NOT isolated (${reason})`
        : view.runtime.sandbox === "unavailable"
          ? `UNAVAILABLE — WARNING: no job will run until it is fixed (${reason})`
          : view.runtime.sandbox;
    process.stdout.write(`sandbox: ${sandbox}\n`);
    const memory =
      view.runtime.memoryLimit === "none"
        ? `none (${view.runtime.memoryLimitReason ?? ""})`
        : view.runtime.memoryLimit;
    process.stdout.write(`memory limit: ${memory}\n`);
  });
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}
