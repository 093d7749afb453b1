import type { AuditLog } from "../audit/audit-log.js";
import { PeriodicLeaderLoop } from "../leases/periodic-leader-loop.js";
import { DEFAULT_IDLE_POLICY, type IdlePolicy } from "./idle-policy.js";
import { SshKeyService } from "./ssh-key-service.js";
import { parseDuration } from "./workspace.js";
import type { WorkspaceJobs, WorkspaceProjects, WorkspaceRuntime } from "./workspace-ports.js";
import { WorkspaceService } from "./workspace-service.js";
import type { WorkspaceStore } from "./workspace-store.js";
import { WorkspaceSync } from "./workspace-sync.js";

export interface WorkspaceSystemDeps {
  store: WorkspaceStore;
  jobs: WorkspaceJobs;
  runtime: WorkspaceRuntime;
  projects: WorkspaceProjects;
  audit: AuditLog;
  isLeader: () => boolean;
  /** Config: workspaceIdleTimeout, workspaceMaxLifetime ("0" = none), workspaceSshHost. */
  idleTimeout: string;
  maxLifetime: string;
  sshHost?: string;
  /** Seconds between the in-workspace agent's reports and between sync passes (tests: 1). */
  reportSeconds?: number;
  /** The platform's CLI as sessions run it (`mlops run submit` from inside): node binary and bin/mlops.js. */
  cli?: { node: string; entry: string };
  syncIntervalMs?: number;
  policy?: Partial<Omit<IdlePolicy, "maxLifetimeMs">>;
  onIdleStop?: () => void;
  log: (message: string, details: Record<string, unknown>) => void;
}

export interface WorkspaceSystem {
  service: WorkspaceService;
  sshKeys: SshKeyService;
  sync: WorkspaceSync;
  loop: PeriodicLeaderLoop;
}

/** Wires the workspace domain: service (API), SSH keys, and the leader's sync/idle-culling loop. */
export function createWorkspaceSystem(deps: WorkspaceSystemDeps): WorkspaceSystem {
  const maxLifetimeSeconds = parseDuration(deps.maxLifetime, "workspaceMaxLifetime") || null;
  const reportSeconds = deps.reportSeconds ?? 30;
  let loop: PeriodicLeaderLoop | undefined;
  const service = new WorkspaceService({
    store: deps.store,
    jobs: deps.jobs,
    runtime: deps.runtime,
    projects: deps.projects,
    audit: deps.audit,
    defaultIdleTimeoutSeconds: parseDuration(deps.idleTimeout, "workspaceIdleTimeout"),
    maxLifetimeSeconds,
    sshHost: deps.sshHost,
    reportSeconds,
    ...(deps.cli ? { cli: deps.cli } : {}),
    wake: () => loop?.wake(),
  });
  const sync = new WorkspaceSync(
    { store: deps.store, jobs: deps.jobs, runtime: deps.runtime, audit: deps.audit, maxLifetimeSeconds },
    {
      ...DEFAULT_IDLE_POLICY,
      reportStaleMs: Math.max(DEFAULT_IDLE_POLICY.reportStaleMs, reportSeconds * 4000),
      ...deps.policy,
    },
    { onIdleStop: deps.onIdleStop, log: deps.log },
  );
  loop = new PeriodicLeaderLoop({
    name: "workspaces",
    intervalMs: deps.syncIntervalMs ?? 5000,
    isLeader: deps.isLeader,
    pass: () => sync.pass(),
    log: deps.log,
  });
  return { service, sshKeys: new SshKeyService(deps.store, deps.audit), sync, loop };
}
