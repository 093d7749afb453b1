import type { Principal } from "../auth/principal.js";
import { SYSTEM_ACTOR } from "../auth/principal.js";
import { ForbiddenError, NotFoundError } from "../errors.js";
import { type IdlePolicy, idleVerdict, inLifetimeWarning, isBusy } from "./idle-policy.js";
import { homeVolumeOf, type Workspace, type WorkspaceState } from "./workspace.js";
import type { WorkspaceDeps, WorkspaceJobView } from "./workspace-ports.js";
import { transitionWorkspace } from "./workspace-states.js";

const TRACKED: readonly WorkspaceState[] = ["queued", "running", "stopping", "deleting"];

export interface WorkspaceSyncHooks {
  onIdleStop?: () => void;
  log?: (message: string, details: Record<string, unknown>) => void;
}

/**
 * The leader's pass over workspaces (docs/architecture/workspaces.md): follows each workspace's job
 * (queued -> running with its sshd endpoint; an ended job -> stopped/failed; a deleted workspace's home
 * goes once its job has ended), and stops running workspaces that are idle or past their lifetime.
 */
export class WorkspaceSync {
  private readonly now: () => number;

  constructor(
    private readonly deps: Pick<
      WorkspaceDeps,
      "store" | "jobs" | "runtime" | "audit" | "maxLifetimeSeconds"
    > & {
      now?: () => number;
    },
    private readonly policy: Omit<IdlePolicy, "maxLifetimeMs">,
    private readonly hooks: WorkspaceSyncHooks = {},
  ) {
    this.now = deps.now ?? Date.now;
  }

  async pass(): Promise<void> {
    for (const workspace of await this.deps.store.inStates(TRACKED)) {
      try {
        await this.syncOne(workspace);
      } catch (err) {
        this.hooks.log?.("workspace sync failed", { workspace: workspace.id, error: (err as Error).message });
      }
    }
  }

  /**
   * The in-workspace agent's report (with its job's workload token): SSH sessions now. Answers the idle
   * warning to broadcast, if one is due.
   */
  async report(principal: Principal, input: { sessions: number }): Promise<{ notice: string | null }> {
    const jobId = principal.scope?.jobId;
    if (!jobId) throw new ForbiddenError("only a workspace's own agent reports its sessions");
    const workspace = await this.deps.store.findByJob(jobId);
    if (!workspace || (workspace.state !== "running" && workspace.state !== "queued"))
      throw new NotFoundError("no running workspace for this token");
    const now = this.now();
    const sessions = Math.max(0, Math.min(10_000, Math.floor(input.sessions)));
    await this.deps.store.recordActivity(workspace.id, {
      sessions,
      lastReportAt: now,
      lastActivityAt: sessions > 0 ? now : workspace.lastActivityAt,
      idleWarnedAt: workspace.idleWarnedAt,
      notice: workspace.notice,
    });
    return { notice: workspace.notice };
  }

  private async syncOne(workspace: Workspace): Promise<void> {
    const job = workspace.jobId ? await this.deps.jobs.get(workspace.jobId) : undefined;
    const ended = !job || job.state === "succeeded" || job.state === "failed" || job.state === "cancelled";
    if (workspace.state === "deleting") {
      if (ended) await this.finishDelete(workspace);
      return;
    }
    if (ended) {
      await this.jobEnded(workspace, job);
      return;
    }
    if (workspace.state === "queued") {
      if (job.state === "running" && job.ssh) {
        const now = this.now();
        await this.move(workspace, "running", "sshd is running", {
          endpoint: job.ssh,
          startedAt: now,
          lastActivityAt: now,
        });
      } else if (job.stateReason !== workspace.stateReason) {
        await this.deps.store.update(
          { ...workspace, stateReason: job.stateReason, updatedAt: this.now() },
          "queued",
        );
      }
      return;
    }
    if (workspace.state === "running") await this.cullIfIdle(workspace, job);
  }

  private async cullIfIdle(workspace: Workspace, job: WorkspaceJobView): Promise<void> {
    const now = this.now();
    const usage = job.replicaId ? await this.deps.runtime.usage(job.replicaId).catch(() => null) : null;
    const activity = {
      cpuCores: usage?.cpuCores,
      gpuUtilizationPercent: usage?.gpus?.map((gpu) => gpu.utilizationPercent),
    };
    const limits = await this.deps.store.limits(workspace.projectId);
    const lifetimeSeconds = limits?.maxLifetimeSeconds ?? this.deps.maxLifetimeSeconds;
    const policy = { ...this.policy, maxLifetimeMs: lifetimeSeconds ? lifetimeSeconds * 1000 : null };
    const busy = isBusy(workspace, activity, now, policy);
    const verdict = idleVerdict(workspace, busy, now, policy);
    if (verdict.kind === "active") {
      // Activity ends an idle warning; a lifetime warning stands.
      const keepWarning = inLifetimeWarning(workspace, now, policy);
      await this.deps.store.recordActivity(workspace.id, {
        sessions: workspace.sessions,
        lastReportAt: workspace.lastReportAt,
        lastActivityAt: now,
        idleWarnedAt: keepWarning ? workspace.idleWarnedAt : null,
        notice: keepWarning ? workspace.notice : null,
      });
      return;
    }
    if (verdict.kind === "warn") {
      await this.deps.store.recordActivity(workspace.id, {
        sessions: workspace.sessions,
        lastReportAt: workspace.lastReportAt,
        lastActivityAt: workspace.lastActivityAt,
        idleWarnedAt: now,
        notice: verdict.message,
      });
      await this.record(workspace, "workspace.idle_warned", verdict.message, { stopsAt: verdict.stopsAt });
      return;
    }
    if (verdict.kind === "stop") {
      if (!(await this.move(workspace, "stopping", verdict.reason))) return;
      if (workspace.jobId) await this.deps.jobs.cancel(workspace.jobId);
      const action = verdict.cause === "idle" ? "workspace.stopped_idle" : "workspace.stopped_lifetime";
      await this.record(workspace, action, verdict.reason, { gpus: workspace.resources.gpus });
      if (verdict.cause === "idle") this.hooks.onIdleStop?.();
    }
  }

  private async jobEnded(workspace: Workspace, job: WorkspaceJobView | undefined): Promise<void> {
    if (workspace.state === "stopping") {
      await this.move(workspace, "stopped", workspace.stateReason);
      return;
    }
    if (job?.state === "cancelled") {
      await this.move(workspace, "stopped", `stopped: its job was cancelled (${job.stateReason})`);
      return;
    }
    const reason = job ? `sshd ended: ${job.stateReason}` : "its job is gone";
    if (await this.move(workspace, "failed", reason))
      await this.record(workspace, "workspace.failed", reason);
  }

  private async finishDelete(workspace: Workspace): Promise<void> {
    if (!workspace.keepHome) await this.deps.runtime.deleteVolume(homeVolumeOf(workspace.id));
    await this.deps.store.remove(workspace.id);
    await this.record(workspace, workspace.keepHome ? "workspace.removed" : "workspace.home_deleted", null, {
      volume: homeVolumeOf(workspace.id),
      keepHome: workspace.keepHome,
    });
  }

  private async move(
    workspace: Workspace,
    to: WorkspaceState,
    reason: string,
    changes: Partial<Workspace> = {},
  ): Promise<boolean> {
    const next = transitionWorkspace(workspace, to, reason, this.now(), changes);
    return this.deps.store.update(next, workspace.state);
  }

  private async record(
    workspace: Workspace,
    action: string,
    reason: string | null,
    details: Record<string, unknown> = {},
  ): Promise<void> {
    await this.deps.audit.record({
      actor: SYSTEM_ACTOR,
      action,
      subjectType: "workspace",
      subjectId: workspace.id,
      projectId: workspace.projectId,
      reason,
      details: { name: workspace.name, owner: workspace.ownerName, ...details },
    });
  }
}
