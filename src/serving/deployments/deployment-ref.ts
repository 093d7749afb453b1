import type { IdentityService } from "../../auth/identity-service.js";
import type { Principal } from "../../auth/principal.js";
import type { Permission } from "../../auth/roles.js";
import { ConflictError, ForbiddenError, NotFoundError } from "../../errors.js";
import type { Deployment } from "./deployment.js";

/**
 * How a caller names a deployment (docs/security.md, tenancy; docs/architecture/serving.md). Names are unique per
 * project, so a reference is either `name` or `project/name` (project name or id; `%2F` in a URL path).
 * A bare name resolves among the same-named deployments of the projects the caller can see; one of them:
 * that one; none: "not found", worded exactly as for a name nobody uses; several: 409 listing only the
 * caller's own projects. Nothing about other projects' deployments is revealed either way.
 */
export interface DeploymentRef {
  project?: string;
  name: string;
}

export function parseDeploymentRef(raw: string): DeploymentRef {
  const slash = raw.indexOf("/");
  if (slash < 0) return { name: raw };
  return { project: raw.slice(0, slash), name: raw.slice(slash + 1) };
}

/** The unambiguous reference of a deployment, for calls that pass it on (`<project id>/<name>`). */
export function deploymentRef(d: Pick<Deployment, "projectId" | "name">): string {
  return `${d.projectId}/${d.name}`;
}

export interface DeploymentLookup {
  /** Every deployment with this name, in any project. */
  named(name: string): Promise<Deployment[]>;
  /** The project (id and name) when the caller may see it: any role in it. */
  visibleProject(idOrName: string): Promise<{ id: string; name: string } | undefined>;
}

export async function resolveDeploymentRef(raw: string, lookup: DeploymentLookup): Promise<Deployment> {
  const ref = parseDeploymentRef(raw);
  const notFound = () => new NotFoundError(`deployment ${raw.slice(0, 200)} not found`);
  const candidates = await lookup.named(ref.name);
  if (candidates.length === 0) throw notFound();
  if (ref.project !== undefined) {
    const project = await lookup.visibleProject(ref.project);
    const found = project && candidates.find((d) => d.projectId === project.id);
    if (!found) throw notFound();
    return found;
  }
  const visible: Array<{ d: Deployment; project: string }> = [];
  for (const d of candidates) {
    const project = await lookup.visibleProject(d.projectId);
    if (project) visible.push({ d, project: project.name });
  }
  if (visible.length === 0) throw notFound();
  if (visible.length > 1) {
    const projects = visible.map((v) => v.project).sort();
    throw new ConflictError(
      `deployment name ${ref.name} is used in several of your projects (${projects.join(", ")}): address it as <project>/${ref.name}`,
    );
  }
  return visible[0].d;
}

/** A lookup seen through one caller's roles: a project is visible with any of `read`, `predict`. */
export function lookupFor(
  identity: Pick<IdentityService, "getProject">,
  principal: Principal,
  named: (name: string) => Promise<Deployment[]>,
): DeploymentLookup {
  const seeing: Permission[] = ["read", "predict"];
  return {
    named,
    async visibleProject(idOrName) {
      for (const permission of seeing) {
        try {
          const p = await identity.getProject(principal, idOrName, permission);
          return { id: p.id, name: p.name };
        } catch (err) {
          if (!(err instanceof ForbiddenError) && !(err instanceof NotFoundError)) throw err;
        }
      }
      return undefined;
    },
  };
}
