import {
  CapacityPool,
  type ReplicaNeed,
  type ResourceHold,
  type SchedulerNode,
  toMilli,
} from "./capacity-pool.js";
import type { GpuDevice } from "./gpu-inventory.js";
import { type JobResources, rankResources } from "./job.js";
import { formatCpu, formatDuration } from "./format.js";
import { type ProjectQuota, QuotaLedger } from "./quota-ledger.js";

export type { ResourceHold, SchedulerNode } from "./capacity-pool.js";
export type { ProjectQuota } from "./quota-ledger.js";

/**
 * The GPU-aware scheduler: one pure pass from (queue, holds, inventory, quotas) to placements. No I/O;
 * the caller persists placements as holds under its lease and starts the replicas.
 *
 * Order: higher priority first, FIFO (submit time, then id) within a priority.
 *
 * Backfill: a job that does not fit does not stop the jobs behind it; a smaller job that fits starts
 * now. This keeps GPUs busy, at a price: a large job (8 GPUs) can wait for ever while small jobs keep
 * taking each GPU as it frees. The guard is `reserveAfterMs`: once a blocked job has waited that long,
 * the pass holds back for it whatever part of its needs is free (on the first node that could ever hold
 * it), so jobs behind it can no longer take that capacity, and it starts as soon as enough has freed.
 * `reserveAfterMs: 0` is "no backfill past any blocked job's needs"; `Infinity` is pure greedy backfill.
 *
 * Gang: all nodes of a job are placed in the same pass or none is. A gang node's resources (its GPUs all
 * of one type) come from one scheduler node; its `procsPerNode` ranks split them evenly, each rank taking
 * distinct devices in index order. Two gang nodes may share a scheduler node when it has room for both.
 * A device is never handed out twice: holds remove devices by uuid, and each placement takes them out of
 * the free lists.
 */
export interface QueuedJob {
  id: string;
  projectId: string;
  priority: number;
  /** Submit time in ms since the epoch (FIFO order and the backfill guard). */
  submittedAt: number;
  /** Gang nodes placed together (1 for a plain job). */
  nodes: number;
  /** Ranks per gang node (default 1); each is one replica. */
  procsPerNode?: number;
  /** Per gang node. */
  resources: JobResources;
}

export interface SchedulerPolicy {
  /** How long a blocked job may be passed by backfill before capacity is held back for it. */
  reserveAfterMs: number;
}

export const DEFAULT_SCHEDULER_POLICY: SchedulerPolicy = { reserveAfterMs: 30 * 60_000 };

export interface ScheduleInput {
  queue: readonly QueuedJob[];
  nodes: readonly SchedulerNode[];
  holds: readonly ResourceHold[];
  /** Per-project quotas; a project without an entry has no quota. */
  quotas?: ReadonlyMap<string, ProjectQuota>;
  /** ms since the epoch. */
  now: number;
  policy?: Partial<SchedulerPolicy>;
}

export interface ReplicaPlacement {
  /** The global rank: nodeRank x procsPerNode + localRank. */
  replicaIndex: number;
  nodeId: string;
  cpu: number;
  memoryMiB: number;
  /** The specific devices, sorted by index. */
  gpus: GpuDevice[];
}

export interface Placement {
  jobId: string;
  projectId: string;
  replicas: ReplicaPlacement[];
}

export interface ScheduleResult {
  /** In the order the jobs should start. */
  placements: Placement[];
  /** For each job not placed: why it waits, in words a user understands. */
  reasons: Map<string, string>;
  /** Jobs for which capacity is being held back (waited longer than reserveAfterMs). */
  reserved: string[];
  /** Inconsistencies in the input, e.g. a device held twice. */
  warnings: string[];
}

export function compareQueueOrder(a: QueuedJob, b: QueuedJob): number {
  if (a.priority !== b.priority) return b.priority - a.priority;
  if (a.submittedAt !== b.submittedAt) return a.submittedAt - b.submittedAt;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export function scheduleQueuedJobs(input: ScheduleInput): ScheduleResult {
  const policy = { ...DEFAULT_SCHEDULER_POLICY, ...input.policy };
  const pool = new CapacityPool(input.nodes, input.holds);
  const quotas = new QuotaLedger(input.quotas ?? new Map(), input.holds, input.nodes);
  const placements: Placement[] = [];
  const reasons = new Map<string, string>();
  const reserved: string[] = [];
  // Most of a long queue waits on the same exhausted capacity: derive each distinct reason once per
  // state of the pool rather than once per job (this is what keeps a 10,000-job pass cheap).
  const reasonCache = new Map<string, { version: number; reason: string }>();
  for (const job of [...input.queue].sort(compareQueueOrder)) {
    const need = nodeNeed(job.resources, job.procsPerNode ?? 1);
    const quotaReason = quotas.refusal(job.projectId, job.resources.gpus * job.nodes, job.resources.gpuType);
    if (quotaReason !== null) {
      reasons.set(job.id, quotaReason);
      continue;
    }
    const placed = placeGang(pool, job, need, reasonCache);
    if (Array.isArray(placed)) {
      const typeReason = quotas.refusalForDevices(job.projectId, placed);
      if (typeReason === null) {
        quotas.add(job.projectId, placed);
        placements.push({ jobId: job.id, projectId: job.projectId, replicas: placed });
      } else {
        // Only an any-type request can land on a type its project has no quota for: undo and wait.
        const procs = job.procsPerNode ?? 1;
        for (let first = 0; first < placed.length; first += procs) {
          pool.giveBack(toTaken(pool, placed.slice(first, first + procs)));
        }
        reasons.set(job.id, typeReason);
      }
      continue;
    }
    let failure = placed;
    const waited = input.now - job.submittedAt;
    if (waited >= policy.reserveAfterMs) {
      let held = true;
      for (let n = 0; n < job.nodes; n++) held = pool.reserve(need) && held;
      if (held) {
        reserved.push(job.id);
        reasons.set(
          job.id,
          `${failure}; free capacity is held back for it (waited ${formatDuration(waited)}, ` +
            `longer than the backfill limit of ${formatDuration(policy.reserveAfterMs)})`,
        );
        continue;
      }
    }
    if (reserved.length > 0 && pool.fitsIgnoringReservations(need)) {
      failure = `${failure}; free capacity is held back for job ${reserved[0]}, which has waited longer`;
    }
    reasons.set(job.id, failure);
  }
  return { placements, reasons, reserved, warnings: pool.warnings };
}

/**
 * One gang node's needs: exactly what its ranks will hold (procsPerNode x the rank's share), so that the
 * holds of a placement add up to what was taken from the pool.
 */
function nodeNeed(resources: JobResources, procsPerNode: number): ReplicaNeed {
  const rank = rankResources(resources, procsPerNode);
  return {
    cpuMilli: toMilli(rank.cpu) * procsPerNode,
    memoryMiB: rank.memoryMiB * procsPerNode,
    gpus: resources.gpus,
    ...(resources.gpus > 0 && resources.gpuType !== undefined ? { gpuType: resources.gpuType } : {}),
  };
}

/** Places every gang node or none; returns one placement per rank, or why it waits. */
function placeGang(
  pool: CapacityPool,
  job: QueuedJob,
  need: ReplicaNeed,
  reasonCache: Map<string, { version: number; reason: string }>,
): ReplicaPlacement[] | string {
  const procs = job.procsPerNode ?? 1;
  const placed: ReplicaPlacement[] = [];
  for (let n = 0; n < job.nodes; n++) {
    const taken = pool.take(need);
    if (taken === null) {
      for (let first = 0; first < placed.length; first += procs) {
        pool.giveBack(toTaken(pool, placed.slice(first, first + procs)));
      }
      const key = `${job.nodes}|${n}|${need.cpuMilli}|${need.memoryMiB}|${need.gpus}|${need.gpuType}`;
      const cached = reasonCache.get(key);
      if (cached !== undefined && cached.version === pool.version) return cached.reason;
      const reason = capacityReason(pool, job, need, n);
      reasonCache.set(key, { version: pool.version, reason });
      return reason;
    }
    placed.push(...splitIntoRanks(taken, n, procs));
  }
  return placed;
}

/** A gang node's ranks: equal shares of what was taken, devices handed out in index order. */
function splitIntoRanks(
  taken: { node: { id: string }; cpuMilli: number; memoryMiB: number; gpus: GpuDevice[] },
  nodeRank: number,
  procs: number,
): ReplicaPlacement[] {
  const devices = [...taken.gpus].sort((a, b) => a.index - b.index);
  const perRank = devices.length / procs;
  const ranks: ReplicaPlacement[] = [];
  for (let local = 0; local < procs; local++) {
    ranks.push({
      replicaIndex: nodeRank * procs + local,
      nodeId: taken.node.id,
      cpu: taken.cpuMilli / procs / 1000,
      memoryMiB: taken.memoryMiB / procs,
      gpus: devices.slice(local * perRank, (local + 1) * perRank),
    });
  }
  return ranks;
}

/** What one gang node's ranks took, to give back as a whole. */
function toTaken(pool: CapacityPool, ranks: readonly ReplicaPlacement[]) {
  const node = pool.nodes.find((candidate) => candidate.id === ranks[0].nodeId)!;
  return {
    node,
    cpuMilli: ranks.reduce((sum, rank) => sum + toMilli(rank.cpu), 0),
    memoryMiB: ranks.reduce((sum, rank) => sum + rank.memoryMiB, 0),
    gpus: ranks.flatMap((rank) => rank.gpus),
  };
}

function capacityReason(pool: CapacityPool, job: QueuedJob, need: ReplicaNeed, fitted: number): string {
  const what = describeNeed(job.resources);
  if (!pool.nodes.some((node) => pool.couldEverHold(node, need))) {
    return `cannot run on the current inventory: ${largestNodeShortfall(pool, need)}`;
  }
  const onEmpty = nodesThatFitOnEmpty(pool, need);
  if (onEmpty < job.nodes) {
    return `cannot run on the current inventory: needs ${job.nodes} nodes of ${what} at once, at most ${onEmpty} fit`;
  }
  if (fitted > 0) {
    return `waiting for ${job.nodes} nodes of ${what} at once; only ${fitted} fit now`;
  }
  const free = pool.mostFree(need.gpuType);
  const short: string[] = [];
  const gpuLabel = need.gpuType ? `${need.gpuType} GPUs` : "GPUs of one type";
  if (need.gpus > free.gpus) short.push(`${free.gpus} of ${need.gpus} ${gpuLabel} free`);
  if (need.cpuMilli > free.cpuMilli) {
    short.push(`${formatCpu(free.cpuMilli)} of ${formatCpu(need.cpuMilli)} CPU cores free`);
  }
  if (need.memoryMiB > free.memoryMiB) {
    short.push(`${Math.max(free.memoryMiB, 0)} of ${need.memoryMiB} MiB memory free`);
  }
  const detail = short.length > 0 ? short.join(", ") : "no single node has all of it free at once";
  return `waiting for ${what}: ${detail}`;
}

/** "needs 5 h100 GPUs on one node, the largest node has 4": the first resource no node has enough of. */
function largestNodeShortfall(pool: CapacityPool, need: ReplicaNeed): string {
  const largest = (value: (node: CapacityPool["nodes"][number]) => number) =>
    Math.max(0, ...pool.nodes.map(value));
  if (need.gpus > 0) {
    const gpus = largest((node) =>
      need.gpuType !== undefined
        ? (node.totalByType.get(need.gpuType) ?? 0)
        : Math.max(0, ...node.totalByType.values()),
    );
    if (gpus < need.gpus) {
      const type = need.gpuType !== undefined ? `${need.gpuType} GPUs` : "GPUs of one type";
      return `needs ${need.gpus} ${type} on one node, the largest node has ${gpus}`;
    }
  }
  const cpu = largest((node) => node.totalCpuMilli);
  if (cpu < need.cpuMilli) {
    return `needs ${formatCpu(need.cpuMilli)} CPU cores on one node, the largest node has ${formatCpu(cpu)}`;
  }
  const memory = largest((node) => node.totalMemoryMiB);
  if (memory < need.memoryMiB) {
    return `needs ${need.memoryMiB} MiB of memory on one node, the largest node has ${memory} MiB`;
  }
  // Each resource exists somewhere, but never all on one node.
  return `no single node has ${describeNeedMilli(need)}`;
}

/** How many gang nodes of this size the whole inventory could hold with nothing else running. */
function nodesThatFitOnEmpty(pool: CapacityPool, need: ReplicaNeed): number {
  let fit = 0;
  for (const node of pool.nodes) {
    let here = Math.min(
      need.cpuMilli > 0 ? Math.floor(node.totalCpuMilli / need.cpuMilli) : Number.MAX_SAFE_INTEGER,
      need.memoryMiB > 0 ? Math.floor(node.totalMemoryMiB / need.memoryMiB) : Number.MAX_SAFE_INTEGER,
    );
    if (need.gpus > 0) {
      const counts =
        need.gpuType !== undefined
          ? [node.totalByType.get(need.gpuType) ?? 0]
          : [...node.totalByType.values()];
      here = Math.min(
        here,
        counts.reduce((sum, count) => sum + Math.floor(count / need.gpus), 0),
      );
    }
    fit += here;
  }
  return fit;
}

function describeNeedMilli(need: ReplicaNeed): string {
  const gpus = need.gpus > 0 ? `${need.gpus} ${need.gpuType ?? "any"} GPUs, ` : "";
  return `${gpus}${formatCpu(need.cpuMilli)} CPU and ${need.memoryMiB} MiB`;
}

export function describeNeed(resources: JobResources): string {
  const parts: string[] = [];
  if (resources.gpus > 0) {
    parts.push(`${resources.gpus} ${resources.gpuType ?? "any"} GPU${resources.gpus > 1 ? "s" : ""}`);
  }
  parts.push(`${formatCpu(toMilli(resources.cpu))} CPU`, `${resources.memoryMiB} MiB`);
  return parts.join(", ");
}

/** The holds a placement becomes once the caller has recorded it (one per replica). */
export function holdsForPlacement(placement: Placement): ResourceHold[] {
  return placement.replicas.map((replica) => ({
    workloadId: placement.jobId,
    projectId: placement.projectId,
    nodeId: replica.nodeId,
    cpu: replica.cpu,
    memoryMiB: replica.memoryMiB,
    gpuUuids: replica.gpus.map((device) => device.uuid),
  }));
}

/** The one-machine case: the local runtime's node. */
export function localNode(gpus: readonly GpuDevice[], cpu: number, memoryMiB: number): SchedulerNode {
  return { id: "local", cpu, memoryMiB, gpus };
}
