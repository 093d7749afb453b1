/**
 * The one lifecycle of the platform's background loops (job scheduler, retraining pipelines, canary
 * analysis, webhook delivery, workspace culling): a pass every `intervalMs`, only in the process that holds
 * the leader lease, never two passes at once, `wake()` for a pass now instead of at the next tick, and
 * `stop()` that waits for the pass in progress. `serial(work)` runs other state-changing work of the loop's
 * domain on the same chain as its passes (one piece at a time). `onLeadership` runs once each time this
 * process becomes the leader, before its first pass (e.g. reconciling with the runtime).
 */
export interface PeriodicLeaderLoopOptions {
  name: string;
  intervalMs: number;
  /** Work happens only while this is true (the leader lease). */
  isLeader: () => boolean;
  /** One pass. Its errors are logged; the loop goes on. */
  pass: () => Promise<unknown>;
  onLeadership?: () => Promise<void>;
  /** Delay of the first pass after start() (default 0). */
  initialDelayMs?: number;
  log?: (message: string, details: Record<string, unknown>) => void;
}

export class PeriodicLeaderLoop {
  readonly name: string;
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private passQueued = false;
  private stopped = true;
  private leading = false;

  constructor(private readonly o: PeriodicLeaderLoopOptions) {
    this.name = o.name;
  }

  get running(): boolean {
    return !this.stopped;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.arm(this.o.initialDelayMs ?? 0);
  }

  /** Stops the timer and waits for the work in progress; queued work that has not begun is dropped. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.chain;
  }

  /** Asks for a pass as soon as the chain is free (coalesced: many wakes, one pass). */
  wake(): void {
    if (this.stopped || this.passQueued) return;
    this.passQueued = true;
    void this.serial(async () => {
      this.passQueued = false;
      await this.runPass();
    });
  }

  /** Runs `work` after everything queued before it, never alongside a pass. */
  serial(work: () => Promise<void>): Promise<void> {
    const next = this.chain.then(async () => {
      if (this.stopped) return;
      try {
        await work();
      } catch (err) {
        this.o.log?.(`${this.name}: work failed`, { error: (err as Error).stack ?? String(err) });
      }
    });
    this.chain = next;
    return next;
  }

  /** One pass now, on the chain (tests; also what the timer does). Resolves when it is done. */
  runOnce(): Promise<void> {
    return this.serial(() => this.runPass());
  }

  private async runPass(): Promise<void> {
    if (!this.o.isLeader()) {
      this.leading = false;
      return;
    }
    if (!this.leading) {
      await this.o.onLeadership?.();
      this.leading = true;
    }
    await this.o.pass();
  }

  private arm(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.wake();
      void this.chain.finally(() => this.arm(this.o.intervalMs));
    }, delay);
    this.timer.unref();
  }
}
