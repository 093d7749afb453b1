import { randomUUID } from "node:crypto";
import { isSha256Hex } from "../artifacts/artifact-store.js";
import type { AuditLog } from "../audit/audit-log.js";
import type { Project } from "../auth/identity-store.js";
import { actorOf, type Principal } from "../auth/principal.js";
import type { Permission } from "../auth/roles.js";
import { ConflictError, ForbiddenError, InputError, NotFoundError } from "../errors.js";
import type { RuntimeDescription } from "../runtime/runtime.js";
import type { GpuDevice } from "./gpu-inventory.js";
import type { WorkloadInventory } from "./inventory.js";
import {
  createJob,
  isTerminal,
  type Job,
  type JobNetwork,
  type JobResources,
  type JobState,
  JOB_STATES,
} from "./job.js";
import { followJobLogs, type JobLogDeps, type JobLogEvent, type LogStream, replicaLogs } from "./job-logs.js";
import type { JobEvent, JobReplica, JobStore } from "./job-store.js";
import type { LogChunk } from "../runtime/runtime.js";
import { DEFAULT_JOB_EXPERIMENT, type JobTracking } from "./job-tracking.js";
import type { JobTransitions } from "./job-transitions.js";
import { validateJobRequest } from "./request-validation.js";
import { type JobSecretEnvStore, validateSecretEnv } from "./job-secrets.js";
import { reservedEnvNames } from "./workload-env.js";

/** What the job service needs from identity (IdentityService satisfies it). */
export interface JobProjects {
  getProject(principal: Principal, idOrName: string, permission?: Permission): Promise<Project>;
  listProjects(principal: Principal): Promise<Project[]>;
}

export interface SubmitJobInput {
  /** Project name or id; default `default`. */
  project?: string;
  name?: string;
  command: string[];
  env?: Record<string, string>;
  /** Write-only env values: reach the workload, never any view (docs/security.md). */
  secretEnv?: Record<string, string>;
  resources?: Partial<JobResources>;
  /** "none": no network at all, not even the API; default the server's MLOPS_JOB_NETWORK. */
  network?: JobNetwork;
  priority?: number;
  maxRetries?: number;
  timeoutSeconds?: number | null;
  /** sha256 of a code archive uploaded before (`POST /api/v1/jobs/code`). */
  codeDigest?: string;
  /** Experiment (name) of the job's run; default `jobs`. */
  experiment?: string;
}

export interface JobListInput {
  project?: string;
  states?: string[];
  limit?: number;
  cursor?: string;
}

export interface GpuView {
  source: WorkloadInventory["source"];
  devices: Array<
    GpuDevice & {
      nodeId: string;
      /** `otherProject`: held by a job of a project the caller may not read (docs/security.md). */
      heldBy:
        | { jobId: string; jobName: string; projectId: string; replicaIndex: number }
        | { otherProject: true }
        | null;
    }
  >;
  nodes: Array<{
    id: string;
    cpu: number;
    memoryMiB: number;
    cpuHeld: number;
    memoryMiBHeld: number;
    gpus: number;
  }>;
  runtime: RuntimeDescription;
}

export interface JobServiceDeps {
  store: JobStore;
  projects: JobProjects;
  audit: AuditLog;
  tracking: JobTracking;
  transitions: JobTransitions;
  /** Whether the project owns this code archive and it exists (BlobOwnership; docs/security.md, tenancy). */
  ownsBlob: (projectId: string, sha256: string) => Promise<boolean>;
  inventory: WorkloadInventory;
  /** Where write-only env values are kept; without it `secretEnv` is refused. */
  secretEnv?: JobSecretEnvStore;
  describeRuntime: () => RuntimeDescription;
  /** Asks the scheduler for a pass now (submit, cancel). */
  wake: () => void;
  logs: JobLogDeps;
  now?: () => number;
}

const MAX_PAGE = 500;

/** Jobs as users see them: submit, list, show, cancel, history; and the GPU inventory. */
export class JobService {
  private readonly now: () => number;

  constructor(private readonly deps: JobServiceDeps) {
    this.now = deps.now ?? Date.now;
  }

  async submit(principal: Principal, input: SubmitJobInput): Promise<Job> {
    if (principal.scope) throw new ForbiddenError("a workload token cannot submit jobs");
    const project = await this.deps.projects.getProject(principal, input.project ?? "default", "write");
    const reserved = reservedEnvNames(input.env ?? {});
    if (reserved.length > 0) {
      throw new InputError(`environment variable(s) ${reserved.join(", ")} are set by the platform`);
    }
    const secretEnv = validateSecretEnv(input.secretEnv ?? {}, input.env ?? {});
    if (Object.keys(secretEnv).length > 0 && !this.deps.secretEnv)
      throw new InputError("this server does not store secret env values");
    const job = createJob(
      {
        projectId: project.id,
        name: input.name,
        command: input.command,
        env: input.env,
        resources: input.resources,
        ...(input.network ? { network: input.network } : {}),
        priority: input.priority,
        maxRetries: input.maxRetries,
        timeoutSeconds: input.timeoutSeconds,
        createdBy: principal.userName,
        codeDigest: input.codeDigest?.toLowerCase(),
      },
      randomUUID(),
      new Date(this.now()),
    );
    job.ownerId = principal.userId;
    validateJobRequest(job.resources, this.deps.inventory.nodes, {
      replicas: job.replicas,
      quota: project.quotas,
    });
    if (job.codeDigest !== undefined) {
      if (!isSha256Hex(job.codeDigest)) throw new InputError("codeDigest must be a sha256 hex digest");
      // Another project's archive gets the same answer as a missing one: no existence leak.
      if (!(await this.deps.ownsBlob(project.id, job.codeDigest))) {
        throw new NotFoundError(
          `no code archive ${job.codeDigest}: upload it first (POST /api/v1/jobs/code)`,
        );
      }
    }
    const run = await this.deps.tracking.createRun(principal, {
      projectId: project.id,
      experiment: input.experiment?.trim() || DEFAULT_JOB_EXPERIMENT,
      runName: job.name,
      jobId: job.id,
      codeDigest: job.codeDigest,
    });
    job.runId = run.runId;
    job.experimentId = run.experimentId;
    // Before the job exists for the scheduler, so no attempt can start without its secrets.
    if (Object.keys(secretEnv).length > 0) await this.deps.secretEnv?.put(job.id, secretEnv);
    const actor = actorOf(principal);
    await this.deps.store.insertJob(job, {
      at: Date.parse(job.submittedAt),
      from: null,
      to: "queued",
      attempt: 0,
      actor,
      reason: "submitted",
      details: { runId: run.runId },
    });
    await this.deps.audit.record({
      actor,
      action: "job.submit",
      subjectType: "job",
      subjectId: job.id,
      projectId: project.id,
      details: {
        name: job.name,
        resources: job.resources,
        runId: run.runId,
        codeDigest: job.codeDigest ?? null,
      },
    });
    this.deps.wake();
    return job;
  }

  async list(principal: Principal, input: JobListInput): Promise<{ jobs: Job[]; nextCursor?: string }> {
    const states = (input.states ?? []).map((state) => {
      if (!(JOB_STATES as readonly string[]).includes(state)) {
        throw new InputError(`unknown job state '${state}': use ${JOB_STATES.join(", ")}`);
      }
      return state as JobState;
    });
    const projectIds = input.project
      ? [(await this.deps.projects.getProject(principal, input.project, "read")).id]
      : (await this.deps.projects.listProjects(principal)).map((project) => project.id);
    const limit = Math.min(Math.max(input.limit ?? 100, 1), MAX_PAGE);
    const jobs = await this.deps.store.listJobs({
      projectIds,
      states,
      limit: limit + 1,
      before: input.cursor ? parseCursor(input.cursor) : undefined,
    });
    if (jobs.length <= limit) return { jobs };
    const page = jobs.slice(0, limit);
    const last = page[page.length - 1];
    return { jobs: page, nextCursor: `${Date.parse(last.submittedAt)}:${last.id}` };
  }

  /** A job the caller may see (`read`) or change (`write`). */
  async get(principal: Principal, id: string, permission: Permission = "read"): Promise<Job> {
    const job = await this.deps.store.getJob(id);
    if (!job) throw new NotFoundError(`job ${id} not found`);
    await this.deps.projects.getProject(principal, job.projectId, permission);
    return job;
  }

  async replicas(principal: Principal, id: string): Promise<JobReplica[]> {
    await this.get(principal, id);
    return this.deps.store.replicas(id);
  }

  async events(principal: Principal, id: string): Promise<JobEvent[]> {
    await this.get(principal, id);
    return this.deps.store.events(id);
  }

  /**
   * A queued job is cancelled at once; a scheduled or running one is marked, and the scheduler stops its
   * replicas (SIGTERM, SIGKILL after the grace period) and records `cancelled` once they have ended.
   */
  async cancel(principal: Principal, id: string): Promise<Job> {
    const actor = actorOf(principal);
    for (let tries = 0; tries < 3; tries++) {
      const job = await this.get(principal, id, "write");
      if (isTerminal(job.state)) throw new ConflictError(`job ${id} has already ${job.state}`);
      if (job.state === "queued") {
        const next = await this.deps.transitions.apply(
          job,
          "cancelled",
          `cancelled by ${principal.userName}`,
          {
            actor,
          },
        );
        if (next) return next;
        continue; // the scheduler claimed it meanwhile: cancel it as a scheduled job
      }
      if (await this.deps.store.requestCancel(id)) {
        await this.deps.audit.record({
          actor,
          action: "job.cancel",
          subjectType: "job",
          subjectId: id,
          projectId: job.projectId,
          reason: "stop requested",
        });
        this.deps.wake();
        return { ...job, cancelRequested: true };
      }
    }
    throw new ConflictError(`job ${id} changed state while being cancelled; try again`);
  }

  /**
   * The inventory with holders. Every authenticated caller sees which devices are taken; which job holds
   * one (id, name, project) only for projects the caller may read (docs/security.md).
   */
  async gpus(principal: Principal): Promise<GpuView> {
    const allHolds = await this.deps.store.deviceHolds();
    const readable = new Set<string>();
    for (const projectId of new Set(allHolds.map((hold) => hold.projectId))) {
      if (await this.mayRead(principal, projectId)) readable.add(projectId);
    }
    const holds = allHolds.filter((hold) => readable.has(hold.projectId));
    const taken = new Set(allHolds.map((hold) => hold.deviceUuid));
    const heldBy = new Map(holds.map((hold) => [hold.deviceUuid, hold]));
    const jobNames = new Map<string, string>();
    for (const jobId of new Set(holds.map((hold) => hold.workloadId))) {
      jobNames.set(jobId, (await this.deps.store.getJob(jobId))?.name ?? jobId);
    }
    const resourceHolds = await this.deps.store.holds();
    const devices = this.deps.inventory.nodes.flatMap((node) =>
      node.gpus.map((device) => {
        const hold = heldBy.get(device.uuid);
        return {
          ...device,
          nodeId: node.id,
          heldBy: hold
            ? {
                jobId: hold.workloadId,
                jobName: jobNames.get(hold.workloadId) ?? hold.workloadId,
                projectId: hold.projectId,
                replicaIndex: hold.replicaIndex,
              }
            : taken.has(device.uuid)
              ? { otherProject: true as const }
              : null,
        };
      }),
    );
    const nodes = this.deps.inventory.nodes.map((node) => {
      const onNode = resourceHolds.filter((hold) => hold.nodeId === node.id);
      return {
        id: node.id,
        cpu: node.cpu,
        memoryMiB: node.memoryMiB,
        cpuHeld: onNode.reduce((sum, hold) => sum + hold.cpu, 0),
        memoryMiBHeld: onNode.reduce((sum, hold) => sum + hold.memoryMiB, 0),
        gpus: node.gpus.length,
      };
    });
    return { source: this.deps.inventory.source, devices, nodes, runtime: this.deps.describeRuntime() };
  }

  private async mayRead(principal: Principal, projectId: string): Promise<boolean> {
    try {
      await this.deps.projects.getProject(principal, projectId, "read");
      return true;
    } catch (err) {
      if (err instanceof ForbiddenError || err instanceof NotFoundError) return false;
      throw err;
    }
  }

  /** Live log events of one replica index, across retries, until the job ends. */
  async followLogs(
    principal: Principal,
    id: string,
    options: { replicaIndex: number; signal?: AbortSignal },
  ): Promise<AsyncIterable<JobLogEvent>> {
    await this.get(principal, id);
    return followJobLogs(this.deps.logs, id, options);
  }

  /**
   * What one replica wrote (both streams in turn, or one). Default attempt: the latest that ran.
   * NotFoundError when that replica never started.
   */
  async readLogs(
    principal: Principal,
    id: string,
    options: { replicaIndex: number; attempt?: number; streams?: LogStream[] },
  ): Promise<AsyncIterable<LogChunk>> {
    await this.get(principal, id);
    const started = (await this.deps.store.replicas(id)).filter(
      (replica) =>
        replica.replicaIndex === options.replicaIndex &&
        replica.state !== "placed" &&
        (options.attempt === undefined || replica.attempt === options.attempt),
    );
    const replica = started[started.length - 1];
    if (!replica) {
      const which = options.attempt === undefined ? "" : ` in attempt ${options.attempt}`;
      throw new NotFoundError(
        `job ${id} has no logs for replica ${options.replicaIndex}${which} (not started)`,
      );
    }
    return replicaLogs(this.deps.logs, replica, { follow: false, streams: options.streams });
  }
}

function parseCursor(cursor: string): { submittedAt: number; id: string } {
  const match = /^(\d+):(.+)$/.exec(cursor);
  if (!match) throw new InputError("invalid cursor");
  return { submittedAt: Number(match[1]), id: match[2] };
}
