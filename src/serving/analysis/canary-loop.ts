import { PeriodicLeaderLoop } from "../../leases/periodic-leader-loop.js";
import type { Principal } from "../../auth/principal.js";
import { actorOf } from "../../auth/principal.js";
import type { DeploymentChanges } from "../deployments/change-recorder.js";
import { type Deployment, modelVersionKey } from "../deployments/deployment.js";
import type { DeploymentStore } from "../deployments/deployment-store.js";
import { promoteCanary } from "../deployments/promotion-flow.js";
import type { RegistryPort } from "../deployments/version-rules.js";
import type { PredictionStore } from "../prediction-log/prediction-record.js";
import {
  type AgreementSource,
  decideStep,
  judgeStep,
  type StepAnalysis,
  type StepFigures,
} from "./canary-analysis.js";

export interface CanaryLoopOptions {
  store: DeploymentStore;
  predictions: PredictionStore;
  changes: DeploymentChanges;
  registry: RegistryPort;
  /** The principal automated promotions act as in the registry. */
  principal: Principal;
  agreement?: AgreementSource;
  /** Work happens only while this is true (the leader lease). */
  isLeader: () => boolean;
  /** Writes this process's buffered prediction log before judging (other processes flush on their own timer). */
  flushLog?: () => Promise<void>;
  tickMs?: number;
  now?: () => number;
  log?: (message: string, details: Record<string, unknown>) => void;
}

/** What one pass did to one deployment (for tests and logs). */
export interface CanaryAction {
  deployment: string;
  action: "wait" | "step" | "promote" | "count_failure" | "rollback" | "resume_promotion" | "error";
  analysis?: StepAnalysis;
  error?: string;
}

/**
 * Automated canary analysis, in the leader only: each tick, every `canarying` deployment with an `auto`
 * plan whose step is `intervalSeconds` old is judged on the prediction log of that step (and on label
 * agreement since the canary started); it steps the weight, promotes, counts a failure or rolls back.
 * Every decision goes through DeploymentChanges (history + audit with the figures). A deployment left in
 * `promoting` by a crash is finished here.
 */
export class CanaryAnalysisLoop {
  readonly name = "canary-analysis";
  private readonly loop: PeriodicLeaderLoop;
  private readonly now: () => number;

  constructor(private readonly o: CanaryLoopOptions) {
    this.now = o.now ?? Date.now;
    const tickMs = o.tickMs ?? 250;
    this.loop = new PeriodicLeaderLoop({
      name: this.name,
      intervalMs: tickMs,
      initialDelayMs: tickMs,
      isLeader: o.isLeader,
      pass: () => this.runOnce(),
      log: (_message, details) => o.log?.("canary analysis pass failed", details),
    });
  }

  start(): void {
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  /** One pass over the deployments that are canarying or promoting. */
  async runOnce(): Promise<CanaryAction[]> {
    const deployments = (await this.o.store.list()).filter(
      (d) => d.state === "canarying" || d.state === "promoting",
    );
    const actions: CanaryAction[] = [];
    for (const d of deployments) {
      try {
        const action = d.state === "promoting" ? await this.resume(d) : await this.analyze(d);
        if (action) actions.push(action);
      } catch (err) {
        // A concurrent manual change (ConflictError) or a refused promotion: the next tick sees the new state.
        this.o.log?.("canary analysis of a deployment failed", {
          deployment: d.name,
          error: (err as Error).message,
        });
        actions.push({ deployment: d.name, action: "error", error: (err as Error).message });
      }
    }
    return actions;
  }

  private async resume(d: Deployment): Promise<CanaryAction> {
    await promoteCanary(this.o.changes, this.o.registry, d, {
      principal: this.o.principal,
      actor: actorOf(this.o.principal),
      reason: "finishing a promotion that was interrupted",
    });
    return { deployment: d.name, action: "resume_promotion" };
  }

  private async analyze(d: Deployment): Promise<CanaryAction | undefined> {
    const plan = d.plan;
    if (!plan?.auto || !d.canaryVersionId || d.canaryVersion === null || d.stepStartedAt === null)
      return undefined;
    const now = this.now();
    if (now - d.stepStartedAt < plan.intervalSeconds * 1000) return undefined;
    await this.o.flushLog?.();
    const figures = await this.figures(d, d.stepStartedAt, now);
    const analysis = judgeStep(plan, figures);
    const decision = decideStep(plan, d.canaryWeight, d.failures, analysis.verdict);
    const actor = actorOf(this.o.principal);
    const details = { analysis: analysisDetails(analysis), window: { since: d.stepStartedAt, until: now } };
    const summary = analysis.reasons.length > 0 ? analysis.reasons.join("; ") : analysis.notes.join("; ");
    switch (decision.kind) {
      case "wait":
        return { deployment: d.name, action: "wait", analysis };
      case "step":
        await this.o.changes.apply(
          d,
          { action: "set_weight", weight: decision.weight },
          {
            actor,
            reason: `analysis passed (${summary}); canary weight ${d.canaryWeight}% -> ${decision.weight}%`,
            details,
          },
        );
        return { deployment: d.name, action: "step", analysis };
      case "promote":
        await promoteCanary(this.o.changes, this.o.registry, d, {
          principal: this.o.principal,
          actor,
          reason: `analysis passed at the maximum weight ${plan.maxWeight}% (${summary})`,
          details,
        });
        return { deployment: d.name, action: "promote", analysis };
      case "count_failure":
        await this.o.changes.apply(
          d,
          { action: "record_analysis", failed: true },
          {
            actor,
            reason: `analysis failed (${decision.failures} of ${plan.failureLimit}): ${summary}`,
            details,
          },
        );
        return { deployment: d.name, action: "count_failure", analysis };
      case "rollback":
        await this.o.changes.apply(
          d,
          { action: "rollback" },
          {
            actor,
            reason: `canary failed ${decision.failures} analyses (limit ${plan.failureLimit}): ${summary}`,
            details: { ...details, outcome: "failed", failures: decision.failures },
          },
        );
        return { deployment: d.name, action: "rollback", analysis };
    }
  }

  private async figures(d: Deployment, since: number, until: number): Promise<StepFigures> {
    const window = (versionId: string) =>
      this.o.predictions.windowStats({
        deploymentId: d.id,
        modelVersionId: versionId,
        since,
        until: until + 1,
      });
    const [canary, primary, agreement] = await Promise.all([
      window(d.canaryVersionId as string),
      window(d.primaryVersionId),
      this.o.agreement?.servedAgreement({
        projectId: d.projectId,
        deploymentId: d.id,
        modelVersionId: d.canaryVersionId as string,
        modelVersion: modelVersionKey(d.modelName, d.canaryVersion as number),
        since: d.canaryStartedAt ?? since,
      }),
    ]);
    return { canary, primary, agreement };
  }
}

function analysisDetails(a: StepAnalysis): Record<string, unknown> {
  return {
    verdict: a.verdict,
    reasons: a.reasons,
    notes: a.notes,
    errorRate: a.errorRate,
    p95Ratio: a.p95Ratio,
    agreement: a.agreement,
    canary: a.figures.canary,
    primary: a.figures.primary,
    labels: a.figures.agreement ?? null,
  };
}
