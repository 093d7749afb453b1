import { describe, expect, it } from "vitest";
import { chooseBasis, decideTrigger, type TriggerFacts } from "./trigger.js";

const policy = { paused: false, minNewLabels: 10, cooldownSeconds: 60, lastFiredAt: null as number | null };
const facts = (over: Partial<TriggerFacts> = {}): TriggerFacts => ({
  policy,
  now: 1_000_000,
  activeRun: undefined,
  newLabels: 10,
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
