import type { Principal } from "../../auth/principal.js";
import { ConflictError } from "../../errors.js";
import type { DeploymentChanges } from "./change-recorder.js";
import type { Deployment } from "./deployment.js";
import type { RegistryPort } from "./version-rules.js";

export interface PromotionRequest {
  /** Who acts in the registry: the person, or the analysis loop's system principal. */
  principal: Principal;
  actor: string;
  reason: string;
  details?: Record<string, unknown>;
}

/**
 * Makes the canary the primary: `canarying -> promoting` (recorded), then in a production deployment the
 * registry moves the version to production under its own rules (passing validation; the previous
 * production version is archived), then `promoting -> stable` with the canary as primary. A deployment
 * found in `promoting` (a crash in between) is finished by calling this again. If the registry refuses,
 * the deployment goes back to `canarying` and the registry's error is rethrown.
 */
export async function promoteCanary(
  changes: DeploymentChanges,
  registry: RegistryPort,
  deployment: Deployment,
  req: PromotionRequest,
): Promise<Deployment> {
  let d = deployment;
  if (d.canaryVersion === null) throw new ConflictError(`deployment ${d.name} has no canary to promote`);
  const canaryVersion = d.canaryVersion;
  const record = { actor: req.actor, reason: req.reason, details: req.details };
  if (d.state === "canarying") d = await changes.apply(d, { action: "begin_promotion" }, record);
  if (d.state !== "promoting") throw new ConflictError(`deployment ${d.name} is ${d.state}, not canarying`);

  let archived: number[] = [];
  let evidence: string | undefined;
  if (d.environment === "production") {
    try {
      const { version } = await registry.getVersion(req.principal, d.projectId, d.modelName, canaryVersion);
      if (version.stage !== "production") {
        const result = await registry.transition(
          req.principal,
          d.projectId,
          d.modelName,
          canaryVersion,
          "production",
          {
            reason: `promoted through the canary of deployment ${d.name}: ${req.reason}`,
          },
        );
        archived = result.archived.map((a) => a.version);
        evidence = result.evidence?.id;
      }
    } catch (err) {
      await changes.apply(
        d,
        { action: "abort_promotion" },
        { actor: req.actor, reason: `the registry refused the promotion: ${(err as Error).message}` },
      );
      throw err;
    }
  }
  return changes.apply(
    d,
    { action: "complete_promotion" },
    {
      ...record,
      details: {
        ...(req.details ?? {}),
        promotedVersion: canaryVersion,
        archivedVersions: archived,
        validationRecord: evidence,
      },
    },
  );
}
