import { InputError } from "../errors.js";

/**
 * The workspace model (docs/architecture/workspaces.md): a personal development environment with GPUs,
 * reached over SSH. Each start submits an internal job of kind "workspace" whose command is sshd; the
 * workspace row keeps the current job id, so GPUs, quotas and queue reasons come from the job scheduler.
 */
export type WorkspaceState = "queued" | "running" | "stopping" | "stopped" | "failed" | "deleting";

export const WORKSPACE_STATES: readonly WorkspaceState[] = [
  "queued",
  "running",
  "stopping",
  "stopped",
  "failed",
  "deleting",
];

/** States in which the workspace's job holds (or waits for) resources. */
export const ACTIVE_STATES: ReadonlySet<WorkspaceState> = new Set(["queued", "running", "stopping"]);

export interface WorkspaceResources {
  cpu: number;
  memoryMiB: number;
  gpus: number;
  gpuType?: string;
}

export interface Endpoint {
  host: string;
  port: number;
}

export interface Workspace {
  id: string;
  projectId: string;
  name: string;
  ownerId: string;
  ownerName: string;
  /** The login user inside the workspace (derived from the owner's name). */
  loginUser: string;
  resources: WorkspaceResources;
  image?: string;
  idleTimeoutSeconds: number;
  state: WorkspaceState;
  stateReason: string;
  /** The job of the current (or last) start; null before the first start. */
  jobId: string | null;
  /** Where its sshd listens while running. */
  endpoint: Endpoint | null;
  /** The workspace's SSH host key (public part, OpenSSH format) and its SHA256 fingerprint. */
  hostPublicKey: string;
  hostKeyFingerprint: string;
  /** Keep the home volume when the workspace is deleted. */
  keepHome: boolean;
  createdAt: number;
  updatedAt: number;
  /** When the current run started (job running). */
  startedAt: number | null;
  /** Last time it had an SSH session, CPU or GPU activity (idle culling counts from here). */
  lastActivityAt: number | null;
  /** SSH sessions in the last report of the in-workspace agent. */
  sessions: number;
  /** When the agent last reported. */
  lastReportAt: number | null;
  /** When the idle (or lifetime) warning was issued (null: not warned in this idle period). */
  idleWarnedAt: number | null;
  /** The warning the in-workspace agent writes to the user's terminals. */
  notice: string | null;
}

export interface WorkspaceRequest {
  projectId: string;
  name: string;
  resources?: Partial<WorkspaceResources>;
  image?: string;
  idleTimeoutSeconds: number;
}

const NAME = /^[a-z][a-z0-9-]{0,39}$/;
const GPU_TYPE = /^[a-z0-9][a-z0-9_-]*$/;
const IMAGE = /^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}$/;

export const WORKSPACE_DEFAULTS = { cpu: 2, memoryMiB: 8192, gpus: 0 } as const;

/** Validates a create request into the workspace's fields (pure: caller supplies ids, clock, owner, key). */
export function validateWorkspaceRequest(request: WorkspaceRequest): {
  name: string;
  resources: WorkspaceResources;
  image?: string;
  idleTimeoutSeconds: number;
} {
  if (typeof request.name !== "string" || !NAME.test(request.name)) {
    throw new InputError(
      "workspace name must start with a letter and use lower-case letters, digits and '-' (at most 40)",
    );
  }
  const input = request.resources ?? {};
  const cpu = input.cpu ?? WORKSPACE_DEFAULTS.cpu;
  if (typeof cpu !== "number" || !Number.isFinite(cpu) || cpu <= 0 || cpu > 4096) {
    throw new InputError("cpu must be a positive number of cores");
  }
  const memoryMiB = input.memoryMiB ?? WORKSPACE_DEFAULTS.memoryMiB;
  requireInteger(memoryMiB, "memoryMiB", 64, 64 * 1024 * 1024);
  const gpus = input.gpus ?? WORKSPACE_DEFAULTS.gpus;
  requireInteger(gpus, "gpus", 0, 64);
  const gpuType = input.gpuType ? String(input.gpuType).toLowerCase() : undefined;
  if (gpuType !== undefined) {
    if (!GPU_TYPE.test(gpuType)) throw new InputError(`invalid GPU type '${gpuType}'`);
    if (gpus === 0) throw new InputError("a GPU type needs gpus >= 1");
  }
  if (request.image !== undefined && (typeof request.image !== "string" || !IMAGE.test(request.image))) {
    throw new InputError("invalid image name");
  }
  requireInteger(request.idleTimeoutSeconds, "idleTimeout (seconds)", 1, 365 * 24 * 3600);
  return {
    name: request.name,
    resources: { cpu, memoryMiB, gpus, ...(gpuType ? { gpuType } : {}) },
    ...(request.image ? { image: request.image } : {}),
    idleTimeoutSeconds: request.idleTimeoutSeconds,
  };
}

/**
 * "90", "90s", "30m", "2h", "7d", "1h30m" -> seconds. "0" means no limit where the caller allows it.
 * Fractions are allowed ("0.5s", tests).
 */
export function parseDuration(text: string | number, what: string): number {
  if (typeof text === "number") {
    if (!Number.isFinite(text) || text < 0) throw new InputError(`${what} must be a non-negative duration`);
    return text;
  }
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  const unit: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };
  let total = 0;
  let consumed = 0;
  for (let match = part.exec(trimmed); match; match = part.exec(trimmed)) {
    total += Number(match[1]) * unit[match[2]];
    consumed = part.lastIndex;
  }
  if (trimmed === "" || consumed !== trimmed.length) {
    throw new InputError(`${what} must be a duration like 90s, 30m, 2h or 7d (got '${text}')`);
  }
  return total;
}

/** The login name inside the workspace: the owner's name made a valid POSIX user name. */
export function loginUserFor(userName: string): string {
  const cleaned = userName
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, "-")
    .replace(/^[^a-z_]+/, "")
    .slice(0, 31);
  // Names the sandbox's passwd already has (root, nobody) would collide with system accounts.
  if (!cleaned || ["root", "nobody", "daemon", "bin", "sys", "sshd"].includes(cleaned))
    return `u-${cleaned || "dev"}`;
  return cleaned;
}

/** The persistent home volume of a workspace (runtime volume name). */
export function homeVolumeOf(workspaceId: string): string {
  return `ws-${workspaceId}-home`;
}

/** The `Host` alias in ssh-config output. */
export function sshAliasOf(workspace: Pick<Workspace, "name">): string {
  return `mlops-${workspace.name}`;
}

function requireInteger(value: unknown, name: string, min: number, max: number): void {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new InputError(`${name} must be an integer between ${min} and ${max}`);
  }
}
