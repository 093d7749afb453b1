import { randomUUID } from "node:crypto";
import { actorOf, type Principal } from "../auth/principal.js";
import { ConflictError, ForbiddenError, InputError, NotFoundError, UnprocessableError } from "../errors.js";
import { generateHostKey } from "./host-key.js";
import { buildSshdConfig, LAUNCHER_ENV, launcherCommand } from "./sshd-config.js";
import {
  ACTIVE_STATES,
  homeVolumeOf,
  loginUserFor,
  parseDuration,
  sshAliasOf,
  validateWorkspaceRequest,
  type Workspace,
  type WorkspaceResources,
} from "./workspace.js";
import type { WorkspaceDeps } from "./workspace-ports.js";
import { transitionWorkspace } from "./workspace-states.js";
import type { WorkspaceLimits } from "./workspace-store.js";
import { type WorkspaceView, workspaceView } from "./workspace-view.js";

export interface CreateWorkspaceInput {
  project?: string;
  name: string;
  resources?: Partial<WorkspaceResources>;
  image?: string;
  /** "2h", "30m", or seconds; default: the server's workspaceIdleTimeout. */
  idleTimeout?: string | number;
}

export interface WorkspaceConnection {
  alias: string;
  host: string;
  port: number;
  user: string;
  hostPublicKey: string;
  hostKeyFingerprint: string;
}

/** Workspaces as users see them: create, list, show, start, stop, delete, connect; project limits. */
export class WorkspaceService {
  private readonly now: () => number;

  constructor(private readonly deps: WorkspaceDeps) {
    this.now = deps.now ?? Date.now;
  }

  async create(principal: Principal, input: CreateWorkspaceInput): Promise<WorkspaceView> {
    requireHuman(principal);
    const project = await this.deps.projects.getProject(principal, input.project ?? "default", "write");
    const idleTimeoutSeconds =
      input.idleTimeout === undefined
        ? this.deps.defaultIdleTimeoutSeconds
        : parseDuration(input.idleTimeout, "idleTimeout");
    const valid = validateWorkspaceRequest({
      projectId: project.id,
      name: input.name,
      resources: input.resources,
      image: input.image,
      idleTimeoutSeconds: Math.round(idleTimeoutSeconds),
    });
    if (await this.deps.store.findByName(project.id, principal.userId, valid.name)) {
      throw new ConflictError(`you already have a workspace named ${valid.name} in project ${project.name}`);
    }
    const keys = await this.requireKeys(principal.userId);
    await this.checkLimits(project.id, valid.resources.gpus);
    const hostKey = generateHostKey();
    const at = this.now();
    const workspace: Workspace = {
      id: randomUUID(),
      projectId: project.id,
      name: valid.name,
      ownerId: principal.userId,
      ownerName: principal.userName,
      loginUser: loginUserFor(principal.userName),
      resources: valid.resources,
      ...(valid.image ? { image: valid.image } : {}),
      idleTimeoutSeconds: valid.idleTimeoutSeconds,
      state: "stopped",
      stateReason: "created",
      jobId: null,
      endpoint: null,
      hostPublicKey: hostKey.publicKey,
      hostKeyFingerprint: hostKey.fingerprint,
      keepHome: false,
      createdAt: at,
      updatedAt: at,
      startedAt: null,
      lastActivityAt: null,
      sessions: 0,
      lastReportAt: null,
      idleWarnedAt: null,
      notice: null,
    };
    try {
      await this.deps.store.insert(workspace, hostKey.privateKey);
    } catch (err) {
      if (await this.deps.store.findByName(project.id, principal.userId, valid.name)) {
        throw new ConflictError(
          `you already have a workspace named ${valid.name} in project ${project.name}`,
        );
      }
      throw err;
    }
    let started: Workspace;
    try {
      started = await this.launch(principal, workspace, project.name, keys);
    } catch (err) {
      // Refused by the job system (quota, inventory): nothing is left behind.
      await this.deps.store.remove(workspace.id);
      throw err;
    }
    await this.audit(principal, workspace, "workspace.created", null, {
      resources: workspace.resources,
      idleTimeoutSeconds: workspace.idleTimeoutSeconds,
      hostKeyFingerprint: workspace.hostKeyFingerprint,
    });
    await this.audit(principal, started, "workspace.started", null, { jobId: started.jobId });
    return workspaceView(started, principal);
  }

  async list(principal: Principal, projectRef?: string): Promise<WorkspaceView[]> {
    const projectIds = projectRef
      ? [(await this.deps.projects.getProject(principal, projectRef, "read")).id]
      : (await this.deps.projects.listProjects(principal)).map((project) => project.id);
    const workspaces = await this.deps.store.list({ projectIds });
    return workspaces.map((workspace) => workspaceView(workspace, principal));
  }

  async show(principal: Principal, ref: string, projectRef?: string): Promise<WorkspaceView> {
    return workspaceView(await this.find(principal, ref, projectRef), principal);
  }

  async start(principal: Principal, ref: string, projectRef?: string): Promise<WorkspaceView> {
    requireHuman(principal);
    const workspace = await this.find(principal, ref, projectRef);
    if (workspace.ownerId !== principal.userId) {
      throw new ForbiddenError(`only ${workspace.ownerName} can start workspace ${workspace.name}`);
    }
    if (ACTIVE_STATES.has(workspace.state)) {
      throw new ConflictError(`workspace ${workspace.name} is already ${workspace.state}`);
    }
    const project = await this.deps.projects.getProject(principal, workspace.projectId, "write");
    const keys = await this.requireKeys(principal.userId);
    await this.checkLimits(project.id, workspace.resources.gpus, workspace.id);
    const started = await this.launch(principal, workspace, project.name, keys);
    await this.audit(principal, started, "workspace.started", null, { jobId: started.jobId });
    return workspaceView(started, principal);
  }

  /** Stops the workspace's job (GPUs freed); the home stays. Owner or admin. */
  async stop(principal: Principal, ref: string, projectRef?: string): Promise<WorkspaceView> {
    const workspace = await this.find(principal, ref, projectRef);
    this.requireOwnerOrAdmin(principal, workspace, "stop");
    if (workspace.state !== "queued" && workspace.state !== "running") {
      throw new ConflictError(`workspace ${workspace.name} is ${workspace.state}: nothing to stop`);
    }
    const next = await this.stopJob(workspace, `stopped by ${principal.userName}`);
    await this.audit(principal, workspace, "workspace.stopped", `stopped by ${principal.userName}`);
    return workspaceView(next, principal);
  }

  /**
   * Deletes the workspace: its job is stopped and, once it has ended, its home volume is deleted (kept with
   * `keepHome`). Owner or admin.
   */
  async delete(
    principal: Principal,
    ref: string,
    options: { project?: string; keepHome?: boolean } = {},
  ): Promise<void> {
    const workspace = await this.find(principal, ref, options.project);
    this.requireOwnerOrAdmin(principal, workspace, "delete");
    if (workspace.state === "deleting")
      throw new ConflictError(`workspace ${workspace.name} is being deleted`);
    const reason = `deleted by ${principal.userName}`;
    const next = transitionWorkspace(workspace, "deleting", reason, this.now(), {
      keepHome: !!options.keepHome,
    });
    if (!(await this.deps.store.update(next, workspace.state))) {
      throw new ConflictError(`workspace ${workspace.name} changed while being deleted; try again`);
    }
    await this.audit(principal, workspace, "workspace.deleted", reason, { keepHome: !!options.keepHome });
    if (workspace.jobId && ACTIVE_STATES.has(workspace.state)) await this.deps.jobs.cancel(workspace.jobId);
    this.deps.wake();
  }

  /** Where the owner's SSH client connects, with the host key to pin. Only the owner. */
  async connection(principal: Principal, ref: string, projectRef?: string): Promise<WorkspaceConnection> {
    const workspace = await this.find(principal, ref, projectRef);
    if (workspace.ownerId !== principal.userId) {
      throw new ForbiddenError(`only ${workspace.ownerName} can connect to workspace ${workspace.name}`);
    }
    if (workspace.state !== "running" || !workspace.endpoint) {
      throw new ConflictError(
        `workspace ${workspace.name} is ${workspace.state} (${workspace.stateReason}): not reachable yet`,
      );
    }
    return {
      alias: sshAliasOf(workspace),
      host: this.deps.sshHost ?? workspace.endpoint.host,
      port: workspace.endpoint.port,
      user: workspace.loginUser,
      hostPublicKey: workspace.hostPublicKey,
      hostKeyFingerprint: workspace.hostKeyFingerprint,
    };
  }

  /** Every running workspace of the caller, for `ssh-config`. */
  async connections(
    principal: Principal,
  ): Promise<Array<WorkspaceConnection & { name: string; projectId: string }>> {
    const projects = await this.deps.projects.listProjects(principal);
    const own = await this.deps.store.list({
      projectIds: projects.map((p) => p.id),
      ownerId: principal.userId,
    });
    const running = own.filter((workspace) => workspace.state === "running" && workspace.endpoint);
    return Promise.all(
      running.map(async (workspace) => ({
        name: workspace.name,
        projectId: workspace.projectId,
        ...(await this.connection(principal, workspace.id)),
      })),
    );
  }

  async limits(principal: Principal, projectRef: string): Promise<WorkspaceLimits> {
    const project = await this.deps.projects.getProject(principal, projectRef, "read");
    return (
      (await this.deps.store.limits(project.id)) ?? {
        projectId: project.id,
        maxGpus: null,
        maxLifetimeSeconds: null,
      }
    );
  }

  /** Per-project maximum workspace GPUs and lifetime (project managers and admins). */
  async setLimits(
    principal: Principal,
    projectRef: string,
    input: { maxGpus?: number | null; maxLifetime?: string | number | null },
  ): Promise<WorkspaceLimits> {
    requireHuman(principal);
    const project = await this.deps.projects.getProject(principal, projectRef, "manage");
    const current = await this.limits(principal, project.id);
    const maxGpus = input.maxGpus === undefined ? current.maxGpus : input.maxGpus;
    if (maxGpus !== null && (!Number.isInteger(maxGpus) || maxGpus < 0 || maxGpus > 100_000)) {
      throw new InputError("maxGpus must be a non-negative integer (or null for no limit)");
    }
    let maxLifetimeSeconds = current.maxLifetimeSeconds;
    if (input.maxLifetime !== undefined) {
      maxLifetimeSeconds =
        input.maxLifetime === null ? null : parseDuration(input.maxLifetime, "maxLifetime");
      if (maxLifetimeSeconds === 0) maxLifetimeSeconds = null;
    }
    const limits: WorkspaceLimits = { projectId: project.id, maxGpus, maxLifetimeSeconds };
    await this.deps.store.setLimits(limits);
    await this.deps.audit.record({
      actor: actorOf(principal),
      action: "workspace.limits.set",
      subjectType: "project",
      subjectId: project.id,
      projectId: project.id,
      details: { maxGpus, maxLifetimeSeconds },
    });
    return limits;
  }

  /** A workspace by id, or by name among the caller's own in the project (default `default`). */
  async find(principal: Principal, ref: string, projectRef?: string): Promise<Workspace> {
    let workspace = await this.deps.store.get(ref);
    if (!workspace) {
      const project = await this.deps.projects.getProject(principal, projectRef ?? "default", "read");
      workspace = await this.deps.store.findByName(project.id, principal.userId, ref);
    }
    if (!workspace) throw new NotFoundError(`workspace ${ref} not found`);
    await this.deps.projects.getProject(principal, workspace.projectId, "read");
    return workspace;
  }

  private async launch(
    principal: Principal,
    workspace: Workspace,
    projectName: string,
    keys: string[],
  ): Promise<Workspace> {
    const hostKey = await this.deps.store.hostPrivateKey(workspace.id);
    if (!hostKey) throw new Error(`workspace ${workspace.id} has no host key`);
    const home = `/home/${workspace.loginUser}`;
    const job = await this.deps.jobs.submit(principal, {
      project: projectName,
      name: `workspace ${workspace.name}`,
      command: launcherCommand(),
      env: {
        [LAUNCHER_ENV.config]: buildSshdConfig(workspace.loginUser),
        [LAUNCHER_ENV.authorizedKeys]: keys.join("\n"),
        [LAUNCHER_ENV.reportSeconds]: String(this.deps.reportSeconds),
        [LAUNCHER_ENV.workspaceId]: workspace.id,
        MLOPS_WORKSPACE_NAME: workspace.name,
        MLOPS_PROJECT: projectName,
        ...(this.deps.cli
          ? { [LAUNCHER_ENV.cliNode]: this.deps.cli.node, [LAUNCHER_ENV.cliEntry]: this.deps.cli.entry }
          : {}),
      },
      secretEnv: { [LAUNCHER_ENV.hostKey]: hostKey },
      resources: workspace.resources,
      ...(workspace.image ? { image: workspace.image } : {}),
      volumes: [{ name: homeVolumeOf(workspace.id), mountPath: home }],
      user: { name: workspace.loginUser, home },
    });
    const next = transitionWorkspace(workspace, "queued", "submitted", this.now(), { jobId: job.id });
    if (!(await this.deps.store.update(next, workspace.state))) {
      await this.deps.jobs.cancel(job.id);
      throw new ConflictError(`workspace ${workspace.name} changed while starting; try again`);
    }
    this.deps.wake();
    return next;
  }

  private async stopJob(workspace: Workspace, reason: string): Promise<Workspace> {
    const next = transitionWorkspace(workspace, "stopping", reason, this.now());
    if (!(await this.deps.store.update(next, workspace.state))) {
      throw new ConflictError(`workspace ${workspace.name} changed while stopping; try again`);
    }
    if (workspace.jobId) await this.deps.jobs.cancel(workspace.jobId);
    this.deps.wake();
    return next;
  }

  private async requireKeys(userId: string): Promise<string[]> {
    const keys = await this.deps.store.keysOf(userId);
    if (keys.length === 0) {
      throw new UnprocessableError(
        "register an SSH public key first: mlops ssh-key add ~/.ssh/id_ed25519.pub",
      );
    }
    return keys.map((key) => key.publicKey);
  }

  private async checkLimits(projectId: string, gpus: number, exceptId?: string): Promise<void> {
    const limits = await this.deps.store.limits(projectId);
    if (!limits || limits.maxGpus === null || gpus === 0) return;
    const held = await this.deps.store.activeGpus(projectId, exceptId);
    if (held + gpus > limits.maxGpus) {
      throw new UnprocessableError(
        `the project's workspaces may hold ${limits.maxGpus} GPUs; ${held} are in use by its workspaces, this one needs ${gpus}`,
      );
    }
  }

  private requireOwnerOrAdmin(principal: Principal, workspace: Workspace, action: string): void {
    requireHuman(principal);
    if (workspace.ownerId !== principal.userId && principal.role !== "admin") {
      throw new ForbiddenError(
        `only ${workspace.ownerName} or an admin can ${action} workspace ${workspace.name}`,
      );
    }
  }

  private async audit(
    principal: Principal,
    workspace: Workspace,
    action: string,
    reason: string | null,
    details: Record<string, unknown> = {},
  ): Promise<void> {
    await this.deps.audit.record({
      actor: actorOf(principal),
      action,
      subjectType: "workspace",
      subjectId: workspace.id,
      projectId: workspace.projectId,
      reason,
      details: { name: workspace.name, owner: workspace.ownerName, ...details },
    });
  }
}

function requireHuman(principal: Principal): void {
  if (principal.scope) throw new ForbiddenError("a workload token cannot manage workspaces");
}
