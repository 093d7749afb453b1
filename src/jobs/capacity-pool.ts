import type { GpuDevice } from "./gpu-inventory.js";

/**
 * The free capacity of the nodes during one scheduling pass: what the nodes have, minus what running
 * workloads hold, minus what this pass has placed or reserved. Pure and mutable, private to the scheduler.
 * CPU is counted in millicores so that fractional requests add up exactly.
 */
export interface SchedulerNode {
  id: string;
  /** CPU cores the scheduler may hand out. */
  cpu: number;
  memoryMiB: number;
  gpus: readonly GpuDevice[];
}

/** What one running (or starting) replica of a workload holds on a node. */
export interface ResourceHold {
  /** Job id today; workspace id later. */
  workloadId: string;
  projectId: string;
  nodeId: string;
  cpu: number;
  memoryMiB: number;
  /** Device uuids; a device appears in at most one hold. */
  gpuUuids: readonly string[];
}

/** One replica's needs, in pool units. */
export interface ReplicaNeed {
  cpuMilli: number;
  memoryMiB: number;
  gpus: number;
  gpuType?: string;
}

export interface Taken {
  node: NodeCapacity;
  cpuMilli: number;
  memoryMiB: number;
  gpus: GpuDevice[];
}

export interface NodeCapacity {
  id: string;
  totalCpuMilli: number;
  totalMemoryMiB: number;
  totalByType: Map<string, number>;
  cpuMilli: number;
  memoryMiB: number;
  /** Free devices per type, kept sorted by index so that placements are deterministic. */
  freeByType: Map<string, GpuDevice[]>;
  reservedCpuMilli: number;
  reservedMemoryMiB: number;
  reservedByType: Map<string, number>;
}

export const toMilli = (cpu: number): number => Math.round(cpu * 1000);

export class CapacityPool {
  readonly nodes: NodeCapacity[];
  readonly warnings: string[] = [];
  /** Bumped on every change, so that callers can cache what they derived from the free capacity. */
  version = 0;

  constructor(nodes: readonly SchedulerNode[], holds: readonly ResourceHold[]) {
    this.nodes = nodes.map((node) => {
      const freeByType = new Map<string, GpuDevice[]>();
      const totalByType = new Map<string, number>();
      for (const device of [...node.gpus].sort((a, b) => a.index - b.index)) {
        const list = freeByType.get(device.type) ?? [];
        list.push(device);
        freeByType.set(device.type, list);
        totalByType.set(device.type, (totalByType.get(device.type) ?? 0) + 1);
      }
      return {
        id: node.id,
        totalCpuMilli: toMilli(node.cpu),
        totalMemoryMiB: node.memoryMiB,
        totalByType,
        cpuMilli: toMilli(node.cpu),
        memoryMiB: node.memoryMiB,
        freeByType,
        reservedCpuMilli: 0,
        reservedMemoryMiB: 0,
        reservedByType: new Map(),
      };
    });
    this.subtractHolds(holds);
  }

  private subtractHolds(holds: readonly ResourceHold[]): void {
    const byId = new Map(this.nodes.map((node) => [node.id, node]));
    const heldBy = new Map<string, string>();
    for (const hold of holds) {
      for (const uuid of hold.gpuUuids) {
        const other = heldBy.get(uuid);
        if (other !== undefined && other !== hold.workloadId) {
          this.warnings.push(`GPU ${uuid} is held by both ${other} and ${hold.workloadId}`);
        }
        heldBy.set(uuid, hold.workloadId);
      }
      const node = byId.get(hold.nodeId);
      if (!node) continue; // a node that left the inventory: its holds free nothing here
      node.cpuMilli -= toMilli(hold.cpu);
      node.memoryMiB -= hold.memoryMiB;
    }
    // Devices are removed by uuid wherever they sit, so a hold naming the wrong node still blocks them.
    for (const node of this.nodes) {
      for (const [type, list] of node.freeByType) {
        node.freeByType.set(
          type,
          list.filter((device) => !heldBy.has(device.uuid)),
        );
      }
    }
  }

  /** The GPU type a replica would use on this node right now, or null if its GPUs do not fit. */
  private gpuTypeFor(node: NodeCapacity, need: ReplicaNeed): string | null | undefined {
    if (need.gpus === 0) return undefined;
    if (need.gpuType !== undefined) {
      return (node.freeByType.get(need.gpuType)?.length ?? 0) >= need.gpus ? need.gpuType : null;
    }
    for (const [type, list] of node.freeByType) if (list.length >= need.gpus) return type;
    return null;
  }

  /** Takes one replica's resources from the first node that fits, or returns null. */
  take(need: ReplicaNeed): Taken | null {
    for (const node of this.nodes) {
      if (node.cpuMilli < need.cpuMilli || node.memoryMiB < need.memoryMiB) continue;
      const type = this.gpuTypeFor(node, need);
      if (type === null) continue;
      node.cpuMilli -= need.cpuMilli;
      node.memoryMiB -= need.memoryMiB;
      this.version++;
      const gpus = type === undefined ? [] : node.freeByType.get(type)!.splice(0, need.gpus);
      return { node, cpuMilli: need.cpuMilli, memoryMiB: need.memoryMiB, gpus };
    }
    return null;
  }

  /** Gives back what `take` took (a gang that did not fit as a whole). */
  giveBack(taken: Taken): void {
    const { node } = taken;
    this.version++;
    node.cpuMilli += taken.cpuMilli;
    node.memoryMiB += taken.memoryMiB;
    for (const device of taken.gpus) {
      const list = node.freeByType.get(device.type)!;
      list.push(device);
      list.sort((a, b) => a.index - b.index);
    }
  }

  /**
   * Holds back, for a job that has waited too long, whatever part of its needs is free now on the first
   * node that could ever hold it, so that later (smaller) jobs cannot take it. Returns false when no node
   * could ever hold the replica.
   */
  reserve(need: ReplicaNeed): boolean {
    const node = this.nodes.find((candidate) => this.couldEverHold(candidate, need));
    if (!node) return false;
    const cpu = Math.min(Math.max(node.cpuMilli, 0), need.cpuMilli);
    const memory = Math.min(Math.max(node.memoryMiB, 0), need.memoryMiB);
    if (cpu > 0 || memory > 0) this.version++;
    node.cpuMilli -= cpu;
    node.memoryMiB -= memory;
    node.reservedCpuMilli += cpu;
    node.reservedMemoryMiB += memory;
    if (need.gpus > 0) {
      const type = need.gpuType ?? this.largestType(node);
      const list = node.freeByType.get(type) ?? [];
      const count = Math.min(list.length, need.gpus);
      if (count > 0) {
        list.splice(0, count);
        this.version++;
      }
      node.reservedByType.set(type, (node.reservedByType.get(type) ?? 0) + count);
    }
    return true;
  }

  couldEverHold(node: NodeCapacity, need: ReplicaNeed): boolean {
    if (node.totalCpuMilli < need.cpuMilli || node.totalMemoryMiB < need.memoryMiB) return false;
    if (need.gpus === 0) return true;
    if (need.gpuType !== undefined) return (node.totalByType.get(need.gpuType) ?? 0) >= need.gpus;
    for (const count of node.totalByType.values()) if (count >= need.gpus) return true;
    return false;
  }

  /** Whether the replica would fit somewhere if no reservation held capacity back. */
  fitsIgnoringReservations(need: ReplicaNeed): boolean {
    return this.nodes.some((node) => {
      if (node.cpuMilli + node.reservedCpuMilli < need.cpuMilli) return false;
      if (node.memoryMiB + node.reservedMemoryMiB < need.memoryMiB) return false;
      if (need.gpus === 0) return true;
      const enough = (type: string) =>
        (node.freeByType.get(type)?.length ?? 0) + (node.reservedByType.get(type) ?? 0) >= need.gpus;
      if (need.gpuType !== undefined) return enough(need.gpuType);
      for (const type of node.freeByType.keys()) if (enough(type)) return true;
      return false;
    });
  }

  private largestType(node: NodeCapacity): string {
    let best = "";
    let bestCount = -1;
    for (const [type, count] of node.totalByType) {
      if (count > bestCount) [best, bestCount] = [type, count];
    }
    return best;
  }

  /** The most of each resource free on any one node, for "why does it wait" messages. */
  mostFree(gpuType: string | undefined): { cpuMilli: number; memoryMiB: number; gpus: number } {
    let cpuMilli = 0;
    let memoryMiB = 0;
    let gpus = 0;
    for (const node of this.nodes) {
      cpuMilli = Math.max(cpuMilli, node.cpuMilli);
      memoryMiB = Math.max(memoryMiB, node.memoryMiB);
      if (gpuType !== undefined) gpus = Math.max(gpus, node.freeByType.get(gpuType)?.length ?? 0);
      else for (const list of node.freeByType.values()) gpus = Math.max(gpus, list.length);
    }
    return { cpuMilli, memoryMiB, gpus };
  }
}
