import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { PeriodicLeaderLoop } from "./periodic-leader-loop.js";

describe("PeriodicLeaderLoop", () => {
  it("passes only while leader, and runs onLeadership once each time leadership is gained", async () => {
    let leader = false;
    const events: string[] = [];
    const loop = new PeriodicLeaderLoop({
      name: "t",
      intervalMs: 1000,
      isLeader: () => leader,
      onLeadership: async () => {
        events.push("lead");
      },
      pass: async () => {
        events.push("pass");
      },
    });
    loop.start();
    await loop.runOnce();
    expect(events).toEqual([]);
    leader = true;
    await loop.runOnce();
    await loop.runOnce();
    expect(events).toEqual(["lead", "pass", "pass"]);
    leader = false;
    await loop.runOnce();
    leader = true;
    await loop.runOnce();
    expect(events).toEqual(["lead", "pass", "pass", "lead", "pass"]);
    await loop.stop();
  });

  it("never overlaps passes, coalesces wakes, and stop() waits for the pass in progress", async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    let passes = 0;
    let finished = 0;
    const loop = new PeriodicLeaderLoop({
      name: "t",
      intervalMs: 5,
      isLeader: () => true,
      pass: async () => {
        inFlight++;
        passes++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await sleep(30);
        inFlight--;
        finished++;
      },
    });
    loop.start();
    for (let i = 0; i < 20; i++) loop.wake();
    await sleep(100);
    expect(maxInFlight).toBe(1);
    // 20 wakes in a burst did not queue 20 passes: ~100 ms / 30 ms per pass.
    expect(passes).toBeLessThanOrEqual(5);
    await loop.stop();
    expect(inFlight).toBe(0);
    const after = finished;
    await sleep(50);
    expect(finished).toBe(after);
  });

  it("logs a failing pass and keeps going", async () => {
    const logged: string[] = [];
    let calls = 0;
    const loop = new PeriodicLeaderLoop({
      name: "t",
      intervalMs: 5,
      isLeader: () => true,
      pass: async () => {
        calls++;
        if (calls === 1) throw new Error("boom");
      },
      log: (_message, details) => logged.push(String(details.error)),
    });
    loop.start();
    await sleep(60);
    await loop.stop();
    expect(logged.some((line) => line.includes("boom"))).toBe(true);
    expect(calls).toBeGreaterThan(1);
  });
});
