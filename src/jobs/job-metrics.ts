import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { WorkloadInventory } from "./inventory.js";
import { inventoryDevices } from "./inventory.js";
import { JOB_STATES, type JobState } from "./job.js";
import type { JobStore } from "./job-store.js";
import type { ReplicaUsageSample } from "./job-usage-sampler.js";

export interface JobMetrics {
  onTransition(to: JobState): void;
  onPass(stats: { queued: number; placed: number; durationMs: number }): void;
  /** A job was claimed after waiting `seconds` in the queue. */
  onScheduled(gpuType: string, seconds: number): void;
  /** A claimed job's replicas all run, `seconds` after the claim. */
  onStarted(gpuType: string, seconds: number): void;
  /** The latest resource samples of every running replica (replaces the previous set). */
  onUsage(samples: readonly ReplicaUsageSample[]): void;
}

/** Queue waits span seconds to days. */
const WAIT_BUCKETS = [1, 5, 15, 30, 60, 300, 900, 1800, 3600, 3 * 3600, 12 * 3600, 24 * 3600];
/** Starting is unpacking code and spawning processes (local) or pulling images (clusters). */
const START_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/**
 * Jobs on /metrics. Queue depth and GPU allocation are read from the database at scrape time, so every
 * control-plane replica reports the same numbers: `mlops_jobs{state}`, `mlops_gpus{state=total|allocated}`;
 * plus this process's `mlops_job_transitions_total{to}`, scheduler pass durations, queue wait and
 * time-to-start histograms by GPU type, and (on the leader, which samples them) each running replica's
 * CPU, memory and GPU use.
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
  const queueWait = new Histogram({
    name: "mlops_job_queue_wait_seconds",
    help: "Time from entering the queue (submit or retry) to being scheduled, by GPU type (none: CPU only)",
    labelNames: ["gpu_type"] as const,
    buckets: WAIT_BUCKETS,
    registers: [registry],
  });
  const timeToStart = new Histogram({
    name: "mlops_job_time_to_start_seconds",
    help: "Time from being scheduled to all replicas running, by GPU type (none: CPU only)",
    labelNames: ["gpu_type"] as const,
    buckets: START_BUCKETS,
    registers: [registry],
  });
  const usage = registerUsageGauges(registry);
  return {
    onTransition: (to) => transitions.inc({ to }),
    onPass: (stats) => passes.observe(stats.durationMs / 1000),
    onScheduled: (gpuType, seconds) => queueWait.observe({ gpu_type: gpuType }, seconds),
    onStarted: (gpuType, seconds) => timeToStart.observe({ gpu_type: gpuType }, seconds),
    onUsage: usage,
  };
}

/** Per-replica gauges, reset on each sample so that ended replicas disappear from /metrics. */
function registerUsageGauges(registry: Registry): (samples: readonly ReplicaUsageSample[]) => void {
  const labels = ["job_id", "rank"] as const;
  const gpuLabels = ["job_id", "rank", "gpu"] as const;
  const cpu = new Gauge({
    name: "mlops_job_replica_cpu_cores",
    help: "CPU cores a running job replica (rank) used over the last sample interval",
    labelNames: labels,
    registers: [registry],
  });
  const memory = new Gauge({
    name: "mlops_job_replica_memory_bytes",
    help: "Resident memory of a running job replica's processes",
    labelNames: labels,
    registers: [registry],
  });
  const gpuUtil = new Gauge({
    name: "mlops_job_gpu_utilization_percent",
    help: "GPU utilisation of a running job replica, per device (where nvidia-smi or the cluster reports it)",
    labelNames: gpuLabels,
    registers: [registry],
  });
  const gpuMemory = new Gauge({
    name: "mlops_job_gpu_memory_used_bytes",
    help: "GPU memory a running job replica uses, per device (where measured)",
    labelNames: gpuLabels,
    registers: [registry],
  });
  return (samples) => {
    for (const gauge of [cpu, memory, gpuUtil, gpuMemory]) gauge.reset();
    for (const { jobId, replicaIndex, usage } of samples) {
      const at = { job_id: jobId, rank: String(replicaIndex) };
      if (usage.cpuCores !== undefined) cpu.set(at, usage.cpuCores);
      if (usage.memoryBytes !== undefined) memory.set(at, usage.memoryBytes);
      for (const device of usage.gpus ?? []) {
        const perGpu = { ...at, gpu: String(device.index) };
        gpuUtil.set(perGpu, device.utilizationPercent);
        gpuMemory.set(perGpu, device.memoryUsedMiB * 1024 * 1024);
      }
    }
  };
}
