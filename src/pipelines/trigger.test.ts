import { describe, expect, it } from "vitest";
import { chooseBasis, decideTrigger, MAX_SETTLE_FACTOR, type TriggerFacts } from "./trigger.js";

const policy = {
  paused: false,
  minNewLabels: 10,
  cooldownSeconds: 60,
  lastFiredAt: null as number | null,
  settleSeconds: 10,
  thresholdMetAt: null as number | null,
};
const facts = (over: Partial<TriggerFacts> = {}): TriggerFacts => ({
  policy,
  now: 1_000_000,
  activeRun: undefined,
  newLabels: 10,
  openImports: [],
  lastLabelChangeAt: 1_000_000 - 60_000,
  ...over,
});

describe("decideTrigger", () => {
  it("fires at the threshold and not below it", () => {
    expect(decideTrigger(facts()).fire).toBe(true);
    expect(decideTrigger(facts({ newLabels: 9 }))).toEqual({ fire: false, reason: "9 of 10 new labels" });
  });

  it("never fires while paused or while a run of the policy is active", () => {
    expect(decideTrigger(facts({ policy: { ...policy, paused: true } })).fire).toBe(false);
    const active = decideTrigger(facts({ activeRun: { id: "r1", state: "train" } }));
    expect(active).toMatchObject({ fire: false, reason: "pipeline r1 is still in train" });
  });

  it("respects the cooldown from the last firing", () => {
    const fired = { ...policy, lastFiredAt: 1_000_000 - 30_000 };
    const waiting = decideTrigger(facts({ policy: fired, newLabels: 50 }));
    expect(waiting).toMatchObject({ fire: false, cooldownUntil: 1_000_000 + 30_000 });
    expect(decideTrigger(facts({ policy: fired, newLabels: 50, now: 1_000_000 + 30_000 })).fire).toBe(true);
  });
});

describe("decideTrigger waits for labels to settle", () => {
  it("never fires while a bulk import is still adding items", () => {
    const open = decideTrigger(
      facts({ newLabels: 500, openImports: [{ id: "abcdef123456", source: "coco x" }] }),
    );
    expect(open).toMatchObject({ fire: false, reason: "import abcdef12 (coco x) is still adding items" });
  });

  it("waits for the quiet period after the last label change, then fires", () => {
    const busy = decideTrigger(facts({ lastLabelChangeAt: 1_000_000 - 4_000 }));
    expect(busy.fire).toBe(false);
    expect(busy.reason).toMatch(/labels still arriving: waiting for 6 s/);
    expect(decideTrigger(facts({ lastLabelChangeAt: 1_000_000 - 10_000 })).fire).toBe(true);
  });

  it("stops waiting for quiet once the threshold has been met for settleSeconds x MAX_SETTLE_FACTOR", () => {
    const steady = { lastLabelChangeAt: 1_000_000 - 1_000 };
    const recent = { ...policy, thresholdMetAt: 1_000_000 - 10_000 * MAX_SETTLE_FACTOR + 1 };
    expect(decideTrigger(facts({ ...steady, policy: recent })).fire).toBe(false);
    const long = { ...policy, thresholdMetAt: 1_000_000 - 10_000 * MAX_SETTLE_FACTOR };
    expect(decideTrigger(facts({ ...steady, policy: long })).fire).toBe(true);
  });

  it("with settleSeconds 0 fires on the threshold alone", () => {
    const eager = { ...policy, settleSeconds: 0 };
    expect(decideTrigger(facts({ policy: eager, lastLabelChangeAt: 1_000_000 })).fire).toBe(true);
  });
});

describe("chooseBasis", () => {
  const prod = { id: "p", createdAt: 100 };
  const last = { id: "l", createdAt: 200 };
  it("counts from production's training snapshot unless the last run snapshotted later", () => {
    expect(chooseBasis(prod, null)).toEqual({ snapshot: prod, source: "production" });
    expect(chooseBasis(prod, last)).toEqual({ snapshot: last, source: "last-run" });
    expect(chooseBasis({ id: "p2", createdAt: 300 }, last).source).toBe("production");
    expect(chooseBasis(null, null)).toEqual({ snapshot: null, source: "none" });
    expect(chooseBasis(null, last).source).toBe("last-run");
  });
});
