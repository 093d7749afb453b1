import { ForbiddenError } from "../errors.js";
import type { Principal } from "./principal.js";
import { type Permission, type Role, roleAllows } from "./roles.js";
import { WORKLOAD_CAPABILITIES, type WorkloadCapability } from "./workload-capabilities.js";

/** The one place where access is decided (threat model: docs/security.md). */

const WORKLOAD_CAN = Object.keys(WORKLOAD_CAPABILITIES).join(", ");

/**
 * Lets a workload token use one capability for one target; other principals pass through unchanged.
 * The target must be the token's own (run, job): anything else is refused here, before any lookup.
 * The returned principal carries the grant for the single project check that follows.
 */
export function grantWorkload(
  principal: Principal,
  capability: WorkloadCapability,
  target: { runId?: string | null; jobId?: string | null } = {},
): Principal {
  const scope = principal.scope;
  if (!scope) return principal;
  if (capability === "run.write" || capability === "model.version.create") {
    if (!target.runId || target.runId !== scope.runId) {
      throw new ForbiddenError(
        scope.runId
          ? `this token belongs to run ${scope.runId} and cannot write to run ${target.runId ?? "(none)"}`
          : "this workload token has no run to write to",
      );
    }
  }
  if (capability === "job.submit" && (!target.jobId || target.jobId !== scope.jobId)) {
    throw new ForbiddenError("only a workspace's own token submits jobs from inside it");
  }
  if (capability === "batch.report" && (!target.jobId || target.jobId !== scope.jobId)) {
    throw new ForbiddenError(`job ${scope.jobId ?? "(none)"} is not the worker of this batch prediction`);
  }
  return { ...principal, grant: capability };
}

/** Token management is for people: a workload token can neither mint, list nor revoke tokens. */
export function requireHumanToken(principal: Principal, action: string): void {
  if (principal.scope) throw new ForbiddenError(`a workload token cannot ${action}`);
}

/** Platform-wide permission (no project involved). */
export function requireGlobal(principal: Principal, permission: Permission): void {
  if (principal.scope) throw new ForbiddenError(`a workload token cannot ${permission} outside its job`);
  if (!roleAllows(principal.role, permission)) {
    throw new ForbiddenError(`role ${principal.role} may not ${permission}; ask an admin`);
  }
}

/**
 * The caller's effective role in a project: platform admins have admin everywhere; members have their
 * member role; in the shared `default` project everybody has their platform role; otherwise none.
 */
export function effectiveProjectRole(
  principal: Principal,
  project: { id: string; name: string },
  memberRole: Role | undefined,
): Role | undefined {
  if (principal.scope?.projectId && principal.scope.projectId !== project.id) return undefined;
  if (principal.role === "admin") return "admin";
  if (memberRole) return memberRole;
  if (project.name === "default") return principal.role;
  return undefined;
}

/** A workload token reads its own project; any other permission needs a matching grant. */
function requireWorkloadPermission(principal: Principal, permission: Permission): void {
  if (!principal.scope || permission === "read") return;
  if (principal.grant && WORKLOAD_CAPABILITIES[principal.grant] === permission) return;
  throw new ForbiddenError(
    `a workload token may not ${permission} here; it may only read its project and use: ${WORKLOAD_CAN}`,
  );
}

export function requireProject(
  principal: Principal,
  project: { id: string; name: string },
  memberRole: Role | undefined,
  permission: Permission,
): void {
  const role = effectiveProjectRole(principal, project, memberRole);
  if (!role) throw new ForbiddenError(`${principal.userName} is not a member of project ${project.name}`);
  requireWorkloadPermission(principal, permission);
  // A workload token never has more than its owner: the owner's role must allow it too.
  if (!roleAllows(role, permission)) {
    throw new ForbiddenError(`role ${role} in project ${project.name} may not ${permission}`);
  }
}
