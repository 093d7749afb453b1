import { describe, expect, it } from "vitest";
import type { ReplicaUsage } from "../runtime/runtime.js";
import type { JobReplica } from "./job-store.js";
import { sampleRunningReplicas } from "./job-usage-sampler.js";

describe("sampleRunningReplicas", () => {
  it("samples each running replica, skipping those the runtime cannot measure or has lost", async () => {
    const running = [0, 1, 2].map(
      (index) => ({ replicaId: `j.a0.r${index}`, jobId: "j", replicaIndex: index }) as JobReplica,
    );
    const usage: Record<string, ReplicaUsage | null | Error> = {
      "j.a0.r0": { cpuCores: 1.5, memoryBytes: 1024, sampledAt: "t" },
      "j.a0.r1": null,
      "j.a0.r2": new Error("gone"),
    };
    const samples = await sampleRunningReplicas({
      store: { runningReplicas: async () => running },
      runtime: {
        usage: async (id) => {
          const value = usage[id];
          if (value instanceof Error) throw value;
          return value;
        },
      },
    });
    expect(samples).toEqual([
      { jobId: "j", replicaIndex: 0, usage: { cpuCores: 1.5, memoryBytes: 1024, sampledAt: "t" } },
    ]);
  });
});
