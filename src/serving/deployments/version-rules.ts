import type { Principal } from "../../auth/principal.js";
import { UnprocessableError } from "../../errors.js";
import type { GateStanding } from "../../registry/promotion.js";
import type { ModelVersion, RegisteredModel } from "../../registry/registry-store.js";
import type { TransitionResult } from "../../registry/promotion.js";
import type { Stage } from "../../registry/stages.js";
import type { Environment } from "./deployment.js";

/** What serving needs from the registry (RegistryService has it). */
export interface RegistryPort {
  getModel(principal: Principal, project: string, name: string): Promise<RegisteredModel>;
  getVersion(
    principal: Principal,
    project: string,
    name: string,
    version: string | number,
  ): Promise<{ model: RegisteredModel; version: ModelVersion }>;
  listVersions(principal: Principal, project: string, name: string): Promise<ModelVersion[]>;
  hasPassingValidation(versionId: string): Promise<GateStanding>;
  transition(
    principal: Principal,
    project: string,
    name: string,
    version: string | number,
    to: Stage,
    options?: { reason?: string },
  ): Promise<TransitionResult>;
}

/**
 * "Only validated models reach production" holds for serving too: a production deployment serves as
 * primary only the model's production version; `dev` serves anything (for trying a version out).
 */
export function checkPrimary(environment: Environment, v: ModelVersion): void {
  if (environment === "dev") return;
  if (v.stage !== "production") {
    throw new UnprocessableError(
      `${v.modelName} version ${v.version} is in stage ${v.stage}; a production deployment serves only the ` +
        "model's production version as primary (start it as a canary, or use --environment dev)",
    );
  }
}

/** A production canary is a staging version that passes the model's validation gate now. */
export async function checkCanary(
  registry: RegistryPort,
  environment: Environment,
  v: ModelVersion,
): Promise<string | undefined> {
  if (environment === "dev") return undefined;
  if (v.stage !== "staging") {
    throw new UnprocessableError(
      `${v.modelName} version ${v.version} is in stage ${v.stage}; a production deployment takes only a staging ` +
        "version with a passing validation as canary",
    );
  }
  const standing = await registry.hasPassingValidation(v.id);
  if (!standing.passed) {
    throw new UnprocessableError(`canary refused: ${standing.message}`, { standing });
  }
  return standing.record?.id;
}
