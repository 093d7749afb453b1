import { InputError } from "../errors.js";
import { toMilli, type SchedulerNode } from "./capacity-pool.js";
import { describeInventory } from "./gpu-inventory.js";
import type { JobResources } from "./job.js";
import type { ProjectQuota } from "./quota-ledger.js";

/**
 * Refuses at submit time (400) a request that could never run on this inventory, so that it does not
 * sit in the queue for ever: an unknown GPU type, more GPUs (per replica or in total) than exist, more
 * CPU or memory than a node has, or more GPUs than the project's quota allows at all.
 */
export function validateJobRequest(
  resources: JobResources,
  nodes: readonly SchedulerNode[],
  options: { replicas?: number; quota?: ProjectQuota } = {},
): void {
  const replicas = options.replicas ?? 1;
  const devices = nodes.flatMap((node) => node.gpus);
  if (resources.gpus > 0) {
    if (devices.length === 0) {
      throw new InputError(`the job asks for ${resources.gpus} GPU(s), but this platform has no GPUs`);
    }
    const type = resources.gpuType;
    if (type !== undefined && !devices.some((device) => device.type === type)) {
      throw new InputError(`unknown GPU type '${type}'; available: ${describeInventory(devices)}`, {
        gpuType: type,
      });
    }
    const perNode = nodes.map((node) => largestCount(node, type));
    const largest = Math.max(...perNode);
    if (largest < resources.gpus) {
      throw new InputError(
        `the job asks for ${resources.gpus} ${type !== undefined ? `${type} ` : ""}GPUs per replica, ` +
          `but no node has more than ${largest} (available: ${describeInventory(devices)})`,
      );
    }
    const total =
      type !== undefined ? devices.filter((device) => device.type === type).length : devices.length;
    if (resources.gpus * replicas > total) {
      throw new InputError(
        `the job asks for ${resources.gpus * replicas} GPUs in all, but only ${total} exist` +
          ` (available: ${describeInventory(devices)})`,
      );
    }
    const quota = options.quota;
    if (quota?.gpus !== undefined && resources.gpus * replicas > quota.gpus) {
      throw new InputError(
        `the job asks for ${resources.gpus * replicas} GPUs; the project's quota is ${quota.gpus}`,
      );
    }
    const typeQuota = type !== undefined ? quota?.gpusByType?.[type] : undefined;
    if (typeQuota !== undefined && resources.gpus * replicas > typeQuota) {
      throw new InputError(
        `the job asks for ${resources.gpus * replicas} ${type} GPUs; the project's ${type} quota is ${typeQuota}`,
      );
    }
  }
  const maxCpu = Math.max(0, ...nodes.map((node) => node.cpu));
  if (toMilli(resources.cpu) > toMilli(maxCpu)) {
    throw new InputError(`the job asks for ${resources.cpu} CPU cores, but no node has more than ${maxCpu}`);
  }
  const maxMemory = Math.max(0, ...nodes.map((node) => node.memoryMiB));
  if (resources.memoryMiB > maxMemory) {
    throw new InputError(
      `the job asks for ${resources.memoryMiB} MiB of memory, but no node has more than ${maxMemory} MiB`,
    );
  }
  // Gang: all replicas must fit on the empty cluster at once.
  const fitting = nodes.reduce((sum, node) => sum + replicasThatFit(node, resources), 0);
  if (fitting < replicas) {
    throw new InputError(`the job's ${replicas} replicas cannot all run at once: at most ${fitting} fit`);
  }
}

function largestCount(node: SchedulerNode, type: string | undefined): number {
  const counts = new Map<string, number>();
  for (const device of node.gpus) counts.set(device.type, (counts.get(device.type) ?? 0) + 1);
  if (type !== undefined) return counts.get(type) ?? 0;
  return Math.max(0, ...counts.values());
}

function replicasThatFit(node: SchedulerNode, resources: JobResources): number {
  let fit = Math.min(
    Math.floor(toMilli(node.cpu) / toMilli(resources.cpu)),
    Math.floor(node.memoryMiB / resources.memoryMiB),
  );
  if (resources.gpus > 0)
    fit = Math.min(fit, Math.floor(largestCount(node, resources.gpuType) / resources.gpus));
  return fit;
}
