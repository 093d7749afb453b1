import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { registerJobMetrics } from "./job-metrics.js";
import type { JobStore } from "./job-store.js";

describe("job metrics", () => {
  const store = {
    countByState: async () => ({ running: 1 }),
    deviceHolds: async () => [],
  } as unknown as JobStore;

  it("exports each running rank's use, and forgets ranks that are no longer sampled", async () => {
    const registry = new Registry();
    const metrics = registerJobMetrics(registry, store, { source: "none", nodes: [] });
    metrics.onUsage([
      {
        jobId: "j",
        replicaIndex: 1,
        usage: {
          cpuCores: 1.25,
          memoryBytes: 2048,
          gpus: [{ index: 3, utilizationPercent: 87, memoryUsedMiB: 2 }],
          sampledAt: "t",
        },
      },
    ]);
    let text = await registry.metrics();
    expect(text).toContain('mlops_job_replica_cpu_cores{job_id="j",rank="1"} 1.25');
    expect(text).toContain('mlops_job_replica_memory_bytes{job_id="j",rank="1"} 2048');
    expect(text).toContain('mlops_job_gpu_utilization_percent{job_id="j",rank="1",gpu="3"} 87');
    expect(text).toContain(`mlops_job_gpu_memory_used_bytes{job_id="j",rank="1",gpu="3"} ${2 * 1024 * 1024}`);
    metrics.onUsage([]);
    text = await registry.metrics();
    expect(text).not.toContain('job_id="j"');
  });

  it("observes queue wait and time to start by GPU type", async () => {
    const registry = new Registry();
    const metrics = registerJobMetrics(registry, store, { source: "none", nodes: [] });
    metrics.onScheduled("h100", 42);
    metrics.onStarted("none", 0.3);
    const text = await registry.metrics();
    expect(text).toContain('mlops_job_queue_wait_seconds_bucket{le="60",gpu_type="h100"} 1');
    expect(text).toContain('mlops_job_queue_wait_seconds_bucket{le="30",gpu_type="h100"} 0');
    expect(text).toContain('mlops_job_time_to_start_seconds_count{gpu_type="none"} 1');
  });
});
