import type { ResourceHold, SchedulerNode } from "./capacity-pool.js";

/** A project's GPU limits: on all GPUs together and/or per type. Unset = unlimited. */
export interface ProjectQuota {
  gpus?: number;
  gpusByType?: Readonly<Record<string, number>>;
}

interface Usage {
  total: number;
  byType: Map<string, number>;
}

/** GPUs each project holds (running holds plus this pass's placements), checked against its quota. */
export class QuotaLedger {
  private readonly usage = new Map<string, Usage>();

  constructor(
    private readonly quotas: ReadonlyMap<string, ProjectQuota>,
    holds: readonly ResourceHold[],
    nodes: readonly SchedulerNode[],
  ) {
    const typeOf = new Map<string, string>();
    for (const node of nodes) for (const device of node.gpus) typeOf.set(device.uuid, device.type);
    for (const hold of holds) {
      // A held device that left the inventory still counts against the total, just not against a type.
      this.count(
        hold.projectId,
        hold.gpuUuids.map((uuid) => typeOf.get(uuid)),
      );
    }
  }

  private usageOf(projectId: string): Usage {
    let usage = this.usage.get(projectId);
    if (!usage) {
      usage = { total: 0, byType: new Map() };
      this.usage.set(projectId, usage);
    }
    return usage;
  }

  private count(projectId: string, types: readonly (string | undefined)[]): void {
    const usage = this.usageOf(projectId);
    usage.total += types.length;
    for (const type of types)
      if (type !== undefined) usage.byType.set(type, (usage.byType.get(type) ?? 0) + 1);
  }

  /** Why the project may not take `gpus` more GPUs (of `gpuType` if given), or null if it may. */
  refusal(projectId: string, gpus: number, gpuType: string | undefined): string | null {
    if (gpus === 0) return null;
    const quota = this.quotas.get(projectId);
    if (!quota) return null;
    const usage = this.usage.get(projectId) ?? { total: 0, byType: new Map<string, number>() };
    if (quota.gpus !== undefined && usage.total + gpus > quota.gpus) {
      return `project ${projectId} is at its GPU quota: ${usage.total} of ${quota.gpus} GPUs in use, this job needs ${gpus}`;
    }
    const typeLimit = gpuType !== undefined ? quota.gpusByType?.[gpuType] : undefined;
    if (gpuType !== undefined && typeLimit !== undefined) {
      const held = usage.byType.get(gpuType) ?? 0;
      if (held + gpus > typeLimit) {
        return `project ${projectId} is at its ${gpuType} quota: ${held} of ${typeLimit} in use, this job needs ${gpus}`;
      }
    }
    return null;
  }

  /** Per-type check for a placement whose type was chosen by the scheduler (any-type requests). */
  refusalForDevices(
    projectId: string,
    replicas: readonly { gpus: readonly { type: string }[] }[],
  ): string | null {
    const perType = new Map<string, number>();
    for (const replica of replicas) {
      for (const device of replica.gpus) perType.set(device.type, (perType.get(device.type) ?? 0) + 1);
    }
    for (const [type, count] of perType) {
      const refusal = this.refusal(projectId, count, type);
      if (refusal !== null) return refusal;
    }
    return null;
  }

  add(projectId: string, replicas: readonly { gpus: readonly { type: string }[] }[]): void {
    this.count(
      projectId,
      replicas.flatMap((replica) => replica.gpus.map((device) => device.type)),
    );
  }
}
