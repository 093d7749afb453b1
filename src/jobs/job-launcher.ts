import type { RankLayout, ReplicaHandle, ReplicaSpec, Runtime } from "../runtime/runtime.js";
import type { GpuDevice } from "./gpu-inventory.js";
import { gangShape, type Job } from "./job.js";
import type { JobReplica } from "./job-store.js";
import { workloadEnv } from "./workload-env.js";

/** A token for one attempt of a job, scoped to its project, job and run. */
export interface IssuedWorkloadToken {
  token: string;
  tokenId: string;
}

export interface JobLauncherDeps {
  runtime: Runtime;
  /** The inventory's devices by uuid (current: a cluster backend's inventory changes). */
  devices: () => ReadonlyMap<string, GpuDevice>;
  issueToken: (job: Job, ttlSeconds: number) => Promise<IssuedWorkloadToken>;
  revokeToken: (tokenId: string) => Promise<void>;
  /** The job's write-only env values (docs/security.md); none when unset. */
  secretEnv?: (jobId: string) => Promise<Record<string, string>>;
  /** URL workloads reach the control plane at (known once the server listens). */
  apiUrl: () => string;
  /** SIGTERM -> SIGKILL grace on stop and timeout; the runtime's default when unset. */
  graceMs?: number;
  /** The replicas' network (docs/security.md); the runtime's default ("host") when unset. */
  network?: "host" | "none";
}

/** Long enough for any sane run without a timeout; a timeout bounds it tighter. */
const TOKEN_TTL_WITHOUT_TIMEOUT_S = 7 * 24 * 3600;

/**
 * Starts the replicas of a placed attempt: the job's workload token, the environment of
 * docs/jobs-and-workloads.md, and one replica spec per rank with exactly its devices, started as one
 * gang (runtime.startGang: all run or none does). The runtime owns the working directory, the code
 * archive (by digest), `python`, CUDA_VISIBLE_DEVICES and the torchrun environment.
 */
export class JobLauncher {
  constructor(private readonly deps: JobLauncherDeps) {}

  async start(
    job: Job,
    replicas: readonly JobReplica[],
  ): Promise<{ handles: ReplicaHandle[]; tokenId: string }> {
    const ttl = job.timeoutSeconds === null ? TOKEN_TTL_WITHOUT_TIMEOUT_S : job.timeoutSeconds + 3600;
    const { token, tokenId } = await this.deps.issueToken(job, ttl);
    try {
      const secretEnv = (await this.deps.secretEnv?.(job.id)) ?? {};
      const specs = replicaSpecs(job, replicas, {
        apiUrl: this.deps.apiUrl(),
        token,
        secretEnv,
        devices: this.deps.runtime.describe().placement === "platform" ? this.deps.devices() : null,
        graceMs: this.deps.graceMs,
        network: this.deps.network,
      });
      return { handles: await this.deps.runtime.startGang(specs), tokenId };
    } catch (err) {
      await this.deps.revokeToken(tokenId).catch(() => undefined);
      throw err;
    }
  }
}

export interface SpecContext {
  apiUrl: string;
  token: string;
  secretEnv: Record<string, string>;
  /** Devices by uuid where the platform places; null where the cluster chooses devices. */
  devices: ReadonlyMap<string, GpuDevice> | null;
  graceMs?: number;
  network?: "host" | "none";
}

/** One runtime spec per rank (replica rows sorted or not; the spec order is the rank order). */
export function replicaSpecs(job: Job, replicas: readonly JobReplica[], context: SpecContext): ReplicaSpec[] {
  const { nodes, procsPerNode } = gangShape(job);
  const worldSize = nodes * procsPerNode;
  if (replicas.length !== worldSize) {
    throw new Error(`job ${job.id} has ${replicas.length} placed replicas for ${worldSize} ranks`);
  }
  const network = job.network ?? context.network;
  // Whoever may read the job's logs must not learn its token (or its secrets) from them.
  const maskInLogs = [
    context.token,
    ...Object.values(context.secretEnv).filter((value) => value.length >= 4),
  ];
  return [...replicas]
    .sort((a, b) => a.replicaIndex - b.replicaIndex)
    .map((replica) => {
      const devices = context.devices === null ? undefined : devicesOf(replica, context.devices);
      const rank: RankLayout | undefined = job.distributed
        ? {
            rank: replica.replicaIndex,
            localRank: replica.replicaIndex % procsPerNode,
            nodeRank: Math.floor(replica.replicaIndex / procsPerNode),
            worldSize,
            localWorldSize: procsPerNode,
            nodes,
          }
        : undefined;
      const gpuType = job.resources.gpuType ?? devices?.[0]?.type;
      return {
        jobId: job.id,
        attempt: job.attempt,
        replicaIndex: replica.replicaIndex,
        kind: job.kind ?? "job",
        ...(context.devices !== null ? { node: replica.nodeId } : {}),
        ...(job.image ? { image: job.image } : {}),
        ...(job.codeDigest ? { codeDigest: job.codeDigest } : {}),
        command: [...job.command],
        env: workloadEnv({
          job,
          replicaIndex: replica.replicaIndex,
          apiUrl: context.apiUrl,
          token: context.token,
          secretEnv: context.secretEnv,
        }),
        resources: {
          cpu: replica.cpu,
          memoryMiB: replica.memoryMiB,
          gpus: replica.gpuUuids.length,
          ...(gpuType !== undefined && replica.gpuUuids.length > 0 ? { gpuType } : {}),
          ...(devices !== undefined
            ? {
                devices: devices.map((device) => ({
                  index: device.index,
                  uuid: device.uuid,
                  simulated: device.simulated,
                })),
              }
            : {}),
        },
        ...(rank ? { rank } : {}),
        ...(job.ports ? { ports: job.ports } : {}),
        ...(job.volumes ? { volumes: job.volumes } : {}),
        ...(job.user ? { user: job.user } : {}),
        timeoutSeconds: job.timeoutSeconds,
        ...(context.graceMs !== undefined ? { graceMs: context.graceMs } : {}),
        // The job's own choice, else the server's default (MLOPS_JOB_NETWORK), else the runtime's.
        ...(network !== undefined ? { network } : {}),
        maskInLogs,
      } satisfies ReplicaSpec;
    });
}

function devicesOf(replica: JobReplica, devices: ReadonlyMap<string, GpuDevice>): GpuDevice[] {
  return replica.gpuUuids.map((uuid) => {
    const device = devices.get(uuid);
    if (!device) throw new Error(`GPU ${uuid} is not in the inventory any more`);
    return device;
  });
}
