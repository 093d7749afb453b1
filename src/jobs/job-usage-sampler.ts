import { PeriodicLeaderLoop } from "../leases/periodic-leader-loop.js";
import type { ReplicaUsage, Runtime } from "../runtime/runtime.js";
import type { JobStore } from "./job-store.js";

/** One running replica's latest sample. */
export interface ReplicaUsageSample {
  jobId: string;
  replicaIndex: number;
  usage: ReplicaUsage;
}

export interface JobUsageSamplerDeps {
  store: Pick<JobStore, "runningReplicas">;
  runtime: Pick<Runtime, "usage">;
  isLeader: () => boolean;
  onSample: (samples: ReplicaUsageSample[]) => void;
  log: (level: "warn", message: string, details?: Record<string, unknown>) => void;
  /** Default 10 s: cheap (one query, one runtime read per running replica). */
  intervalMs?: number;
}

/**
 * Samples the resource use of every running job replica (runtime.usage) for /metrics, on the leader only:
 * it is the process whose runtime watches the replicas. `job show` asks the runtime directly.
 */
export function createJobUsageSampler(deps: JobUsageSamplerDeps): PeriodicLeaderLoop {
  return new PeriodicLeaderLoop({
    name: "job-usage-sampler",
    intervalMs: deps.intervalMs ?? 10_000,
    isLeader: deps.isLeader,
    pass: async () => deps.onSample(await sampleRunningReplicas(deps)),
    log: (message, details) => deps.log("warn", message, details),
  });
}

export async function sampleRunningReplicas(
  deps: Pick<JobUsageSamplerDeps, "store" | "runtime">,
): Promise<ReplicaUsageSample[]> {
  const samples: ReplicaUsageSample[] = [];
  for (const replica of await deps.store.runningReplicas()) {
    const usage = await deps.runtime.usage(replica.replicaId).catch(() => null);
    if (usage) samples.push({ jobId: replica.jobId, replicaIndex: replica.replicaIndex, usage });
  }
  return samples;
}
