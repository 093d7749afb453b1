import type { ArtifactStore } from "../artifacts/artifact-store.js";
import type { BlobOwnership } from "../artifacts/blob-ownership.js";
import type { AuditLog } from "../audit/audit-log.js";
import type { IdentityService } from "../auth/identity-service.js";
import type { Principal } from "../auth/principal.js";
import type { Runtime } from "../runtime/runtime.js";
import type { TrackingService } from "../tracking/tracking-service.js";
import { deviceByUuid, type WorkloadInventory } from "./inventory.js";
import { isTerminal, type Job, type JobState } from "./job.js";
import { JobExecutor } from "./job-executor.js";
import { JobLauncher } from "./job-launcher.js";
import { archiveReplicaLogs, type JobLogDeps } from "./job-logs.js";
import { JobSchedulerLoop } from "./job-loop.js";
import { JobService } from "./job-service.js";
import type { JobStore } from "./job-store.js";
import { jobTrackingFrom } from "./job-tracking.js";
import { JobTransitions } from "./job-transitions.js";
import type { SchedulerPolicy } from "./scheduler.js";
import type { JobSecretEnvStore } from "./job-secrets.js";
import { createJobUsageSampler, type ReplicaUsageSample } from "./job-usage-sampler.js";
import type { PeriodicLeaderLoop } from "../leases/periodic-leader-loop.js";

/** The principal the scheduler acts as (closing runs, revoking workload tokens). */
export const SCHEDULER_PRINCIPAL: Principal = {
  userId: "system",
  userName: "system",
  role: "admin",
  tokenId: "system",
};

export interface JobSystemDeps {
  store: JobStore;
  runtime: Runtime;
  /** The backend's inventory at start-up. */
  inventory: WorkloadInventory;
  /** A cluster backend's fresh inventory, fetched before each scheduling pass (WorkloadBackend). */
  refreshInventory?: () => Promise<WorkloadInventory>;
  /** Code archives and archived logs. */
  artifacts: ArtifactStore;
  /** Code archives resolve only for the project that owns them. */
  blobs: BlobOwnership;
  identity: IdentityService;
  audit: AuditLog;
  tracking: TrackingService;
  isLeader: () => boolean;
  /** URL workloads reach the control plane at. */
  apiUrl: () => string;
  policy?: Partial<SchedulerPolicy>;
  graceMs?: number;
  /** Network of every job's replicas: "host" (default) or "none" (docs/security.md). */
  jobNetwork?: "host" | "none";
  /** Write-only job env values (docs/security.md); without it `secretEnv` is refused. */
  secretEnv?: JobSecretEnvStore;
  log: (level: "info" | "warn" | "error", message: string, details?: Record<string, unknown>) => void;
  /** Metrics hooks. */
  onTransition?: (to: JobState) => void;
  onPass?: (stats: { queued: number; placed: number; durationMs: number }) => void;
  /** A job was claimed: seconds it waited in the queue, and the GPU type it got ("none": CPU only). */
  onScheduled?: (gpuType: string, queueWaitSeconds: number) => void;
  /** A job's replicas all run: seconds since it was claimed. */
  onStarted?: (gpuType: string, timeToStartSeconds: number) => void;
  /** Every running replica's resource use, sampled on the leader (every `usageSampleMs`, default 10 s). */
  onUsage?: (samples: ReplicaUsageSample[]) => void;
  usageSampleMs?: number;
}

export interface JobSystem {
  service: JobService;
  loop: JobSchedulerLoop;
  /** Samples running replicas' CPU/memory/GPU use for /metrics (a background loop, leader only). */
  usageSampler: PeriodicLeaderLoop;
  executor: JobExecutor;
  logs: JobLogDeps;
}

/** Wires the job domain: service (API), scheduler loop, executor, launcher. */
export function createJobSystem(deps: JobSystemDeps): JobSystem {
  const tracking = jobTrackingFrom(deps.tracking, SCHEDULER_PRINCIPAL);
  const transitions = new JobTransitions(deps.store, deps.audit, (transition) => {
    deps.onTransition?.(transition.to);
    // An ended job's write-only env is needed by no attempt any more (docs/security.md).
    if (isTerminal(transition.to) && deps.secretEnv) {
      deps.secretEnv.remove(transition.jobId).catch((err: unknown) => {
        deps.log("warn", "could not remove an ended job's secret env", { jobId: transition.jobId, err });
      });
    }
  });
  const revokeToken = async (tokenId: string) => {
    await deps.identity.revokeToken(SCHEDULER_PRINCIPAL, tokenId);
  };
  // After a control-plane restart the executor no longer knows a job's token id: find it by scope.
  const revokeJobTokens = async (jobId: string) => {
    for (const token of await deps.identity.listTokens(SCHEDULER_PRINCIPAL, "*")) {
      if (token.scope?.jobId === jobId && !token.revokedAt) await revokeToken(token.id);
    }
  };
  // The inventory the scheduler, the launcher and the API see; a cluster backend's is refreshed per pass.
  let inventory = deps.inventory;
  let devices = deviceByUuid(inventory);
  const refreshInventory = deps.refreshInventory
    ? async () => {
        inventory = await deps.refreshInventory!();
        devices = deviceByUuid(inventory);
        return inventory;
      }
    : undefined;
  const launcher = new JobLauncher({
    runtime: deps.runtime,
    devices: () => devices,
    issueToken: async (job, ttlSeconds) => {
      if (!job.ownerId) throw new Error(`job ${job.id} has no owner to issue its token to`);
      const issued = await deps.identity.issueWorkloadToken(
        job.ownerId,
        { projectId: job.projectId, jobId: job.id, ...(job.runId ? { runId: job.runId } : {}) },
        ttlSeconds,
      );
      return { token: issued.token, tokenId: issued.info.id };
    },
    revokeToken,
    apiUrl: deps.apiUrl,
    graceMs: deps.graceMs,
    network: deps.jobNetwork,
    secretEnv: async (jobId) => (deps.secretEnv ? deps.secretEnv.get(jobId) : {}),
  });
  // The executor and the loop need each other (the executor wakes the loop, runs through its queue).
  let loop: JobSchedulerLoop | undefined;
  const executor = new JobExecutor({
    store: deps.store,
    runtime: deps.runtime,
    launcher,
    transitions,
    tracking,
    archiveLogs: (replicaId) => archiveReplicaLogs(deps.runtime, deps.artifacts, replicaId),
    revokeToken,
    revokeJobTokens,
    removeJobFiles: (jobId) => deps.runtime.removeJobFiles(jobId),
    onStarted: (job, seconds, deviceUuid) =>
      deps.onStarted?.(gpuTypeLabel(job, deviceUuid ? devices.get(deviceUuid)?.type : undefined), seconds),
    isLeader: deps.isLeader,
    serial: (work) => loop!.serial(work),
    wake: () => loop?.wake(),
    log: deps.log,
  });
  loop = new JobSchedulerLoop({
    store: deps.store,
    executor,
    transitions,
    inventory: () => inventory,
    refreshInventory,
    isLeader: deps.isLeader,
    log: deps.log,
    policy: deps.policy,
    onPass: deps.onPass,
    onScheduled: deps.onScheduled,
    executionBlocked: () => {
      const runtime = deps.runtime.describe();
      if (runtime.sandbox !== "unavailable") return null;
      return `waiting: job execution is disabled, no working sandbox (${runtime.sandboxReason ?? "unknown"}); the operator must fix it or set MLOPS_SANDBOX=none`;
    },
  });
  const logs: JobLogDeps = { store: deps.store, runtime: deps.runtime, artifacts: deps.artifacts };
  const service = new JobService({
    store: deps.store,
    projects: deps.identity,
    audit: deps.audit,
    tracking,
    transitions,
    ownsBlob: async (projectId, sha256) => (await deps.blobs.resolve(projectId, sha256)) !== undefined,
    inventory: () => inventory,
    secretEnv: deps.secretEnv,
    describeRuntime: () => deps.runtime.describe(),
    ...(deps.jobNetwork ? { defaultNetwork: deps.jobNetwork } : {}),
    usage: (replicaId) => deps.runtime.usage(replicaId),
    wake: () => loop?.wake(),
    logs,
  });
  const usageSampler = createJobUsageSampler({
    store: deps.store,
    runtime: deps.runtime,
    isLeader: deps.isLeader,
    onSample: (samples) => deps.onUsage?.(samples),
    log: deps.log,
    intervalMs: deps.usageSampleMs,
  });
  return { service, loop, executor, logs, usageSampler };
}

/** The metrics label of a job's GPU type: what it got, else what it asked for, "none" for CPU only. */
function gpuTypeLabel(job: Job, placedType: string | undefined): string {
  if (job.resources.gpus === 0) return "none";
  return placedType ?? job.resources.gpuType ?? "any";
}
