import type { AnalysisPlan } from "../../serving/deployments/deployment.js";
import { next, type StepHandler, wait } from "../step-context.js";

/** A canary the pipeline starts is always analysed and decided by serving's loop, never left to a person. */
export function pipelineCanaryPlan(plan: Partial<AnalysisPlan> | null): Partial<AnalysisPlan> {
  return { ...(plan ?? {}), auto: true };
}

/** The candidate passed the gate: `staging` in the registry (already there after a restart: nothing to do). */
export const stageStep: StepHandler = async (run, ctx) => {
  const version = run.candidateVersion as number;
  const { version: found } = await ctx.ports.registry.getVersion(
    ctx.principal,
    run.projectId,
    run.modelName,
    version,
  );
  if (found.stage === "experiment") {
    await ctx.ports.registry.transition(ctx.principal, run.projectId, run.modelName, version, "staging", {
      reason: `passed the validation gate in pipeline ${run.id}`,
    });
  }
  const details = { stage: found.stage === "experiment" ? "staging" : found.stage };
  if (!run.autoDeploy) {
    return next(
      "staged",
      `version ${version} is in staging; promote it by hand (the policy does not auto-deploy)`,
      { details },
    );
  }
  return next("canary", `version ${version} moved to staging`, { details });
};

/** `<project id>/<name>`: the unambiguous reference of the run's deployment. */
function deploymentOfRun(run: { projectId: string; deployment: string | null }): string {
  return `${run.projectId}/${run.deployment as string}`;
}

/** Starts the canary on the model's deployment; a canary of this version already running is kept. */
export const canaryStep: StepHandler = async (run, ctx) => {
  const version = run.candidateVersion as number;
  if (!run.deployment) return next("failed", "autoDeploy is set but the policy names no deployment");
  // Deployment names are unique per project: name the policy's project so a same-named deployment
  // elsewhere cannot make the reference ambiguous (docs/security.md, tenancy).
  const d = await ctx.ports.deployments.get(ctx.principal, deploymentOfRun(run));
  if (d.primaryVersion === version) {
    return next("analysis", `version ${version} already serves ${d.name}`, {
      details: { deployment: d.name },
    });
  }
  if (d.canaryVersion !== version) {
    if (d.state === "canarying" || d.state === "promoting") {
      return wait(`deployment ${d.name} is busy with the canary of version ${d.canaryVersion}`);
    }
    const started = await ctx.ports.deployments.startCanary(ctx.principal, deploymentOfRun(run), {
      version,
      plan: pipelineCanaryPlan(run.canaryPlan),
      reason: `retrain pipeline ${run.id}: candidate version ${version}`,
    });
    return next("analysis", `canary of version ${version} on ${d.name} at ${started.canaryWeight}%`, {
      details: { deployment: d.name, weight: started.canaryWeight, plan: started.plan },
    });
  }
  return next("analysis", `canary of version ${version} on ${d.name} already running`, {
    details: { deployment: d.name },
  });
};

/** Waits for serving's analysis loop to decide, and records what it decided. */
export const analysisStep: StepHandler = async (run, ctx) => {
  const version = run.candidateVersion as number;
  const name = run.deployment as string;
  const d = await ctx.ports.deployments.get(ctx.principal, deploymentOfRun(run));
  const history = await ctx.ports.deployments.history(ctx.principal, deploymentOfRun(run));
  const started = history.filter((e) => e.action === "start_canary" && e.canaryVersion === version).pop();
  const after = started ? history.filter((e) => e.id > started.id && e.canaryVersion === version) : [];
  const decisions = after.filter((e) => e.action === "record_analysis" || e.action === "set_weight").length;
  if (d.primaryVersion === version && d.state === "stable") {
    const promoted = after.filter((e) => e.action === "complete_promotion").pop();
    return next("promoted", `canary promoted: ${promoted?.reason ?? `version ${version} serves ${name}`}`, {
      details: { deployment: name, analysisSteps: decisions, decision: promoted?.details ?? null },
    });
  }
  const rolledBack = after.filter((e) => e.action === "rollback").pop();
  if (rolledBack) {
    return next("rolled_back", `canary rolled back: ${rolledBack.reason}`, {
      details: { deployment: name, analysisSteps: decisions, decision: rolledBack.details },
    });
  }
  if (d.canaryVersion !== version) {
    return next(
      "failed",
      `the canary of version ${version} on ${name} ended without a promotion or rollback on record`,
    );
  }
  return wait(`canary at ${d.canaryWeight}% (${d.state}, ${decisions} analysis steps)`, {
    details: { weight: d.canaryWeight, analysisSteps: decisions },
  });
};
