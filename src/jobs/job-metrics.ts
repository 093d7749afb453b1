import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { WorkloadInventory } from "./inventory.js";
import { inventoryDevices } from "./inventory.js";
import { JOB_STATES, type JobState } from "./job.js";
import type { JobStore } from "./job-store.js";

export interface JobMetrics {
  onTransition(to: JobState): void;
  onPass(stats: { queued: number; placed: number; durationMs: number }): void;
}

/**
 * Jobs on /metrics. Queue depth and GPU allocation are read from the database at scrape time, so every
 * control-plane replica reports the same numbers: `mlops_jobs{state}`, `mlops_gpus{state=total|allocated}`;
 * plus this process's `mlops_job_transitions_total{to}` and scheduler pass durations.
 */
export function registerJobMetrics(
  registry: Registry,
  store: JobStore,
  inventory: WorkloadInventory,
  onError: (err: unknown) => void = () => {},
): JobMetrics {
  new Gauge({
    name: "mlops_jobs",
    help: "Jobs per state (queue depth is state=queued)",
    labelNames: ["state"] as const,
    registers: [registry],
    async collect() {
      try {
        const counts = await store.countByState();
        for (const state of JOB_STATES) this.set({ state }, counts[state] ?? 0);
      } catch (err) {
        onError(err);
      }
    },
  });
  new Gauge({
    name: "mlops_gpus",
    help: "GPUs in the inventory (state=total) and held by workloads (state=allocated)",
    labelNames: ["state"] as const,
    registers: [registry],
    async collect() {
      this.set({ state: "total" }, inventoryDevices(inventory).length);
      try {
        this.set({ state: "allocated" }, (await store.deviceHolds()).length);
      } catch (err) {
        onError(err);
      }
    },
  });
  const transitions = new Counter({
    name: "mlops_job_transitions_total",
    help: "Job state transitions recorded by this process, by target state",
    labelNames: ["to"] as const,
    registers: [registry],
  });
  const passes = new Histogram({
    name: "mlops_scheduler_pass_seconds",
    help: "Duration of scheduling passes over a non-empty queue",
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  return {
    onTransition: (to) => transitions.inc({ to }),
    onPass: (stats) => passes.observe(stats.durationMs / 1000),
  };
}
