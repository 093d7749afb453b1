import type { RuntimeDescription } from "../runtime/runtime.js";
import type { GpuDevice } from "./gpu-inventory.js";
import type { WorkloadInventory } from "./inventory.js";
import type { JobStore } from "./job-store.js";

/** `GET /api/v1/gpus`: the inventory, who holds which device, how much CPU/memory each node has held. */
export interface GpuView {
  source: WorkloadInventory["source"];
  devices: Array<
    GpuDevice & {
      nodeId: string;
      /** `otherProject`: held by a job of a project the caller may not read (docs/security.md). */
      heldBy:
        | { jobId: string; jobName: string; projectId: string; replicaIndex: number }
        | { otherProject: true }
        | null;
    }
  >;
  nodes: Array<{
    id: string;
    cpu: number;
    memoryMiB: number;
    cpuHeld: number;
    memoryMiBHeld: number;
    gpus: number;
  }>;
  runtime: RuntimeDescription;
}

export interface GpuViewInput {
  store: Pick<JobStore, "deviceHolds" | "holds" | "getJob">;
  inventory: WorkloadInventory;
  runtime: RuntimeDescription;
  /** Whether the caller may read this project (who holds a device is shown only then). */
  mayRead: (projectId: string) => Promise<boolean>;
}

/**
 * Every authenticated caller sees which devices are taken; which job holds one (id, name, project) only
 * for projects the caller may read (docs/security.md).
 */
export async function gpuView(input: GpuViewInput): Promise<GpuView> {
  const { store, inventory } = input;
  const allHolds = await store.deviceHolds();
  const readable = new Set<string>();
  for (const projectId of new Set(allHolds.map((hold) => hold.projectId))) {
    if (await input.mayRead(projectId)) readable.add(projectId);
  }
  const holds = allHolds.filter((hold) => readable.has(hold.projectId));
  const taken = new Set(allHolds.map((hold) => hold.deviceUuid));
  const heldBy = new Map(holds.map((hold) => [hold.deviceUuid, hold]));
  const jobNames = new Map<string, string>();
  for (const jobId of new Set(holds.map((hold) => hold.workloadId))) {
    jobNames.set(jobId, (await store.getJob(jobId))?.name ?? jobId);
  }
  const resourceHolds = await store.holds();
  const devices = inventory.nodes.flatMap((node) =>
    node.gpus.map((device) => {
      const hold = heldBy.get(device.uuid);
      return {
        ...device,
        nodeId: node.id,
        heldBy: hold
          ? {
              jobId: hold.workloadId,
              jobName: jobNames.get(hold.workloadId) ?? hold.workloadId,
              projectId: hold.projectId,
              replicaIndex: hold.replicaIndex,
            }
          : taken.has(device.uuid)
            ? { otherProject: true as const }
            : null,
      };
    }),
  );
  const nodes = inventory.nodes.map((node) => {
    const onNode = resourceHolds.filter((hold) => hold.nodeId === node.id);
    return {
      id: node.id,
      cpu: node.cpu,
      memoryMiB: node.memoryMiB,
      cpuHeld: onNode.reduce((sum, hold) => sum + hold.cpu, 0),
      memoryMiBHeld: onNode.reduce((sum, hold) => sum + hold.memoryMiB, 0),
      gpus: node.gpus.length,
    };
  });
  return { source: inventory.source, devices, nodes, runtime: input.runtime };
}
