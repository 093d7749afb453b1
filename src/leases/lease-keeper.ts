import type { LeaseStore } from "./lease-store.js";

export interface LeaseKeeperOptions {
  store: LeaseStore;
  name: string;
  holder: string;
  ttlMs: number;
  /** Called after the lease is (re)gained. */
  onAcquired?: () => void;
  /** Called when a renewal fails: whatever ran under the lease must stop. */
  onLost?: (reason: string) => void;
  log?: (message: string, details?: Record<string, unknown>) => void;
  now?: () => number;
}

/**
 * Keeps trying to hold one lease: renews it every ttl/3 while held, retries at the same pace while not.
 * `isHeld()` is what background loops check before each unit of work. It also answers false once the
 * last successful renewal is older than the TTL (counted from when that renewal was sent): a process
 * that was paused (a blocked event loop, a slow database) must not act on a lease that another process
 * may have taken meanwhile, even before its next renewal tells it so.
 */
export class LeaseKeeper {
  private held = false;
  private validUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly now: () => number;

  constructor(private readonly options: LeaseKeeperOptions) {
    this.now = options.now ?? Date.now;
  }

  isHeld(): boolean {
    return this.held && !this.stopped && this.now() < this.validUntil;
  }

  start(): void {
    this.stopped = false;
    void this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.held) {
      this.held = false;
      await this.options.store.release(this.options.name, this.options.holder).catch(() => {});
    }
  }

  /** One acquire/renew attempt (exposed for tests). */
  async tick(): Promise<boolean> {
    const { store, name, holder, ttlMs } = this.options;
    let ok = false;
    const sentAt = this.now();
    try {
      ok = await store.tryAcquire(name, holder, ttlMs, sentAt);
    } catch (err) {
      this.options.log?.("lease renewal failed", { lease: name, error: (err as Error).message });
    }
    if (this.stopped) return false;
    if (ok) this.validUntil = sentAt + ttlMs;
    if (ok && !this.held) {
      this.held = true;
      this.options.log?.("lease acquired", { lease: name, holder });
      this.options.onAcquired?.();
    } else if (!ok && this.held) {
      this.held = false;
      this.options.log?.("lease lost", { lease: name, holder });
      this.options.onLost?.("renewal failed or taken over");
    }
    this.timer = setTimeout(() => void this.tick(), Math.max(50, Math.floor(ttlMs / 3)));
    this.timer.unref();
    return ok;
  }
}
