import type { JobExecutor } from "./job-executor.js";
import type { QueuedJobRow, JobStore } from "./job-store.js";
import type { JobTransitions } from "./job-transitions.js";
import type { WorkloadInventory } from "./inventory.js";
import { type Placement, type SchedulerPolicy, scheduleQueuedJobs } from "./scheduler.js";

export interface JobLoopDeps {
  store: JobStore;
  executor: JobExecutor;
  transitions: JobTransitions;
  inventory: WorkloadInventory;
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
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private pending = false;
  private stopped = true;
  private reconciled = false;
  private lastReasons = new Map<string, string>();
  private readonly now: () => number;

  constructor(private readonly deps: JobLoopDeps) {
    this.now = deps.now ?? Date.now;
  }

  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => this.wake(), this.deps.tickMs ?? 500);
    this.timer.unref();
    this.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.chain;
  }

  wake(): void {
    if (this.stopped || this.pending) return;
    this.pending = true;
    void this.serial(async () => {
      this.pending = false;
      await this.tick();
    });
  }

  serial(work: () => Promise<void>): Promise<void> {
    const next = this.chain.then(async () => {
      if (this.stopped) return;
      try {
        await work();
      } catch (err) {
        this.deps.log("error", "job scheduler work failed", { error: (err as Error).stack ?? String(err) });
      }
    });
    this.chain = next;
    return next;
  }

  private async tick(): Promise<void> {
    if (!this.deps.isLeader()) {
      this.reconciled = false;
      return;
    }
    if (!this.reconciled) {
      await this.deps.executor.reconcile();
      this.reconciled = true;
      this.lastReasons.clear();
    }
    await this.deps.executor.processCancels();
    await this.schedulePass();
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
    const holds = await store.holds();
    const quotas = await store.projectGpuQuotas([...new Set(queue.map((job) => job.projectId))]);
    const result = scheduleQueuedJobs({
      queue,
      nodes: this.deps.inventory.nodes,
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

  private async claim(placement: Placement, row: QueuedJobRow): Promise<boolean> {
    const at = this.now();
    const devices = placement.replicas.flatMap((replica) => replica.gpus.map((device) => device.uuid));
    const reason =
      devices.length > 0
        ? `placed on ${placement.replicas[0].nodeId} with GPUs ${devices.join(", ")}`
        : `placed on ${placement.replicas[0].nodeId}`;
    const details = { gpus: devices, nodes: placement.replicas.map((replica) => replica.nodeId) };
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
