import { randomUUID } from "node:crypto";
import { isSha256Hex } from "../artifacts/artifact-store.js";
import type { AuditLog } from "../audit/audit-log.js";
import type { Project } from "../auth/identity-store.js";
import { actorOf, type Principal } from "../auth/principal.js";
import type { Permission } from "../auth/roles.js";
import { grantWorkload } from "../auth/authorization.js";
import { ConflictError, ForbiddenError, InputError, NotFoundError } from "../errors.js";
import type { LogChunk, ReplicaUsage, RuntimeDescription } from "../runtime/runtime.js";
import { type GpuView, gpuView } from "./gpu-view.js";
import type { WorkloadInventory } from "./inventory.js";
import {
  createJob,
  type DistributedSpec,
  isTerminal,
  type Job,
  type JobInternals,
  type JobNetwork,
  type JobResources,
  type JobState,
  JOB_STATES,
} from "./job.js";
import {
  attemptLogs,
  followJobLogs,
  type JobLogDeps,
  type JobLogEvent,
  type LogStream,
  type RankSelector,
  replicaLogs,
} from "./job-logs.js";
import type { JobEvent, JobReplica, JobStore } from "./job-store.js";

export type { GpuView } from "./gpu-view.js";
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
  /** Per node (GPUs, CPU, memory); each rank gets its node's share. */
  resources?: Partial<JobResources>;
  /** Distributed: gang nodes (default 1) and ranks per node (default 1); one replica per rank. */
  nodes?: number;
  procsPerNode?: number;
  /** The same as nodes/procsPerNode (older form); both forms given must agree. */
  distributed?: DistributedSpec;
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

/** What only the platform itself may submit (workspaces): the internal fields pass to the runtime. */
export type InternalJobInput = SubmitJobInput & JobInternals;

/** A replica as `job show` presents it: the record, plus a live resource sample while it runs. */
export type JobReplicaView = JobReplica & { usage?: ReplicaUsage };

export interface JobListInput {
  project?: string;
  states?: string[];
  limit?: number;
  cursor?: string;
}

export interface JobServiceDeps {
  store: JobStore;
  projects: JobProjects;
  audit: AuditLog;
  tracking: JobTracking;
  transitions: JobTransitions;
  /** Whether the project owns this code archive and it exists (BlobOwnership; docs/security.md, tenancy). */
  ownsBlob: (projectId: string, sha256: string) => Promise<boolean>;
  /** The current inventory (a cluster backend's changes as nodes come and go). */
  inventory: () => WorkloadInventory;
  /** Where write-only env values are kept; without it `secretEnv` is refused. */
  secretEnv?: JobSecretEnvStore;
  describeRuntime: () => RuntimeDescription;
  /** The server's network for jobs that choose none (MLOPS_JOB_NETWORK). */
  defaultNetwork?: JobNetwork;
  /** A running replica's latest resource sample (runtime.usage); null when none. */
  usage?: (replicaId: string) => Promise<ReplicaUsage | null>;
  /** Asks the scheduler for a pass now (submit, cancel). */
  wake: () => void;
  logs: JobLogDeps;
  now?: () => number;
}

const MAX_PAGE = 500;
/** A job view never waits long for a runtime's usage sample (a slow cluster API): it shows none. */
const USAGE_DEADLINE_MS = 2_000;

/** Jobs as users see them: submit, list, show, cancel, history; and the GPU inventory. */
export class JobService {
  private readonly now: () => number;

  constructor(private readonly deps: JobServiceDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** A job from the public API: the internal fields (kind, ports, volumes, user) are not accepted. */
  async submit(principal: Principal, input: SubmitJobInput): Promise<Job> {
    const { kind, ports, volumes, user } = input as InternalJobInput;
    if (kind !== undefined || ports !== undefined || volumes !== undefined || user !== undefined) {
      throw new InputError("kind, ports, volumes and user are set by the platform only");
    }
    return this.submitJob(principal, input, {});
  }

  /**
   * A job the platform submits for itself on a user's behalf (a workspace's sshd): the same checks,
   * quotas, run and audit as `submit`, plus the internal fields passed through to the runtime.
   */
  submitInternal(principal: Principal, input: InternalJobInput): Promise<Job> {
    const { kind, ports, volumes, user, ...rest } = input;
    return this.submitJob(principal, rest, { kind, ports, volumes, user });
  }

  /**
   * Who may submit: people, and a running workspace's token (its sessions), into the workspace's project
   * only (the token's scope pins the project). Any other workload token is refused.
   */
  private async submitter(principal: Principal, internals: JobInternals): Promise<Principal> {
    if (!principal.scope) return principal;
    const own = principal.scope.jobId ? await this.deps.store.getJob(principal.scope.jobId) : null;
    if (
      own?.kind !== "workspace" ||
      isTerminal(own.state) ||
      Object.values(internals).some((v) => v !== undefined)
    ) {
      throw new ForbiddenError("a workload token cannot submit jobs");
    }
    return grantWorkload(principal, "job.submit", { jobId: own.id });
  }

  /** The project a caller may submit into (and upload job code for): people, or a running workspace's token. */
  async submitProject(principal: Principal, project?: string): Promise<Project> {
    const caller = await this.submitter(principal, {});
    return this.deps.projects.getProject(
      caller,
      project ?? (principal.scope?.projectId || "default"),
      "write",
    );
  }

  private async submitJob(
    principal: Principal,
    input: SubmitJobInput,
    internals: JobInternals,
  ): Promise<Job> {
    const caller = await this.submitter(principal, internals);
    const project = await this.deps.projects.getProject(
      caller,
      input.project ?? (principal.scope?.projectId || "default"),
      "write",
    );
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
        ...gangOf(input),
        ...internals,
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
    if (job.replicas > 1 && (job.network ?? this.deps.defaultNetwork) === "none") {
      throw new InputError(
        `a job with ${job.replicas} ranks needs a network (its ranks rendezvous over TCP); network "none" is for single-rank jobs`,
      );
    }
    const waiting = validateJobRequest(job.resources, this.deps.inventory().nodes, {
      nodes: job.distributed?.nodes,
      procsPerNode: job.distributed?.procsPerNode,
      quota: project.quotas,
    });
    // Too large for the inventory as it is now: accepted, and the reply says at once why it waits.
    if (waiting !== null) job.stateReason = waiting;
    if (job.codeDigest !== undefined) {
      if (!isSha256Hex(job.codeDigest)) throw new InputError("codeDigest must be a sha256 hex digest");
      // Another project's archive gets the same answer as a missing one: no existence leak.
      if (!(await this.deps.ownsBlob(project.id, job.codeDigest))) {
        throw new NotFoundError(
          `no code archive ${job.codeDigest}: upload it first (POST /api/v1/jobs/code)`,
        );
      }
    }
    // A workspace's session submits as its engineer: the project check above held with the workspace's
    // token (its scope pins the project, the engineer's role still counts); the job's run is theirs.
    const { scope: _scope, grant: _grant, ...owner } = caller;
    const run = await this.deps.tracking.createRun(owner, {
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
        ...(job.distributed ? { distributed: job.distributed } : {}),
        ...(job.kind ? { kind: job.kind } : {}),
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

  /** Every replica of every attempt; running ones with their latest resource sample. */
  async replicas(principal: Principal, id: string): Promise<JobReplicaView[]> {
    await this.get(principal, id);
    const replicas = await this.deps.store.replicas(id);
    const usage = this.deps.usage;
    if (!usage) return replicas;
    return Promise.all(
      replicas.map(async (replica) => {
        if (replica.state !== "running") return replica;
        const sample = await withDeadline(usage(replica.replicaId), USAGE_DEADLINE_MS).catch(() => null);
        return sample ? { ...replica, usage: sample } : replica;
      }),
    );
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

  /** The inventory with holders (docs/security.md: holders only for projects the caller may read). */
  gpus(principal: Principal): Promise<GpuView> {
    return gpuView({
      store: this.deps.store,
      inventory: this.deps.inventory(),
      runtime: this.deps.describeRuntime(),
      mayRead: (projectId) => this.mayRead(principal, projectId),
    });
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

  /**
   * Live log events of one rank (replica index), or of all ranks interleaved ("all"; unset: all for a
   * job with several ranks, else replica 0), across retries, until the job ends.
   */
  async followLogs(
    principal: Principal,
    id: string,
    options: { replicaIndex?: RankSelector; signal?: AbortSignal },
  ): Promise<AsyncIterable<JobLogEvent>> {
    const job = await this.get(principal, id);
    const replicaIndex = this.selectRank(job, options.replicaIndex);
    return followJobLogs(this.deps.logs, id, { replicaIndex, signal: options.signal });
  }

  private selectRank(job: Job, wanted: RankSelector | undefined): RankSelector {
    if (wanted === undefined) return job.replicas > 1 ? "all" : 0;
    if (wanted !== "all" && wanted >= job.replicas) {
      throw new InputError(`job ${job.id} has ${job.replicas} rank(s): rank ${wanted} does not exist`);
    }
    return wanted;
  }

  /**
   * What one replica wrote (both streams in turn, or one). Default attempt: the latest that ran.
   * NotFoundError when that replica never started.
   */
  async readLogs(
    principal: Principal,
    id: string,
    options: { replicaIndex?: RankSelector; attempt?: number; streams?: LogStream[] },
  ): Promise<AsyncIterable<LogChunk>> {
    const job = await this.get(principal, id);
    const selected = this.selectRank(job, options.replicaIndex);
    if (selected === "all") return this.readAllRanks(job, options);
    const started = (await this.deps.store.replicas(id)).filter(
      (replica) =>
        replica.replicaIndex === selected &&
        replica.state !== "placed" &&
        (options.attempt === undefined || replica.attempt === options.attempt),
    );
    const replica = started[started.length - 1];
    if (!replica) {
      const which = options.attempt === undefined ? "" : ` in attempt ${options.attempt}`;
      throw new NotFoundError(`job ${id} has no logs for rank ${selected}${which} (not started)`);
    }
    return replicaLogs(this.deps.logs, replica, { follow: false, streams: options.streams });
  }

  /** Every rank of one attempt (default: the latest that ran), line-merged and prefixed. */
  private async readAllRanks(
    job: Job,
    options: { attempt?: number; streams?: LogStream[] },
  ): Promise<AsyncIterable<LogChunk>> {
    const all = await this.deps.store.replicas(job.id);
    const ran = all.filter((replica) => replica.state !== "placed");
    const attempt = options.attempt ?? ran[ran.length - 1]?.attempt;
    const replicas = all.filter((replica) => replica.attempt === attempt);
    if (attempt === undefined || !replicas.some((replica) => replica.state !== "placed")) {
      const which = options.attempt === undefined ? "" : ` in attempt ${options.attempt}`;
      throw new NotFoundError(`job ${job.id} has no logs${which} (not started)`);
    }
    return attemptLogs(this.deps.logs, replicas, { follow: false, streams: options.streams });
  }
}

function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** The gang the request asks for (`distributed`, or `nodes`/`procsPerNode`); nothing when it asks none. */
function gangOf(input: SubmitJobInput): { distributed?: DistributedSpec } {
  const given = input.distributed;
  if (given === undefined && input.nodes === undefined && input.procsPerNode === undefined) return {};
  const nodes = input.nodes ?? given?.nodes ?? 1;
  const procsPerNode = input.procsPerNode ?? given?.procsPerNode ?? 1;
  if (given !== undefined && (nodes !== given.nodes || procsPerNode !== given.procsPerNode)) {
    throw new InputError("distributed and nodes/procsPerNode disagree: give one form");
  }
  return { distributed: { nodes, procsPerNode } };
}

function parseCursor(cursor: string): { submittedAt: number; id: string } {
  const match = /^(\d+):(.+)$/.exec(cursor);
  if (!match) throw new InputError("invalid cursor");
  return { submittedAt: Number(match[1]), id: match[2] };
}
