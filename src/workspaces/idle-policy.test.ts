import { describe, expect, it } from "vitest";
import { DEFAULT_IDLE_POLICY, idleVerdict, inLifetimeWarning, isBusy } from "./idle-policy.js";
import type { Workspace } from "./workspace.js";

const T0 = 1_000_000;
const running = {
  name: "dev1",
  state: "running",
  idleTimeoutSeconds: 600,
  startedAt: T0,
  lastActivityAt: T0,
  sessions: 0,
  lastReportAt: T0,
  idleWarnedAt: null,
} as unknown as Workspace;
const policy = { ...DEFAULT_IDLE_POLICY, warnBeforeMs: 120_000 };

describe("idle culling policy", () => {
  it("an SSH session, CPU or GPU use is activity; a stale agent report is not", () => {
    expect(isBusy({ ...running, sessions: 1 }, {}, T0 + 1000, policy)).toBe(true);
    expect(isBusy({ ...running, sessions: 1 }, {}, T0 + policy.reportStaleMs + 1, policy)).toBe(false);
    expect(isBusy(running, { cpuCores: 0.9 }, T0, policy)).toBe(true);
    expect(isBusy(running, { cpuCores: 0.05 }, T0, policy)).toBe(false);
    expect(isBusy(running, { gpuUtilizationPercent: [0, 40] }, T0, policy)).toBe(true);
  });

  it("warns before the idle timeout once, then stops", () => {
    expect(idleVerdict(running, false, T0 + 60_000, policy).kind).toBe("idle");
    const warn = idleVerdict(running, false, T0 + 500_000, policy);
    expect(warn.kind).toBe("warn");
    expect(idleVerdict({ ...running, idleWarnedAt: T0 + 500_000 }, false, T0 + 550_000, policy).kind).toBe(
      "idle",
    );
    const stop = idleVerdict(running, false, T0 + 600_000, policy);
    expect(stop).toMatchObject({ kind: "stop", cause: "idle" });
    expect(idleVerdict(running, true, T0 + 900_000, policy).kind).toBe("active");
  });

  it("the maximum lifetime stops even a busy workspace, after a warning", () => {
    const limited = { ...policy, maxLifetimeMs: 3_600_000 };
    expect(idleVerdict(running, true, T0 + 3_500_000, limited)).toMatchObject({ kind: "warn" });
    expect(inLifetimeWarning(running, T0 + 3_500_000, limited)).toBe(true);
    expect(idleVerdict(running, true, T0 + 3_600_000, limited)).toMatchObject({
      kind: "stop",
      cause: "lifetime",
    });
  });
});
