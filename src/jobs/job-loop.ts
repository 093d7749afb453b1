import { PeriodicLeaderLoop } from "../leases/periodic-leader-loop.js";
import type { JobExecutor } from "./job-executor.js";
import type { QueuedJobRow, JobStore } from "./job-store.js";
import type { JobTransitions } from "./job-transitions.js";
import type { WorkloadInventory } from "./inventory.js";
import { type Placement, type SchedulerPolicy, scheduleQueuedJobs } from "./scheduler.js";

export interface JobLoopDeps {
  store: JobStore;
  executor: JobExecutor;
  transitions: JobTransitions;
  /** The inventory as last known. */
  inventory: () => WorkloadInventory;
  /** Fetches a fresh inventory before each pass (cluster backends); a failure keeps the last one. */
  refreshInventory?: () => Promise<WorkloadInventory>;
  isLeader: () => boolean;
  log: (level: "info" | "warn" | "error", message: string, details?: Record<string, unknown>) => void;
  policy?: Partial<SchedulerPolicy>;
  /** How often the loop looks at the queue without being woken (default 500 ms). */
  tickMs?: number;
  now?: () => number;
  /** Called after each pass (metrics). */
  onPass?: (stats: { queued: number; placed: number; durationMs: number }) => void;
  /** Why no job may start now (no working sandbox: fail closed), or null. Queued jobs wait with it. */
  executionBlocked?: () => string | null;
  /** A job was claimed: the GPU type it got ("none" without GPUs) and how long it was queued. */
  onScheduled?: (gpuType: string, queueWaitSeconds: number) => void;
}

/** Most waiting reasons written per pass: a first pass over a huge queue spreads its writes. */
const MAX_REASON_WRITES = 500;
const ACTOR = "scheduler";

/**
 * The scheduler's background loop. Runs only while this process holds the leader lease; on taking it,
 * reconciles first. Each pass: stop cancelled jobs, schedule the queue (pure, `scheduleQueuedJobs`),
 * claim each placement with a conditional write (a job another control plane claimed, or a device
 * someone holds, is skipped), then start the claimed jobs. `wake()` runs a pass now (after a submit or
 * when capacity frees) instead of at the next tick. All state-changing work of this process — passes
 * and exit handling — runs one piece at a time through `serial`.
 */
export class JobSchedulerLoop {
  readonly name = "job-scheduler";
  private readonly loop: PeriodicLeaderLoop;
  private lastReasons = new Map<string, string>();
  private readonly now: () => number;

  constructor(private readonly deps: JobLoopDeps) {
    this.now = deps.now ?? Date.now;
    this.loop = new PeriodicLeaderLoop({
      name: this.name,
      intervalMs: deps.tickMs ?? 500,
      isLeader: deps.isLeader,
      // On taking the lease: the database and the runtime are made to agree before anything is scheduled.
      onLeadership: async () => {
        await this.deps.executor.reconcile();
        this.lastReasons.clear();
      },
      pass: async () => {
        await this.deps.executor.processCancels();
        await this.schedulePass();
      },
      log: (message, details) => this.deps.log("error", "job scheduler work failed", { message, ...details }),
    });
  }

  start(): void {
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  wake(): void {
    this.loop.wake();
  }

  serial(work: () => Promise<void>): Promise<void> {
    return this.loop.serial(work);
  }

  /** One pass over the queue; returns the jobs it started. */
  async schedulePass(): Promise<string[]> {
    const started = this.now();
    const { store } = this.deps;
    const queue = await store.queuedJobs();
    if (queue.length === 0) return [];
    const blocked = this.deps.executionBlocked?.() ?? null;
    if (blocked !== null) {
      await this.recordReasons(new Map(queue.map((job) => [job.id, blocked])));
      return [];
    }
    const inventory = await this.currentInventory();
    const holds = await store.holds();
    const quotas = await store.projectGpuQuotas([...new Set(queue.map((job) => job.projectId))]);
    const result = scheduleQueuedJobs({
      queue,
      nodes: inventory.nodes,
      holds,
      quotas,
      now: this.now(),
      policy: this.deps.policy,
    });
    for (const warning of result.warnings) this.deps.log("warn", "scheduler input inconsistent", { warning });
    await this.recordReasons(result.reasons);
    const byId = new Map(queue.map((job) => [job.id, job]));
    const claimed: string[] = [];
    for (const placement of result.placements) {
      if (await this.claim(placement, byId.get(placement.jobId)!)) claimed.push(placement.jobId);
    }
    const launches = await Promise.allSettled(claimed.map((jobId) => this.deps.executor.launch(jobId)));
    for (const launch of launches) {
      if (launch.status === "rejected") {
        this.deps.log("error", "job launch failed", { error: (launch.reason as Error).message });
      }
    }
    this.deps.onPass?.({ queued: queue.length, placed: claimed.length, durationMs: this.now() - started });
    return claimed;
  }

  private async currentInventory(): Promise<WorkloadInventory> {
    if (!this.deps.refreshInventory) return this.deps.inventory();
    try {
      return await this.deps.refreshInventory();
    } catch (err) {
      this.deps.log("warn", "could not refresh the inventory; scheduling on the last one", {
        error: (err as Error).message,
      });
      return this.deps.inventory();
    }
  }

  private async claim(placement: Placement, row: QueuedJobRow): Promise<boolean> {
    const at = this.now();
    const devices = placement.replicas.flatMap((replica) => replica.gpus.map((device) => device.uuid));
    const nodes = [...new Set(placement.replicas.map((replica) => replica.nodeId))];
    const ranks = placement.replicas.length > 1 ? `${placement.replicas.length} ranks ` : "";
    const reason =
      devices.length > 0
        ? `placed ${ranks}on ${nodes.join(", ")} with GPUs ${devices.join(", ")}`
        : `placed ${ranks}on ${nodes.join(", ")}`;
    const details = {
      gpus: devices,
      nodes: placement.replicas.map((replica) => replica.nodeId),
      ...(placement.replicas.length > 1
        ? { ranks: placement.replicas.map((replica) => replica.gpus.map((device) => device.uuid)) }
        : {}),
    };
    const event = {
      at,
      from: "queued" as const,
      to: "scheduled" as const,
      attempt: row.attempt,
      actor: ACTOR,
      reason,
      details,
    };
    if (!(await this.deps.store.claimPlacement(placement, row.attempt, event))) {
      this.deps.log("info", "job claimed elsewhere or its devices are held; skipped", { jobId: row.id });
      return false;
    }
    this.lastReasons.delete(row.id);
    this.deps.onScheduled?.(
      placement.replicas[0]?.gpus[0]?.type ?? "none",
      Math.max(0, at - row.queuedAt) / 1000,
    );
    await this.deps.transitions.recorded(
      { id: row.id, projectId: row.projectId },
      {
        jobId: row.id,
        from: "queued",
        to: "scheduled",
        attempt: row.attempt,
        reason,
        at: new Date(at).toISOString(),
      },
      ACTOR,
      details,
    );
    return true;
  }

  /** Writes why each job waits, only where it changed, at most MAX_REASON_WRITES per pass. */
  private async recordReasons(reasons: ReadonlyMap<string, string>): Promise<void> {
    const changed = new Map<string, string>();
    for (const [jobId, reason] of reasons) {
      if (changed.size >= MAX_REASON_WRITES) break;
      if (this.lastReasons.get(jobId) !== reason) changed.set(jobId, reason);
    }
    if (changed.size === 0) return;
    await this.deps.store.setWaitReasons(changed);
    for (const [jobId, reason] of changed) this.lastReasons.set(jobId, reason);
    if (this.lastReasons.size > 4 * reasons.size + 1000) {
      for (const jobId of this.lastReasons.keys()) if (!reasons.has(jobId)) this.lastReasons.delete(jobId);
    }
  }
}
