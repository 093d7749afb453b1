import type { INode } from "kubernetes-models/v1/Node";
import type { SchedulerNode } from "../../jobs/capacity-pool.js";
import type { GpuDevice } from "../../jobs/gpu-inventory.js";
import type { WorkloadInventory } from "../../jobs/inventory.js";
import { GPU_PRODUCT_LABEL, type GpuProductTable, gpuTypeOfProduct } from "./gpu-products.js";

const SUFFIXES: Record<string, number> = {
  "": 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
};

/** A Kubernetes quantity ("7910m", "32Gi", "33554432Ki", "1e3") as a number; NaN when malformed. */
export function parseQuantity(value: string | number | undefined): number {
  if (typeof value === "number") return value;
  const match = /^([0-9.]+(?:e[0-9]+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(value?.trim() ?? "");
  if (!match) return Number.NaN;
  return Number(match[1]) * SUFFIXES[match[2] ?? ""];
}

function ready(node: INode): boolean {
  if (node.spec?.unschedulable) return false;
  return node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

/**
 * The cluster's schedulable nodes as the platform's inventory: allocatable CPU and memory, and one device
 * per allocatable `nvidia.com/gpu` with the type of the node's `nvidia.com/gpu.product` label (GPU Feature
 * Discovery). Devices get stable made-up ids (`K8S-<node>-<n>`): the platform counts them for admission;
 * the device plugin picks the real ones.
 */
export function inventoryFromNodes(nodes: readonly INode[], table: GpuProductTable): WorkloadInventory {
  const schedulerNodes: SchedulerNode[] = [];
  for (const node of nodes) {
    const name = node.metadata?.name;
    if (!name || !ready(node)) continue;
    const allocatable = node.status?.allocatable ?? {};
    const gpuCount = Math.floor(parseQuantity(allocatable["nvidia.com/gpu"] ?? "0")) || 0;
    const product = node.metadata?.labels?.[GPU_PRODUCT_LABEL];
    const type = product ? gpuTypeOfProduct(product, table) : "gpu";
    const gpus: GpuDevice[] = Array.from({ length: gpuCount }, (_, index) => ({
      index,
      uuid: `K8S-${name}-${index}`,
      type,
      ...(product ? { name: product } : {}),
      simulated: false,
    }));
    schedulerNodes.push({
      id: name,
      cpu: parseQuantity(allocatable.cpu ?? "0") || 0,
      memoryMiB: Math.floor((parseQuantity(allocatable.memory ?? "0") || 0) / 1024 ** 2),
      gpus,
    });
  }
  const anyGpu = schedulerNodes.some((n) => n.gpus.length > 0);
  return { source: anyGpu ? "detected" : "none", nodes: schedulerNodes };
}

/** GPU products seen on the nodes (node affinity also accepts these for their type). */
export function productsOnNodes(nodes: readonly INode[]): string[] {
  const products = nodes.map((n) => n.metadata?.labels?.[GPU_PRODUCT_LABEL]).filter((p): p is string => !!p);
  return [...new Set(products)].sort();
}
