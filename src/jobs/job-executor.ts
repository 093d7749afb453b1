import { parseReplicaId, type ReplicaExit, type ReplicaStatus, type Runtime } from "../runtime/runtime.js";
import { isTerminal, type Job } from "./job.js";
import type { JobLauncher } from "./job-launcher.js";
import { attemptOutcome, runStatusFor } from "./job-outcome.js";
import type { JobReplica, JobStore } from "./job-store.js";
import type { JobTracking } from "./job-tracking.js";
import type { JobTransitions } from "./job-transitions.js";

export interface JobExecutorDeps {
  store: JobStore;
  runtime: Runtime;
  launcher: JobLauncher;
  transitions: JobTransitions;
  tracking: JobTracking;
  archiveLogs: (replicaId: string) => Promise<{ stdout: string | null; stderr: string | null }>;
  revokeToken: (tokenId: string) => Promise<void>;
  /** Revokes every live token of a job (its token id is not known after a control-plane restart). */
  revokeJobTokens?: (jobId: string) => Promise<void>;
  /** Removes a finished job's files (runtime.removeJobFiles: its outputs were uploaded, or are lost). */
  removeJobFiles?: (jobId: string) => Promise<void>;
  /** A job's replicas all run: how long it took from its claim (metrics: time to start). */
  onStarted?: (job: Job, secondsSinceScheduled: number, firstDeviceUuid?: string) => void;
  isLeader: () => boolean;
  /** Runs state-changing work one piece at a time (the loop's queue). */
  serial: (work: () => Promise<void>) => Promise<void>;
  /** Freed capacity: ask for a scheduling pass. */
  wake: () => void;
  log: (level: "info" | "warn" | "error", message: string, details?: Record<string, unknown>) => void;
}

const ACTOR = "scheduler";

/**
 * Runs placed jobs and records how they end: starts an attempt's replicas, watches their exits, decides
 * the attempt's outcome (succeeded, failed, retried, cancelled), copies the logs into the artifact
 * store, frees the holds and closes the tracking run. Also stops cancelled jobs and, when this process
 * becomes the leader, reconciles the database with what the runtime knows (see `reconcile`).
 */
export class JobExecutor {
  private readonly watched = new Set<string>();
  private readonly stopping = new Set<string>();
  /** Jobs this process is starting right now: a reconcile (the lease regained after a pause) leaves them be. */
  private readonly launching = new Set<string>();
  private readonly tokens = new Map<string, string>();

  constructor(private readonly deps: JobExecutorDeps) {}

  /** Starts a job the caller has just claimed (state `scheduled`). */
  async launch(jobId: string): Promise<void> {
    this.launching.add(jobId);
    try {
      await this.launchClaimed(jobId);
    } finally {
      this.launching.delete(jobId);
    }
  }

  private async launchClaimed(jobId: string): Promise<void> {
    const { store, transitions } = this.deps;
    const job = await store.getJob(jobId);
    if (job?.state !== "scheduled") return;
    if (job.cancelRequested) {
      await transitions.apply(job, "cancelled", "cancelled before it started", {
        actor: ACTOR,
        releaseHolds: true,
      });
      await this.closeRun(job, "KILLED");
      return;
    }
    const replicas = await store.replicas(jobId, job.attempt);
    let started: Awaited<ReturnType<JobLauncher["start"]>>;
    try {
      started = await this.deps.launcher.start(job, replicas);
    } catch (err) {
      const reason = `could not start: ${(err as Error).message}`;
      this.deps.log("warn", "job failed to start", { jobId, error: (err as Error).message });
      const failed = await transitions.apply(job, "failed", reason, { actor: ACTOR, releaseHolds: true });
      if (failed) await this.closeRun(failed, "FAILED");
      await this.removeJobFiles(jobId);
      this.deps.wake();
      return;
    }
    this.tokens.set(jobId, started.tokenId);
    for (const handle of started.handles) {
      await store.markReplicaStarted({
        replicaId: handle.replicaId,
        pid: handle.pid ?? null,
        startedAt: Date.parse(handle.startedAt),
        ...(handle.endpoints ? { endpoints: handle.endpoints } : {}),
      });
    }
    const pids = started.handles.map((handle) => handle.pid ?? handle.externalId ?? null);
    const reason = started.handles.length > 1 ? `started ${started.handles.length} ranks` : "started";
    const running = await transitions.apply(job, "running", reason, { actor: ACTOR, details: { pids } });
    if (running) {
      const seconds = (Date.parse(running.updatedAt) - Date.parse(job.updatedAt)) / 1000;
      this.deps.onStarted?.(running, seconds, replicas[0]?.gpuUuids[0]);
    } else {
      this.deps.log("warn", "job changed state while starting", { jobId });
    }
    for (const handle of started.handles) this.watch(handle.replicaId, handle.exited);
  }

  private watch(replicaId: string, exited: Promise<ReplicaExit>): void {
    if (this.watched.has(replicaId)) return;
    this.watched.add(replicaId);
    exited.then(
      (exit) => this.deps.serial(() => this.replicaEnded(replicaId, exit)),
      (err) => {
        this.watched.delete(replicaId);
        this.deps.log("error", "lost the watch on a replica", { replicaId, error: (err as Error).message });
      },
    );
  }

  /** Records a replica's end; once every replica of the attempt has ended, settles the attempt. */
  async replicaEnded(replicaId: string, exit: ReplicaExit): Promise<void> {
    this.watched.delete(replicaId);
    this.stopping.delete(replicaId);
    // Not the leader (any more): the runtime keeps the exit record and the next leader reconciles it.
    if (!this.deps.isLeader()) return;
    const ids = parseReplicaId(replicaId);
    if (!ids) return;
    const logs = await this.deps.archiveLogs(replicaId).catch((err: Error) => {
      this.deps.log("warn", "could not archive replica logs", { replicaId, error: err.message });
      return { stdout: null, stderr: null };
    });
    await this.deps.store.markReplicaEnded({
      replicaId,
      end: exit.end,
      exitCode: exit.exitCode,
      signal: exit.signal,
      message: exit.message ?? null,
      startedAt: Date.parse(exit.startedAt) || null,
      endedAt: Date.parse(exit.endedAt) || Date.now(),
      stdoutSha256: logs.stdout,
      stderrSha256: logs.stderr,
    });
    const job = await this.deps.store.getJob(ids.jobId);
    if (!job || job.attempt !== ids.attempt || (job.state !== "running" && job.state !== "scheduled")) {
      await this.forget([replicaId]);
      return;
    }
    await this.settleAttempt(job);
  }

  private async settleAttempt(job: Job): Promise<void> {
    const { transitions } = this.deps;
    const replicas = await this.deps.store.replicas(job.id, job.attempt);
    const open = replicas.filter((replica) => replica.state !== "ended");
    if (open.length > 0) {
      // Gang semantics: once one replica failed, the attempt is over; stop the others.
      const failed = replicas.some((r) => r.state === "ended" && !(r.end === "exited" && r.exitCode === 0));
      if (failed || job.cancelRequested) for (const replica of open) this.stop(replica.replicaId);
      return;
    }
    let current: Job | null = job;
    if (job.state === "scheduled") {
      // Everything ended while no control plane ran (reconcile): record that it did run.
      current = await transitions.apply(job, "running", "started (recorded after a control-plane restart)", {
        actor: ACTOR,
      });
      if (!current) return;
    }
    const outcome = attemptOutcome(
      replicas.map((replica) => ({
        replicaIndex: replica.replicaIndex,
        end: replica.end ?? "lost",
        exitCode: replica.exitCode,
        signal: replica.signal,
        message: replica.message,
        endedAt: replica.endedAt,
      })),
      { cancelRequested: current.cancelRequested === true, timeoutSeconds: current.timeoutSeconds },
    );
    const options = { actor: ACTOR, releaseHolds: true, details: { exits: replicas.map(exitSummary) } };
    const next =
      outcome.kind === "failed"
        ? await transitions.failOrRetry(current, outcome.reason, options)
        : await transitions.apply(current, outcome.kind, outcome.reason, options);
    if (!next) return;
    const tokenId = this.tokens.get(job.id);
    this.tokens.delete(job.id);
    if (tokenId) await this.deps.revokeToken(tokenId).catch(() => undefined);
    else await this.revokeUnknownTokens(job.id);
    if (isTerminal(next.state)) {
      await this.closeRun(next, runStatusFor(outcome.kind));
      await this.removeJobFiles(job.id);
    }
    await this.forget(replicas.map((replica) => replica.replicaId));
    this.deps.wake();
  }

  /** Stops the replicas of jobs whose cancel was requested (called on every pass). */
  async processCancels(): Promise<void> {
    for (const job of await this.deps.store.cancelRequestedJobs()) {
      const replicas = await this.deps.store.replicas(job.id, job.attempt);
      if (job.state === "scheduled" && replicas.every((replica) => replica.state === "placed")) {
        const next = await this.deps.transitions.apply(job, "cancelled", "cancelled before it started", {
          actor: ACTOR,
          releaseHolds: true,
        });
        if (next) await this.closeRun(next, "KILLED");
        continue;
      }
      for (const replica of replicas) if (replica.state === "running") this.stop(replica.replicaId);
    }
  }

  private stop(replicaId: string): void {
    if (this.stopping.has(replicaId)) return;
    this.stopping.add(replicaId);
    // The watch records the end; a replica nobody watches (an orphan after a restart) is recorded here.
    const watched = this.watched.has(replicaId);
    this.deps.runtime.stop(replicaId).then(
      (exit) => {
        if (!watched) void this.deps.serial(() => this.replicaEnded(replicaId, exit));
      },
      (err: Error) => {
        this.stopping.delete(replicaId);
        this.deps.log("warn", "could not stop a replica", { replicaId, error: err.message });
      },
    );
  }

  /**
   * Run when this process takes the leader lease: no job may stay `scheduled` or `running` without a
   * replica behind it. Replicas that ended while no control plane watched get their recorded exit;
   * replicas the runtime lost (or never heard of) fail the attempt, which is retried per maxRetries;
   * an attempt that never started goes back to the queue; running replicas are watched again; replicas
   * of jobs that are over are stopped and forgotten.
   */
  async reconcile(): Promise<void> {
    const statuses = new Map<string, ReplicaStatus>();
    for (const status of await this.deps.runtime.reconcile()) statuses.set(status.replicaId, status);
    const claimed = new Set<string>();
    for (const job of await this.deps.store.activeJobs()) {
      const replicas = await this.deps.store.replicas(job.id, job.attempt);
      for (const replica of replicas) claimed.add(replica.replicaId);
      if (this.launching.has(job.id)) continue; // its start, in flight here, records how it went
      await this.reconcileJob(job, replicas, statuses);
    }
    for (const [replicaId, status] of statuses) {
      if (claimed.has(replicaId)) continue;
      if (status.exit) await this.forget([replicaId]);
      else this.stop(replicaId); // its job is over or moved on: nothing may run for it
    }
  }

  private async reconcileJob(job: Job, replicas: JobReplica[], statuses: Map<string, ReplicaStatus>) {
    // A replica the runtime knows never ran (its launcher died first) counts as one it never heard of.
    const started = (replica: JobReplica) => {
      const status = statuses.get(replica.replicaId);
      return status !== undefined && status.exit?.neverStarted !== true;
    };
    const known = replicas.filter((replica) => started(replica) || replica.state === "ended");
    if (job.state === "scheduled" && known.length < replicas.length) {
      // The control plane stopped between the claim and the start of every replica: start over. The
      // same attempt is placed again, so its replicas' records must be gone first (a replica id starts once).
      for (const replica of replicas) {
        const status = statuses.get(replica.replicaId);
        if (!status) continue;
        if (!status.exit) {
          await this.deps.runtime.stop(replica.replicaId).catch((err: Error) => {
            this.deps.log("warn", "could not stop a replica", {
              replicaId: replica.replicaId,
              error: err.message,
            });
          });
        }
        await this.forget([replica.replicaId]);
      }
      await this.deps.transitions.apply(job, "queued", "control plane restarted before the job started", {
        actor: ACTOR,
        releaseHolds: true,
      });
      return;
    }
    const ended: Array<[string, ReplicaExit]> = [];
    for (const replica of replicas) {
      if (replica.state === "ended") continue;
      const status = statuses.get(replica.replicaId);
      if (!status) {
        ended.push([replica.replicaId, lostExit(replica)]);
      } else if (status.exit) {
        ended.push([replica.replicaId, status.exit]);
      } else {
        if (replica.state === "placed") {
          await this.deps.store.markReplicaStarted({
            replicaId: replica.replicaId,
            pid: status.pid ?? null,
            startedAt: status.startedAt ? Date.parse(status.startedAt) : Date.now(),
            ...(status.endpoints ? { endpoints: status.endpoints } : {}),
          });
        }
        this.watch(replica.replicaId, this.deps.runtime.wait(replica.replicaId));
      }
    }
    if (job.state === "scheduled" && ended.length < replicas.length) {
      await this.deps.transitions.apply(job, "running", "started (recorded after a control-plane restart)", {
        actor: ACTOR,
      });
    }
    for (const [replicaId, exit] of ended) await this.replicaEnded(replicaId, exit);
    if (ended.length === 0 && replicas.length > 0 && replicas.every((replica) => replica.state === "ended")) {
      const fresh = await this.deps.store.getJob(job.id);
      if (fresh && !isTerminal(fresh.state)) await this.settleAttempt(fresh);
    }
  }

  /** The attempt ended while no control plane watched it (reconcile): its token must not outlive it. */
  private async revokeUnknownTokens(jobId: string): Promise<void> {
    await this.deps.revokeJobTokens?.(jobId).catch((err: Error) => {
      this.deps.log("warn", "could not revoke the job's token", { jobId, error: err.message });
    });
  }

  /** A retry reuses the job's files (checkpoints); a job that is over gives its disk back. */
  private async removeJobFiles(jobId: string): Promise<void> {
    await this.deps.removeJobFiles?.(jobId).catch((err: Error) => {
      this.deps.log("warn", "could not remove the job's files", { jobId, error: err.message });
    });
  }

  private async closeRun(job: Job, status: "FINISHED" | "FAILED" | "KILLED"): Promise<void> {
    if (!job.runId) return;
    await this.deps.tracking.endRun(job.runId, status).catch((err: Error) => {
      this.deps.log("warn", "could not end the job's run", {
        jobId: job.id,
        runId: job.runId,
        error: err.message,
      });
    });
  }

  private async forget(replicaIds: string[]): Promise<void> {
    for (const replicaId of replicaIds) {
      await this.deps.runtime.remove(replicaId).catch(() => undefined);
    }
  }
}

function lostExit(replica: JobReplica): ReplicaExit {
  const now = new Date().toISOString();
  const startedAt = replica.startedAt ? new Date(replica.startedAt).toISOString() : now;
  return {
    replicaId: replica.replicaId,
    end: "lost",
    exitCode: null,
    signal: null,
    startedAt,
    endedAt: now,
    durationMs: Date.parse(now) - Date.parse(startedAt),
    message: "the runtime has no record of this replica (control-plane restart)",
  };
}

function exitSummary(replica: JobReplica) {
  return {
    replica: replica.replicaIndex,
    end: replica.end,
    exitCode: replica.exitCode,
    signal: replica.signal,
  };
}
