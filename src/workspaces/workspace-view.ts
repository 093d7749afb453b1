import type { Principal } from "../auth/principal.js";
import type { Workspace } from "./workspace.js";

/**
 * A workspace as the API shows it. Project readers see that it exists and its state; where it listens,
 * its login user and its activity only its owner (and admins) see (docs/architecture/workspaces.md).
 */
export interface WorkspaceView {
  id: string;
  projectId: string;
  name: string;
  owner: string;
  state: string;
  stateReason: string;
  resources: Workspace["resources"];
  image?: string;
  idleTimeoutSeconds: number;
  jobId: string | null;
  createdAt: number;
  updatedAt: number;
  startedAt: number | null;
  hostKeyFingerprint: string;
  /** Owner and admins only. */
  connection?: { host: string; port: number; user: string } | null;
  sessions?: number;
  lastActivityAt?: number | null;
}

export function workspaceView(workspace: Workspace, principal: Principal): WorkspaceView {
  const view: WorkspaceView = {
    id: workspace.id,
    projectId: workspace.projectId,
    name: workspace.name,
    owner: workspace.ownerName,
    state: workspace.state,
    stateReason: workspace.stateReason,
    resources: workspace.resources,
    ...(workspace.image ? { image: workspace.image } : {}),
    idleTimeoutSeconds: workspace.idleTimeoutSeconds,
    jobId: workspace.jobId,
    createdAt: workspace.createdAt,
    updatedAt: workspace.updatedAt,
    startedAt: workspace.startedAt,
    hostKeyFingerprint: workspace.hostKeyFingerprint,
  };
  if (workspace.ownerId === principal.userId || (principal.role === "admin" && !principal.scope)) {
    view.connection = workspace.endpoint
      ? { host: workspace.endpoint.host, port: workspace.endpoint.port, user: workspace.loginUser }
      : null;
    view.sessions = workspace.sessions;
    view.lastActivityAt = workspace.lastActivityAt;
  }
  return view;
}
