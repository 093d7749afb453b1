import { randomUUID } from "node:crypto";
import type { PipelineRun } from "./pipeline-run.js";
import type { PipelineStore } from "./pipeline-store.js";
import { trainingSnapshotOf } from "./lineage.js";
import { deploymentOf, type RetrainPolicy } from "./policy.js";
import type { PipelinePorts } from "./ports.js";
import { PIPELINE_ACTOR, pipelinePrincipal } from "./step-context.js";
import { type Basis, chooseBasis, decideTrigger, type TriggerDecision } from "./trigger.js";

export interface TriggerStatus {
  newLabels: number;
  basis: Basis;
  decision: TriggerDecision;
  activeRun: string | null;
  productionVersion: number | null;
}

export interface TriggerCheck extends TriggerStatus {
  /** The run this check fired (and claimed in the database), if any. */
  fired?: PipelineRun;
}

/**
 * The retrain trigger: counts new or changed labels since the basis snapshot, decides (pure), and claims a
 * firing in the database (compare-and-set on the policy's trigger sequence + the unique (policy, sequence)
 * key of pipeline runs), so that two control planes on one database fire one run per crossing.
 */
export class TriggerService {
  private readonly now: () => number;

  constructor(
    private readonly deps: {
      store: PipelineStore;
      ports: PipelinePorts;
      holder: string;
      now?: () => number;
      log?: (message: string, details: Record<string, unknown>) => void;
    },
  ) {
    this.now = deps.now ?? Date.now;
  }

  /** Checks every unpaused policy; one policy's error does not stop the others. */
  async checkAll(): Promise<TriggerCheck[]> {
    const results: TriggerCheck[] = [];
    for (const policy of await this.deps.store.listPolicies({ activeOnly: true })) {
      try {
        results.push(await this.check(policy));
      } catch (err) {
        this.deps.log?.("retrain trigger check failed", {
          model: policy.modelName,
          error: (err as Error).message,
        });
      }
    }
    return results;
  }

  async check(policy: RetrainPolicy): Promise<TriggerCheck> {
    const status = await this.status(policy);
    if (!status.decision.fire) return status;
    const fired = await this.fire(policy, status);
    return fired
      ? { ...status, fired }
      : { ...status, decision: { fire: false, reason: "claimed by another process" } };
  }

  /** What the trigger sees now, without firing (for `mlops trigger show`). */
  async status(policy: RetrainPolicy): Promise<TriggerStatus> {
    const { ports, store } = this.deps;
    const principal = pipelinePrincipal(policy.ownerId);
    const versions = await ports.registry.listVersions(principal, policy.projectId, policy.modelName);
    const production = versions.find((v) => v.stage === "production");
    const last = await store.lastRun(policy.id);
    const lastSnapshot = last?.snapshotId ? await ports.snapshots.find(last.snapshotId) : undefined;
    const basis = chooseBasis(
      await trainingSnapshotOf(production, ports.tracking, ports.snapshots),
      lastSnapshot ? { id: lastSnapshot.id, createdAt: lastSnapshot.createdAt } : null,
    );
    const newLabels = await ports.snapshots.countLabelChangesSince(
      policy.datasetId,
      basis.snapshot?.id ?? null,
    );
    const activeRun = (await store.activeRuns(policy.id))[0];
    const settle = await ports.snapshots.settleFacts(policy.datasetId);
    const now = this.now();
    // The threshold's first sighting bounds how long a quiet period is waited for (see MAX_SETTLE_FACTOR).
    const met = newLabels >= policy.minNewLabels;
    if (met && policy.thresholdMetAt === null) await store.setThresholdMetAt(policy.id, now);
    if (!met && policy.thresholdMetAt !== null) await store.setThresholdMetAt(policy.id, null);
    const decision = decideTrigger({
      policy: { ...policy, thresholdMetAt: met ? (policy.thresholdMetAt ?? now) : null },
      now,
      activeRun,
      newLabels,
      openImports: settle.openImports,
      lastLabelChangeAt: settle.lastLabelChangeAt,
    });
    return {
      newLabels,
      basis,
      decision,
      activeRun: activeRun?.id ?? null,
      productionVersion: production?.version ?? null,
    };
  }

  private async fire(policy: RetrainPolicy, status: TriggerStatus): Promise<PipelineRun | undefined> {
    const { ports, store } = this.deps;
    const versions = await ports.registry.listVersions(
      pipelinePrincipal(policy.ownerId),
      policy.projectId,
      policy.modelName,
    );
    const production = versions.find((v) => v.stage === "production");
    const at = this.now();
    const run: PipelineRun = {
      id: randomUUID(),
      policyId: policy.id,
      projectId: policy.projectId,
      modelId: policy.modelId,
      modelName: policy.modelName,
      datasetId: policy.datasetId,
      triggerSeq: policy.triggerSeq + 1,
      state: "snapshot",
      stateReason: status.decision.reason,
      trigger: {
        newLabels: status.newLabels,
        minNewLabels: policy.minNewLabels,
        basisSnapshot: status.basis.snapshot?.id ?? null,
        basisSource: status.basis.source,
      },
      baseVersion: production?.version ?? null,
      baseVersionId: production?.id ?? null,
      snapshotId: null,
      jobId: null,
      runId: null,
      candidateVersion: null,
      candidateVersionId: null,
      evaluation: null,
      job: policy.job,
      autoDeploy: policy.autoDeploy,
      deployment: policy.autoDeploy ? deploymentOf(policy) : policy.deployment,
      canaryPlan: policy.canaryPlan,
      ownerId: policy.ownerId,
      revision: 1,
      createdAt: at,
      updatedAt: at,
      finishedAt: null,
    };
    const claimed = await store.claimTrigger(run, policy.triggerSeq, {
      step: "snapshot",
      at,
      holder: this.deps.holder,
    });
    if (!claimed) return undefined;
    await ports.audit.record({
      actor: PIPELINE_ACTOR,
      action: "pipeline.trigger",
      subjectType: "pipeline_run",
      subjectId: run.id,
      projectId: run.projectId,
      reason: status.decision.reason,
      details: {
        model: run.modelName,
        triggerSeq: run.triggerSeq,
        newLabels: status.newLabels,
        minNewLabels: policy.minNewLabels,
        basisSnapshot: run.trigger.basisSnapshot,
        baseVersion: run.baseVersion,
      },
    });
    this.deps.log?.("retrain pipeline fired", {
      model: run.modelName,
      pipeline: run.id,
      seq: run.triggerSeq,
    });
    return run;
  }
}
