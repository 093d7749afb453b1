import type { PipelineRun, TriggerInfo } from "./pipeline-run.js";
import type { RetrainPolicy } from "./policy.js";

/** A snapshot labels may be counted from, and when it was taken. */
export interface SnapshotRef {
  id: string;
  createdAt: number;
}

export interface Basis {
  snapshot: SnapshotRef | null;
  source: TriggerInfo["basisSource"];
}

/**
 * Which snapshot new labels are counted since: the one the current production version was trained on
 * (its run's lineage), unless the policy's last run snapshotted later (a rejected or still-running
 * candidate has already "used" those labels: counting them again would fire twice for one crossing).
 */
export function chooseBasis(production: SnapshotRef | null, lastRun: SnapshotRef | null): Basis {
  if (lastRun && (!production || lastRun.createdAt > production.createdAt)) {
    return { snapshot: lastRun, source: "last-run" };
  }
  if (production) return { snapshot: production, source: "production" };
  return { snapshot: null, source: "none" };
}

export interface TriggerFacts {
  policy: Pick<
    RetrainPolicy,
    "paused" | "minNewLabels" | "cooldownSeconds" | "lastFiredAt" | "settleSeconds" | "thresholdMetAt"
  >;
  now: number;
  /** A run of this policy that has not ended. */
  activeRun: Pick<PipelineRun, "id" | "state"> | undefined;
  newLabels: number;
  /** Bulk imports into the dataset that are still sending batches. */
  openImports: { id: string; source: string }[];
  /** When the dataset's labels last changed; null without labels. */
  lastLabelChangeAt: number | null;
}

/**
 * Steady labeling never goes quiet: once the threshold has been met for settleSeconds x this factor, the
 * quiet period is no longer waited for (an open import still is: it ends or expires).
 */
export const MAX_SETTLE_FACTOR = 30;

export type TriggerDecision =
  | { fire: true; reason: string }
  | { fire: false; reason: string /** epoch ms when the cooldown ends */; cooldownUntil?: number };

/** Pure: whether a policy fires now. The caller still has to claim the firing in the database. */
export function decideTrigger(f: TriggerFacts): TriggerDecision {
  const { policy } = f;
  if (policy.paused) return { fire: false, reason: "paused" };
  if (f.activeRun)
    return { fire: false, reason: `pipeline ${f.activeRun.id} is still in ${f.activeRun.state}` };
  if (f.newLabels < policy.minNewLabels) {
    return { fire: false, reason: `${f.newLabels} of ${policy.minNewLabels} new labels` };
  }
  const [open] = f.openImports;
  if (open) {
    return { fire: false, reason: `import ${open.id.slice(0, 8)} (${open.source}) is still adding items` };
  }
  const settleMs = policy.settleSeconds * 1000;
  const quietFor = f.lastLabelChangeAt === null ? Number.POSITIVE_INFINITY : f.now - f.lastLabelChangeAt;
  const metFor = policy.thresholdMetAt === null ? 0 : f.now - policy.thresholdMetAt;
  if (quietFor < settleMs && metFor < settleMs * MAX_SETTLE_FACTOR) {
    return {
      fire: false,
      reason: `labels still arriving: waiting for ${Math.ceil((settleMs - quietFor) / 1000)} s without changes (${f.newLabels} new labels)`,
    };
  }
  if (policy.lastFiredAt !== null) {
    const cooldownUntil = policy.lastFiredAt + policy.cooldownSeconds * 1000;
    if (f.now < cooldownUntil) {
      return {
        fire: false,
        reason: `cooling down for ${Math.ceil((cooldownUntil - f.now) / 1000)} s (${f.newLabels} new labels waiting)`,
        cooldownUntil,
      };
    }
  }
  return { fire: true, reason: `${f.newLabels} new labels >= ${policy.minNewLabels}` };
}
