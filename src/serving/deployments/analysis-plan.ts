import { InputError } from "../../errors.js";
import type { AnalysisPlan } from "./deployment.js";

/** Defaults in the spirit of progressive-delivery tools: 10% steps every minute up to 50%, then promote. */
export const DEFAULT_PLAN: AnalysisPlan = {
  intervalSeconds: 60,
  stepWeight: 10,
  maxWeight: 50,
  minRequests: 50,
  maxErrorRate: 0.01,
  maxP95LatencyRatio: 1.5,
  minLatencySamples: 50,
  failureLimit: 2,
  auto: false,
};

export const DEFAULT_MIN_LABELS = 20;

/** A partial plan as a request carries it. */
export type PlanInput = Partial<AnalysisPlan>;

/** Fills defaults and checks every field; InputError names the offending one. */
export function parsePlan(input: PlanInput = {}, base: AnalysisPlan = DEFAULT_PLAN): AnalysisPlan {
  const plan: AnalysisPlan = { ...base, ...definedOnly(input) };
  const check = (ok: boolean, field: keyof AnalysisPlan, rule: string) => {
    if (!ok) throw new InputError(`analysis plan: ${field} ${rule} (got ${JSON.stringify(plan[field])})`);
  };
  check(isFiniteIn(plan.intervalSeconds, 0.05, 86_400), "intervalSeconds", "must be between 0.05 and 86400");
  check(isFiniteIn(plan.stepWeight, 0.01, 100), "stepWeight", "must be a percent in (0, 100]");
  check(isFiniteIn(plan.maxWeight, 0.01, 100), "maxWeight", "must be a percent in (0, 100]");
  check(
    Number.isInteger(plan.minRequests) && plan.minRequests >= 1,
    "minRequests",
    "must be a positive integer",
  );
  check(isFiniteIn(plan.maxErrorRate, 0, 1), "maxErrorRate", "must be a fraction in [0, 1]");
  check(isFiniteIn(plan.maxP95LatencyRatio, 1, 1000), "maxP95LatencyRatio", "must be >= 1");
  check(
    plan.minLatencySamples === undefined ||
      (Number.isInteger(plan.minLatencySamples) && (plan.minLatencySamples ?? 0) >= 1),
    "minLatencySamples",
    "must be a positive integer",
  );
  check(
    Number.isInteger(plan.failureLimit) && plan.failureLimit >= 1,
    "failureLimit",
    "must be a positive integer",
  );
  check(typeof plan.auto === "boolean", "auto", "must be true or false");
  if (plan.minAgreement !== undefined) {
    check(isFiniteIn(plan.minAgreement, 0, 1), "minAgreement", "must be a fraction in [0, 1]");
    plan.minLabels ??= DEFAULT_MIN_LABELS;
  }
  if (plan.agreementConfidence !== undefined) {
    check(
      isFiniteIn(plan.agreementConfidence, 0.5, 0.999),
      "agreementConfidence",
      "must be a probability in [0.5, 0.999]",
    );
  }
  if (plan.minLabels !== undefined) {
    check(Number.isInteger(plan.minLabels) && plan.minLabels >= 1, "minLabels", "must be a positive integer");
  }
  return plan;
}

/** The canary's first weight: the requested percent, else one step; never above maxWeight. */
export function initialWeight(plan: AnalysisPlan, percent?: number): number {
  const weight = percent ?? plan.stepWeight;
  if (!isFiniteIn(weight, 0.01, 100)) throw new InputError(`percent must be in (0, 100] (got ${percent})`);
  if (weight > plan.maxWeight) {
    throw new InputError(`percent ${weight} is above the plan's maxWeight ${plan.maxWeight}`);
  }
  return weight;
}

function isFiniteIn(value: unknown, min: number, max: number): boolean {
  return typeof value === "number" && Number.isFinite(value) && value >= min && value <= max;
}

function definedOnly(input: PlanInput): PlanInput {
  return Object.fromEntries(
    Object.entries(input).filter(([, v]) => v !== undefined && v !== null),
  ) as PlanInput;
}
