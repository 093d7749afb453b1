import type { SchedulerNode } from "./capacity-pool.js";
import type { GpuDevice } from "./gpu-inventory.js";

/**
 * What the scheduler may hand out: the nodes with their CPU, memory and GPUs. `source` says where the
 * GPUs came from: `detected` (nvidia-smi), `declared` (MLOPS_GPUS, simulated devices: no driver behind
 * them, for development and tests), or `none`.
 */
export interface WorkloadInventory {
  source: "detected" | "declared" | "none";
  nodes: SchedulerNode[];
}

export function inventoryDevices(inventory: WorkloadInventory): GpuDevice[] {
  return inventory.nodes.flatMap((node) => node.gpus);
}

export function deviceByUuid(inventory: WorkloadInventory): Map<string, GpuDevice> {
  return new Map(inventoryDevices(inventory).map((device) => [device.uuid, device]));
}
