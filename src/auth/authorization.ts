import { ForbiddenError } from "../errors.js";
import type { Principal } from "./principal.js";
import { type Permission, type Role, roleAllows } from "./roles.js";

/** The one place where access is decided. */

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

export function requireProject(
  principal: Principal,
  project: { id: string; name: string },
  memberRole: Role | undefined,
  permission: Permission,
): void {
  const role = effectiveProjectRole(principal, project, memberRole);
  if (!role) throw new ForbiddenError(`${principal.userName} is not a member of project ${project.name}`);
  if (!roleAllows(role, permission)) {
    throw new ForbiddenError(`role ${role} in project ${project.name} may not ${permission}`);
  }
}

/** A workload token may only write to its own run. */
export function requireRunScope(principal: Principal, runId: string): void {
  if (principal.scope?.runId && principal.scope.runId !== runId) {
    throw new ForbiddenError(
      `this token belongs to run ${principal.scope.runId} and cannot write to run ${runId}`,
    );
  }
}
