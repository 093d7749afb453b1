import { ConflictError } from "../../errors.js";
import {
  type AnalysisPlan,
  DEPLOYMENT_STATES,
  type Deployment,
  type DeploymentAction,
  type DeploymentState,
  type LabelStudioSetup,
} from "./deployment.js";

/**
 * The deployment state machine. `stable`: the primary takes all traffic. `canarying`: a canary takes
 * `canaryWeight` percent and is analysed. `promoting`: the canary is being made the production version in
 * the registry (a crash here is finished by the analysis loop). `rolled_back`: the last canary failed;
 * the primary takes all traffic and a new canary may start.
 */
export const DEPLOYMENT_TRANSITIONS: Readonly<
  Record<
    Exclude<DeploymentAction, "create">,
    { from: readonly DeploymentState[]; to: DeploymentState | "same" }
  >
> = {
  start_canary: { from: ["stable", "rolled_back"], to: "canarying" },
  set_weight: { from: ["canarying"], to: "canarying" },
  record_analysis: { from: ["canarying"], to: "canarying" },
  begin_promotion: { from: ["canarying"], to: "promoting" },
  complete_promotion: { from: ["promoting"], to: "stable" },
  abort_promotion: { from: ["promoting"], to: "canarying" },
  rollback: { from: ["canarying"], to: "rolled_back" },
  configure_label_studio: { from: DEPLOYMENT_STATES, to: "same" },
};

/** What a change does, beyond the state; every change also carries who, why and the figures. */
export type DeploymentChange =
  | {
      action: "start_canary";
      canaryVersionId: string;
      canaryVersion: number;
      weight: number;
      plan: AnalysisPlan;
    }
  | { action: "set_weight"; weight: number }
  /** A judged step that did not step the weight: counts a failure (or not) and opens a new window. */
  | { action: "record_analysis"; failed: boolean }
  | { action: "begin_promotion" }
  | { action: "complete_promotion" }
  | { action: "abort_promotion" }
  | { action: "rollback" }
  | { action: "configure_label_studio"; setup: LabelStudioSetup };

export interface ChangeRecord {
  actor: string;
  reason: string;
  details?: Record<string, unknown>;
}

/** Throws ConflictError unless `action` is allowed in `state`. */
export function checkDeploymentTransition(
  state: DeploymentState,
  action: Exclude<DeploymentAction, "create">,
): DeploymentState {
  const rule = DEPLOYMENT_TRANSITIONS[action];
  if (!rule.from.includes(state)) {
    throw new ConflictError(
      `cannot ${action.replace(/_/g, " ")} a deployment in state ${state} (allowed in: ${rule.from.join(", ")})`,
    );
  }
  return rule.to === "same" ? state : rule.to;
}

/** The deployment after `change` (pure; the caller persists it conditionally on `revision`). */
export function applyDeploymentChange(d: Deployment, change: DeploymentChange, now: number): Deployment {
  const state = checkDeploymentTransition(d.state, change.action);
  const next: Deployment = { ...d, state, revision: d.revision + 1, updatedAt: now };
  switch (change.action) {
    case "start_canary":
      return {
        ...next,
        canaryVersionId: change.canaryVersionId,
        canaryVersion: change.canaryVersion,
        canaryWeight: change.weight,
        plan: change.plan,
        canaryStartedAt: now,
        stepStartedAt: now,
        failures: 0,
      };
    case "set_weight":
      return { ...next, canaryWeight: change.weight, stepStartedAt: now };
    case "record_analysis":
      return { ...next, failures: d.failures + (change.failed ? 1 : 0), stepStartedAt: now };
    case "begin_promotion":
    case "abort_promotion":
      return next;
    case "complete_promotion":
      if (!d.canaryVersionId || d.canaryVersion === null)
        throw new ConflictError("the deployment has no canary to promote");
      return {
        ...next,
        primaryVersionId: d.canaryVersionId,
        primaryVersion: d.canaryVersion,
        ...noCanary,
      };
    case "rollback":
      return { ...next, ...noCanary };
    case "configure_label_studio":
      return { ...next, labelStudio: change.setup };
  }
}

const noCanary = {
  canaryVersionId: null,
  canaryVersion: null,
  canaryWeight: 0,
  canaryStartedAt: null,
  stepStartedAt: null,
  failures: 0,
} as const;
