import { InputError } from "../errors.js";
import { type SchedulerNode, toMilli } from "./capacity-pool.js";
import { describeInventory } from "./gpu-inventory.js";
import { type JobResources, rankResources } from "./job.js";
import type { ProjectQuota } from "./quota-ledger.js";

export interface GangShapeInput {
  /** Gang nodes (default 1). */
  nodes?: number;
  /** Ranks per gang node (default 1). */
  procsPerNode?: number;
  quota?: ProjectQuota;
}

/**
 * Checks a request against the inventory at submit time. Refuses (400) what is a mistake whatever the
 * inventory's size: a GPU type that does not exist here, GPUs where there are none, more GPUs than the
 * project's quota allows at all. A request that is only too large for the current inventory (more GPUs,
 * CPU or memory on one node than any node has, a gang larger than all nodes together) is accepted and
 * waits: nodes can join a cluster. Returns that waiting reason, or null when the request fits.
 */
export function validateJobRequest(
  resources: JobResources,
  nodes: readonly SchedulerNode[],
  options: GangShapeInput = {},
): string | null {
  const gangNodes = options.nodes ?? 1;
  const procs = options.procsPerNode ?? 1;
  const devices = nodes.flatMap((node) => node.gpus);
  const type = resources.gpuType;
  const totalGpus = resources.gpus * gangNodes;
  if (resources.gpus > 0) {
    if (devices.length === 0) {
      throw new InputError(`the job asks for ${resources.gpus} GPU(s), but this platform has no GPUs`);
    }
    if (type !== undefined && !devices.some((device) => device.type === type)) {
      throw new InputError(`unknown GPU type '${type}'; available: ${describeInventory(devices)}`, {
        gpuType: type,
      });
    }
    const quota = options.quota;
    if (quota?.gpus !== undefined && totalGpus > quota.gpus) {
      throw new InputError(`the job asks for ${totalGpus} GPUs; the project's quota is ${quota.gpus}`);
    }
    const typeQuota = type !== undefined ? quota?.gpusByType?.[type] : undefined;
    if (typeQuota !== undefined && totalGpus > typeQuota) {
      throw new InputError(
        `the job asks for ${totalGpus} ${type} GPUs; the project's ${type} quota is ${typeQuota}`,
      );
    }
  }
  const shortfall = inventoryShortfall(resources, nodes, gangNodes, procs);
  return shortfall === null ? null : `cannot run on the current inventory: ${shortfall}`;
}

/** Why the gang could not run even with nothing else running, or null. */
function inventoryShortfall(
  resources: JobResources,
  nodes: readonly SchedulerNode[],
  gangNodes: number,
  procs: number,
): string | null {
  const type = resources.gpuType;
  const gpuLabel = type !== undefined ? `${type} GPUs` : "GPUs of one type";
  if (resources.gpus > 0) {
    const largest = Math.max(0, ...nodes.map((node) => largestCount(node, type)));
    if (largest < resources.gpus) {
      return `needs ${resources.gpus} ${gpuLabel} on one node, the largest node has ${largest}`;
    }
  }
  // What a gang node holds: its ranks' shares (see rankResources), as the scheduler counts it.
  const rank = rankResources(resources, procs);
  const cpuMilli = toMilli(rank.cpu) * procs;
  const memoryMiB = rank.memoryMiB * procs;
  const maxCpu = Math.max(0, ...nodes.map((node) => toMilli(node.cpu)));
  if (cpuMilli > maxCpu) {
    return `needs ${cpuMilli / 1000} CPU cores on one node, the largest node has ${maxCpu / 1000}`;
  }
  const maxMemory = Math.max(0, ...nodes.map((node) => node.memoryMiB));
  if (memoryMiB > maxMemory) {
    return `needs ${memoryMiB} MiB of memory on one node, the largest node has ${maxMemory} MiB`;
  }
  const fitting = nodes.reduce(
    (sum, node) => sum + gangNodesThatFit(node, resources, cpuMilli, memoryMiB),
    0,
  );
  if (fitting < gangNodes) {
    return `needs ${gangNodes} nodes of ${resources.gpus > 0 ? `${resources.gpus} ${gpuLabel}, ` : ""}${cpuMilli / 1000} CPU, ${memoryMiB} MiB at once, at most ${fitting} fit`;
  }
  return null;
}

function largestCount(node: SchedulerNode, type: string | undefined): number {
  const counts = new Map<string, number>();
  for (const device of node.gpus) counts.set(device.type, (counts.get(device.type) ?? 0) + 1);
  if (type !== undefined) return counts.get(type) ?? 0;
  return Math.max(0, ...counts.values());
}

function gangNodesThatFit(
  node: SchedulerNode,
  resources: JobResources,
  cpuMilli: number,
  memoryMiB: number,
): number {
  let fit = Math.min(Math.floor(toMilli(node.cpu) / cpuMilli), Math.floor(node.memoryMiB / memoryMiB));
  if (resources.gpus > 0) {
    const counts = new Map<string, number>();
    for (const device of node.gpus) counts.set(device.type, (counts.get(device.type) ?? 0) + 1);
    const usable =
      resources.gpuType !== undefined ? [counts.get(resources.gpuType) ?? 0] : [...counts.values()];
    fit = Math.min(
      fit,
      usable.reduce((sum, count) => sum + Math.floor(count / resources.gpus), 0),
    );
  }
  return fit;
}
