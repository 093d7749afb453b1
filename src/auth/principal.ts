import type { Role } from "./roles.js";
import type { WorkloadCapability } from "./workload-capabilities.js";

/** Limits a workload token to its own job/run (docs/security.md: short-lived tokens scoped to their run/job). */
export interface TokenScope {
  projectId?: string;
  runId?: string;
  jobId?: string;
}

/** Who is calling, as established by the auth hook. */
export interface Principal {
  userId: string;
  userName: string;
  role: Role;
  tokenId: string;
  scope?: TokenScope;
  /** Set by `grantWorkload` for one check: the capability a workload token is using (docs/security.md). */
  grant?: WorkloadCapability;
}

/** The actor name written into the audit log. */
export function actorOf(principal: Principal | undefined): string {
  if (!principal) return "system";
  return principal.scope?.jobId ? `${principal.userName}/job:${principal.scope.jobId}` : principal.userName;
}

export const SYSTEM_ACTOR = "system";
