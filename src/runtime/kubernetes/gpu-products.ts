import { normalizeGpuType } from "../../jobs/gpu-inventory.js";
import { InputError } from "../../errors.js";

/**
 * GPU types (the platform's short names, `--gpu-type h100`) and the values GPU Feature Discovery puts in
 * the `nvidia.com/gpu.product` node label, plus the Kueue LocalQueue each type's Jobs go to
 * (infrastructure/kubernetes/overlays/production/kueue-gpu-queues.yaml). A Job asking for a type gets node
 * affinity on any of its products. Operators extend or replace entries with MLOPS_K8S_GPU_PRODUCTS.
 */
export interface GpuProduct {
  /** Values of `nvidia.com/gpu.product` that count as this type. */
  products: string[];
  /** Kueue LocalQueue of this type (label `kueue.x-k8s.io/queue-name`). */
  queue: string;
}

export type GpuProductTable = Record<string, GpuProduct>;

export const GPU_PRODUCT_LABEL = "nvidia.com/gpu.product";

export const DEFAULT_GPU_PRODUCTS: GpuProductTable = {
  h100: {
    products: ["NVIDIA-H100-80GB-HBM3", "NVIDIA-H100-PCIe", "NVIDIA-H100-NVL"],
    queue: "gpu-h100-80gb",
  },
  h200: { products: ["NVIDIA-H200", "NVIDIA-H200-NVL"], queue: "gpu-h200" },
  a100: {
    products: [
      "NVIDIA-A100-SXM4-80GB",
      "NVIDIA-A100-SXM4-40GB",
      "NVIDIA-A100-80GB-PCIe",
      "NVIDIA-A100-PCIE-40GB",
    ],
    queue: "gpu-a100",
  },
  l4: { products: ["NVIDIA-L4"], queue: "gpu-l4" },
  l40s: { products: ["NVIDIA-L40S"], queue: "gpu-l40s" },
  a10g: { products: ["NVIDIA-A10G"], queue: "gpu-a10g" },
  t4: { products: ["Tesla-T4"], queue: "gpu-t4" },
  v100: {
    products: ["Tesla-V100-SXM2-16GB", "Tesla-V100-SXM2-32GB", "Tesla-V100-PCIE-16GB"],
    queue: "gpu-v100",
  },
};

const PRODUCT = /^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$/;

/**
 * Parses MLOPS_K8S_GPU_PRODUCTS: `type=Product[|Product...][@queue]` entries separated by commas, e.g.
 * `h100=NVIDIA-H100-80GB-HBM3|NVIDIA-H100-PCIe@gpu-h100,l4=NVIDIA-L4`. Entries replace the default entry
 * of their type; the queue defaults to `gpu-<type>`.
 */
export function parseGpuProducts(value: string | undefined, base = DEFAULT_GPU_PRODUCTS): GpuProductTable {
  const table: GpuProductTable = { ...base };
  if (!value || value.trim() === "") return table;
  for (const entry of value.split(",").map((e) => e.trim())) {
    if (entry === "") continue;
    const match = /^([a-z0-9][a-z0-9_-]*)=([^@]+)(?:@([a-z0-9]([a-z0-9-]*[a-z0-9])?))?$/.exec(entry);
    if (!match) {
      throw new InputError(`MLOPS_K8S_GPU_PRODUCTS: '${entry}' is not type=Product[|Product][@queue]`);
    }
    const products = match[2].split("|").map((p) => p.trim());
    const bad = products.find((p) => !PRODUCT.test(p));
    if (bad !== undefined)
      throw new InputError(`MLOPS_K8S_GPU_PRODUCTS: '${bad}' is not a valid label value`);
    table[match[1]] = { products, queue: match[3] ?? `gpu-${match[1]}` };
  }
  return table;
}

/** The platform type of a node's product label: the table's entry, else the normalized model name. */
export function gpuTypeOfProduct(product: string, table: GpuProductTable): string {
  for (const [type, entry] of Object.entries(table)) if (entry.products.includes(product)) return type;
  return normalizeGpuType(product.replace(/-/g, " "));
}

/** Products a type may run on: the table's, else the type as products seen in the inventory map to it. */
export function productsOfType(type: string, table: GpuProductTable, seen: readonly string[] = []): string[] {
  const fromTable = table[type]?.products ?? [];
  const fromNodes = seen.filter((p) => !fromTable.includes(p) && gpuTypeOfProduct(p, table) === type);
  return [...fromTable, ...fromNodes];
}
