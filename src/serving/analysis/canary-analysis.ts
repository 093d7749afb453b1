import type { AnalysisPlan } from "../deployments/deployment.js";
import type { VersionWindowStats } from "../prediction-log/prediction-record.js";
import { agreementUpperBound, DEFAULT_AGREEMENT_CONFIDENCE } from "./agreement-bound.js";

/** Labelers' votes on one model version's predictions (the data domain's servedAgreement). */
export interface AgreementCounts {
  accepted: number;
  corrected: number;
  total: number;
}

/**
 * Votes on predictions the deployment issued, counted from its own project's datasets only, so that no
 * other project can move (or roll back) a canary with labels (docs/security.md, tenancy).
 */
export interface AgreementSource {
  servedAgreement(query: {
    projectId: string;
    deploymentId: string;
    modelVersionId: string;
    /** `model:version` */
    modelVersion: string;
    since?: number;
  }): Promise<AgreementCounts>;
}

export interface StepFigures {
  canary: VersionWindowStats;
  primary: VersionWindowStats;
  /** Since the canary started; absent when no agreement source is wired. */
  agreement?: AgreementCounts;
}

export type Verdict = "wait" | "pass" | "fail";

export interface StepAnalysis {
  verdict: Verdict;
  /** Why it failed (every failed check), or why it waits. */
  reasons: string[];
  /** Checks that were made and passed, or skipped and why. */
  notes: string[];
  errorRate: number;
  /** max(canary p95, 1 ms) / max(primary p95, 1 ms); null when either has no successful request. */
  p95Ratio: number | null;
  agreement: number | null;
  figures: StepFigures;
}

/** Successful requests per version before a p95 is compared, for plans stored without minLatencySamples. */
export const DEFAULT_MIN_LATENCY_SAMPLES = 50;

/** Latencies under this count as this much, so sub-millisecond jitter cannot fail (or pass) a ratio. */
export const LATENCY_FLOOR_MS = 1;

/**
 * Judges one analysis step of a canary against its plan: `wait` until the step has minRequests canary
 * requests; then `fail` if any check fails (error rate, p95 latency relative to the primary in the same
 * window, label agreement once minLabels labels exist and its confidence bound is below the bar), else `pass`.
 */
export function judgeStep(plan: AnalysisPlan, figures: StepFigures): StepAnalysis {
  const { canary, primary, agreement } = figures;
  const reasons: string[] = [];
  const notes: string[] = [];
  const agreementRate = agreement && agreement.total > 0 ? agreement.accepted / agreement.total : null;
  const p95Ratio =
    canary.p95Ms !== null && primary.p95Ms !== null
      ? Math.max(canary.p95Ms, LATENCY_FLOOR_MS) / Math.max(primary.p95Ms, LATENCY_FLOOR_MS)
      : null;
  const base = { errorRate: canary.errorRate, p95Ratio, agreement: agreementRate, figures };
  if (canary.requests < plan.minRequests) {
    return {
      verdict: "wait",
      reasons: [`${canary.requests} of ${plan.minRequests} canary requests in this step`],
      notes,
      ...base,
    };
  }
  if (canary.errorRate > plan.maxErrorRate) {
    reasons.push(
      `error rate ${pct(canary.errorRate)} (${canary.errors}/${canary.requests}) is above ${pct(plan.maxErrorRate)}`,
    );
  } else notes.push(`error rate ${pct(canary.errorRate)} <= ${pct(plan.maxErrorRate)}`);

  const latencySamples = plan.minLatencySamples ?? DEFAULT_MIN_LATENCY_SAMPLES;
  const timed = Math.min(canary.requests - canary.errors, primary.requests - primary.errors);
  if (p95Ratio !== null && timed < latencySamples) {
    notes.push(
      `latency not judged: ${canary.requests - canary.errors} canary and ${primary.requests - primary.errors} primary successful requests, ${latencySamples} each needed`,
    );
  } else if (p95Ratio === null) {
    notes.push(
      canary.p95Ms === null
        ? "no successful canary request to time"
        : "latency not compared: the primary answered nothing in this step",
    );
  } else if (p95Ratio > plan.maxP95LatencyRatio) {
    reasons.push(
      `p95 latency ${ms(canary.p95Ms)} is ${p95Ratio.toFixed(2)}x the primary's ${ms(primary.p95Ms)} (max ${plan.maxP95LatencyRatio}x)`,
    );
  } else notes.push(`p95 latency ratio ${p95Ratio.toFixed(2)} <= ${plan.maxP95LatencyRatio}`);

  if (plan.minAgreement !== undefined) {
    const needed = plan.minLabels ?? 1;
    const confidence = plan.agreementConfidence ?? DEFAULT_AGREEMENT_CONFIDENCE;
    if (!agreement || agreement.total < needed) {
      notes.push(`agreement not judged: ${agreement?.total ?? 0} of ${needed} labels`);
    } else {
      const upper = agreementUpperBound(agreement.accepted, agreement.total, confidence);
      const counted = `${pct(agreementRate ?? 0)} (${agreement.accepted}/${agreement.total})`;
      const bound = `${pct(confidence)} upper bound ${pct(upper)}`;
      if (upper < plan.minAgreement) {
        reasons.push(
          `labelers accepted ${counted} of its predictions, below ${pct(plan.minAgreement)} (${bound})`,
        );
      } else if ((agreementRate ?? 0) < plan.minAgreement) {
        notes.push(`agreement ${counted} below ${pct(plan.minAgreement)} but not significantly (${bound})`);
      } else notes.push(`agreement ${counted} >= ${pct(plan.minAgreement)}`);
    }
  }
  return { verdict: reasons.length > 0 ? "fail" : "pass", reasons, notes, ...base };
}

/** What a verdict leads to, given the deployment's weight and failures so far. */
export type StepDecision =
  | { kind: "wait" }
  | { kind: "step"; weight: number }
  | { kind: "promote" }
  | { kind: "count_failure"; failures: number }
  | { kind: "rollback"; failures: number };

export function decideStep(
  plan: AnalysisPlan,
  weight: number,
  failures: number,
  verdict: Verdict,
): StepDecision {
  if (verdict === "wait") return { kind: "wait" };
  if (verdict === "fail") {
    const total = failures + 1;
    return total >= plan.failureLimit
      ? { kind: "rollback", failures: total }
      : { kind: "count_failure", failures: total };
  }
  if (weight >= plan.maxWeight) return { kind: "promote" };
  return { kind: "step", weight: Math.min(plan.maxWeight, round2(weight + plan.stepWeight)) };
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

function ms(x: number | null): string {
  return x === null ? "-" : `${x.toFixed(2)} ms`;
}
