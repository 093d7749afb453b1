import type { ResourceHold, SchedulerNode } from "../../src/jobs/capacity-pool.js";
import { parseGpuDeclaration } from "../../src/jobs/gpu-inventory.js";
import type { ProjectQuota } from "../../src/jobs/quota-ledger.js";
import type { QueuedJob, ScheduleInput } from "../../src/jobs/scheduler.js";

/**
 * A deterministic, realistic-looking scheduler input for the benchmark and the large-queue test: one
 * node with 8 GPUs of two types, some running holds, a queue of mixed CPU-only, 1-, 2- and 4-GPU jobs
 * over a few projects with quotas and priorities.
 */
export function syntheticScheduleInput(options: { jobs: number; seed?: number }): ScheduleInput {
  const random = mulberry32(options.seed ?? 1);
  const gpus = parseGpuDeclaration("h100:4,a100:4");
  const nodes: SchedulerNode[] = [{ id: "local", cpu: 64, memoryMiB: 512 * 1024, gpus }];
  const holds: ResourceHold[] = [
    {
      workloadId: "running-1",
      projectId: "p0",
      nodeId: "local",
      cpu: 4,
      memoryMiB: 16384,
      gpuUuids: [gpus[0].uuid],
    },
    {
      workloadId: "running-2",
      projectId: "p1",
      nodeId: "local",
      cpu: 4,
      memoryMiB: 16384,
      gpuUuids: [gpus[4].uuid],
    },
  ];
  const quotas = new Map<string, ProjectQuota>([
    ["p0", { gpus: 4 }],
    ["p1", { gpus: 2, gpusByType: { h100: 1 } }],
  ]);
  const now = 1_700_000_000_000;
  const queue: QueuedJob[] = [];
  const gpuChoices = [0, 0, 1, 1, 1, 2, 4];
  for (let i = 0; i < options.jobs; i++) {
    const gpuCount = gpuChoices[Math.floor(random() * gpuChoices.length)];
    const typed = gpuCount > 0 && random() < 0.7;
    queue.push({
      id: `job-${String(i).padStart(6, "0")}`,
      projectId: `p${Math.floor(random() * 5)}`,
      priority: random() < 0.1 ? 10 : 0,
      submittedAt: now - (options.jobs - i) * 1000,
      nodes: random() < 0.05 ? 2 : 1,
      resources: {
        cpu: [0.5, 1, 2, 4][Math.floor(random() * 4)],
        memoryMiB: [1024, 4096, 16384][Math.floor(random() * 3)],
        gpus: gpuCount,
        ...(typed ? { gpuType: random() < 0.5 ? "h100" : "a100" } : {}),
      },
    });
  }
  return { queue, nodes, holds, quotas, now, policy: { reserveAfterMs: 3_600_000 } };
}

/** A small seeded PRNG, so the benchmark measures the same queue on every run. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
