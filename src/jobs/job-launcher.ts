import type { ReplicaHandle, Runtime } from "../runtime/runtime.js";
import type { GpuDevice } from "./gpu-inventory.js";
import type { Job } from "./job.js";
import type { JobReplica } from "./job-store.js";
import type { JobWorkDirs } from "./job-workdirs.js";
import { resolveCommand, workloadEnv } from "./workload-env.js";

/** A token for one attempt of a job, scoped to its project, job and run. */
export interface IssuedWorkloadToken {
  token: string;
  tokenId: string;
}

export interface JobLauncherDeps {
  runtime: Runtime;
  workDirs: JobWorkDirs;
  devices: ReadonlyMap<string, GpuDevice>;
  issueToken: (job: Job, ttlSeconds: number) => Promise<IssuedWorkloadToken>;
  revokeToken: (tokenId: string) => Promise<void>;
  /** The job's write-only env values (docs/security.md); none when unset. */
  secretEnv?: (jobId: string) => Promise<Record<string, string>>;
  /** URL workloads reach the control plane at (known once the server listens). */
  apiUrl: () => string;
  /** The interpreter `python` means, or null to leave the command alone. */
  python: () => Promise<string | null>;
  sdkPythonDir?: string;
  /** SIGTERM -> SIGKILL grace on stop and timeout; the runtime's default when unset. */
  graceMs?: number;
  /** The replicas' network (docs/security.md); the runtime's default ("host") when unset. */
  network?: "host" | "none";
}

/** Long enough for any sane run without a timeout; a timeout bounds it tighter. */
const TOKEN_TTL_WITHOUT_TIMEOUT_S = 7 * 24 * 3600;

/**
 * Starts the replicas of a placed attempt: the job's directory, its workload token, the
 * environment of docs/jobs-and-workloads.md, and one runtime replica per placement with exactly its GPUs. All or none: if one replica
 * fails to start, the ones already started are stopped before the error propagates.
 */
export class JobLauncher {
  constructor(private readonly deps: JobLauncherDeps) {}

  async start(
    job: Job,
    replicas: readonly JobReplica[],
  ): Promise<{ handles: ReplicaHandle[]; tokenId: string }> {
    const { workDir, outputDir } = await this.deps.workDirs.prepare(job);
    const ttl = job.timeoutSeconds === null ? TOKEN_TTL_WITHOUT_TIMEOUT_S : job.timeoutSeconds + 3600;
    const { token, tokenId } = await this.deps.issueToken(job, ttl);
    const command = resolveCommand(job.command, needsPython(job.command) ? await this.deps.python() : null);
    const secretEnv = (await this.deps.secretEnv?.(job.id)) ?? {};
    const handles: ReplicaHandle[] = [];
    try {
      for (const replica of replicas) {
        const gpus = replica.gpuUuids.map((uuid) => {
          const device = this.deps.devices.get(uuid);
          if (!device) throw new Error(`GPU ${uuid} is not in the inventory any more`);
          return device;
        });
        const env = workloadEnv({
          job,
          replicaIndex: replica.replicaIndex,
          apiUrl: this.deps.apiUrl(),
          token,
          outputDir,
          gpus,
          sdkPythonDir: this.deps.sdkPythonDir,
          secretEnv,
        });
        handles.push(
          await this.deps.runtime.start({
            jobId: job.id,
            attempt: job.attempt,
            replicaIndex: replica.replicaIndex,
            command,
            env,
            workDir,
            // Simulated devices have no device node to expose.
            gpuDeviceIndices: gpus.filter((device) => !device.simulated).map((device) => device.index),
            memoryMiB: replica.memoryMiB,
            cpu: replica.cpu,
            timeoutSeconds: job.timeoutSeconds,
            ...(this.deps.graceMs !== undefined ? { graceMs: this.deps.graceMs } : {}),
            // The job's own choice, else the server's default (MLOPS_JOB_NETWORK), else the runtime's.
            ...((job.network ?? this.deps.network) !== undefined
              ? { network: job.network ?? this.deps.network }
              : {}),
            // Whoever may read the job's logs must not learn its token from them.
            maskInLogs: [token, ...Object.values(secretEnv).filter((value) => value.length >= 4)],
          }),
        );
      }
    } catch (err) {
      await Promise.allSettled(
        handles.map((handle) => this.deps.runtime.stop(handle.replicaId, { graceMs: 0 })),
      );
      await Promise.allSettled(handles.map((handle) => this.deps.runtime.remove(handle.replicaId)));
      await this.deps.revokeToken(tokenId).catch(() => undefined);
      throw err;
    }
    return { handles, tokenId };
  }
}

function needsPython(command: readonly string[]): boolean {
  return command[0] === "python" || command[0] === "python3";
}
