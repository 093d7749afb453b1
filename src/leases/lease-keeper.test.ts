import { describe, expect, it } from "vitest";
import { LeaseKeeper } from "./lease-keeper.js";
import type { LeaseStore } from "./lease-store.js";

/** An in-memory lease table with the database store's rule (free, expired or ours: taken). */
function memoryLeases(): LeaseStore {
  const leases = new Map<string, { holder: string; expiresAt: number }>();
  return {
    async tryAcquire(name, holder, ttlMs, now) {
      const lease = leases.get(name);
      if (lease && lease.holder !== holder && lease.expiresAt > now) return false;
      leases.set(name, { holder, expiresAt: now + ttlMs });
      return true;
    },
    async release(name, holder) {
      if (leases.get(name)?.holder === holder) leases.delete(name);
    },
    async list() {
      return [];
    },
  };
}

describe("lease keeper", () => {
  it("stops claiming the lease once its last renewal is older than the TTL, before it learns it lost it", async () => {
    let clock = 1_000_000;
    const store = memoryLeases();
    const events: string[] = [];
    const keeper = (holder: string) =>
      new LeaseKeeper({
        store,
        name: "leader",
        holder,
        ttlMs: 1_500,
        now: () => clock,
        onAcquired: () => events.push(`${holder} acquired`),
        onLost: () => events.push(`${holder} lost`),
      });
    const a = keeper("a");
    const b = keeper("b");
    expect(await a.tick()).toBe(true);
    expect(await b.tick()).toBe(false);
    expect(a.isHeld()).toBe(true);
    // a is paused past its TTL; b takes the lease. a has not run a renewal yet, and yet it must not act.
    clock += 1_600;
    expect(a.isHeld()).toBe(false);
    expect(await b.tick()).toBe(true);
    expect(b.isHeld()).toBe(true);
    expect(await a.tick()).toBe(false);
    expect(a.isHeld()).toBe(false);
    // A renewal in time keeps it held across many TTLs.
    for (let i = 0; i < 10; i++) {
      clock += 500;
      expect(await b.tick()).toBe(true);
      expect(b.isHeld()).toBe(true);
    }
    expect(events).toEqual(["a acquired", "b acquired", "a lost"]);
    await a.stop();
    await b.stop();
  });
});
