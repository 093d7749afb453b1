import { InputError } from "../errors.js";

/** Per registered model: what a version must show on a held-out snapshot to reach production. */
export interface ValidationGate {
  metric: string;
  direction: "higher" | "lower";
  /** Absolute bounds on the metric. */
  min?: number;
  max?: number;
  /** How much worse than production's value on the same snapshot the candidate may be (>= 0). */
  maxRegression?: number;
  /**
   * Which validation records count (docs/architecture/registry.md, "Measured validation"): `platform` only
   * records the platform measured itself (the default for new gates); `any` also hand-reported ones
   * (gates that existed before measured validation keep it).
   */
  require: GateRequirement;
}

export const GATE_REQUIREMENTS = ["platform", "any"] as const;
export type GateRequirement = (typeof GATE_REQUIREMENTS)[number];

/** What the decision was compared with. */
export interface ProductionBaseline {
  version: number;
  recordId: string;
  value: number;
}

export interface ValidationDecision {
  passed: boolean;
  /** Why it failed; empty when it passed. */
  reasons: string[];
  /** What the decision rests on (bounds checked, the baseline, or why there was none). */
  notes: string[];
  metric?: string;
  value?: number;
  baseline?: ProductionBaseline;
}

/** The current production version's standing on one snapshot, as the gate sees it. */
export type ProductionContext =
  | { kind: "none" }
  | { kind: "self" }
  /** `olderCandidate`: the candidate is older than production, so a comparison on the snapshot is required. */
  | { kind: "no-record"; version: number; snapshot: string; olderCandidate?: boolean }
  | { kind: "record"; version: number; recordId: string; metrics: Record<string, number> };

// Float metrics (0.1 + 0.2) must not fail a bound they meet on paper.
const EPSILON = 1e-9;

export function parseGate(input: unknown): ValidationGate {
  const g = input as Partial<ValidationGate> | null;
  if (!g || typeof g !== "object") throw new InputError("gate: expected an object");
  if (typeof g.metric !== "string" || !/^[A-Za-z0-9_.\-/ ]{1,250}$/.test(g.metric)) {
    throw new InputError("gate: metric must be a metric key such as 'accuracy'");
  }
  if (g.direction !== "higher" && g.direction !== "lower") {
    throw new InputError("gate: direction must be 'higher' or 'lower' (which way is better)");
  }
  for (const key of ["min", "max", "maxRegression"] as const) {
    const value = g[key];
    if (value !== undefined && (typeof value !== "number" || !Number.isFinite(value))) {
      throw new InputError(`gate: ${key} must be a finite number`);
    }
  }
  if (g.maxRegression !== undefined && g.maxRegression < 0) {
    throw new InputError("gate: maxRegression must be >= 0");
  }
  if (g.min !== undefined && g.max !== undefined && g.min > g.max) {
    throw new InputError(`gate: min ${g.min} is above max ${g.max}`);
  }
  if (g.min === undefined && g.max === undefined && g.maxRegression === undefined) {
    throw new InputError("gate: set at least one of min, max, maxRegression");
  }
  if (g.require !== undefined && !(GATE_REQUIREMENTS as readonly unknown[]).includes(g.require)) {
    throw new InputError("gate: require must be 'platform' (measured by the platform) or 'any'");
  }
  const gate: ValidationGate = { metric: g.metric, direction: g.direction, require: g.require ?? "platform" };
  if (g.min !== undefined) gate.min = g.min;
  if (g.max !== undefined) gate.max = g.max;
  if (g.maxRegression !== undefined) gate.maxRegression = g.maxRegression;
  return gate;
}

export function describeGate(gate: ValidationGate): string {
  const parts = [`${gate.metric} (${gate.direction} is better)`];
  if (gate.min !== undefined) parts.push(`min ${gate.min}`);
  if (gate.max !== undefined) parts.push(`max ${gate.max}`);
  if (gate.maxRegression !== undefined)
    parts.push(`may regress vs production by at most ${gate.maxRegression}`);
  parts.push(gate.require === "any" ? "reported or measured records" : "platform-measured records only");
  return parts.join(", ");
}

const round = (x: number) => Number(x.toPrecision(6));

/**
 * Pass/fail of one set of metrics against the gate and production's record on the same snapshot.
 * Pure: the caller finds the production context.
 */
export function decideValidation(
  gate: ValidationGate | null,
  metrics: Record<string, number>,
  production: ProductionContext,
): ValidationDecision {
  if (!gate) {
    return {
      passed: false,
      reasons: ["the model has no validation gate; set one (mlops model gate NAME --metric ...)"],
      notes: [],
    };
  }
  const value = metrics[gate.metric];
  if (typeof value !== "number" || !Number.isFinite(value)) {
    return {
      passed: false,
      reasons: [`the record has no value for the gate's metric '${gate.metric}'`],
      notes: [],
      metric: gate.metric,
    };
  }
  const reasons: string[] = [];
  const notes: string[] = [];
  if (gate.min !== undefined) {
    if (value < gate.min - EPSILON)
      reasons.push(`${gate.metric} ${value} is below the minimum ${gate.min} by ${round(gate.min - value)}`);
    else notes.push(`${gate.metric} ${value} >= minimum ${gate.min}`);
  }
  if (gate.max !== undefined) {
    if (value > gate.max + EPSILON)
      reasons.push(`${gate.metric} ${value} is above the maximum ${gate.max} by ${round(value - gate.max)}`);
    else notes.push(`${gate.metric} ${value} <= maximum ${gate.max}`);
  }
  let baseline: ProductionBaseline | undefined;
  if (production.kind === "none") {
    notes.push("no production version: decided on the absolute bounds only");
  } else if (production.kind === "self") {
    notes.push("this version is the production version: no comparison with itself");
  } else if (production.kind === "no-record" && production.olderCandidate) {
    reasons.push(
      `production version ${production.version} is newer and has no record on snapshot '${production.snapshot}': promoting an older version over it needs both measured on the same snapshot`,
    );
  } else if (production.kind === "no-record") {
    notes.push(
      `production version ${production.version} has no record on snapshot '${production.snapshot}': decided on the absolute bounds only`,
    );
  } else {
    const prodValue = production.metrics[gate.metric];
    if (typeof prodValue !== "number") {
      notes.push(
        `production version ${production.version}'s record has no '${gate.metric}': decided on the absolute bounds only`,
      );
    } else {
      baseline = { version: production.version, recordId: production.recordId, value: prodValue };
      const regression = gate.direction === "higher" ? prodValue - value : value - prodValue;
      const allowed = gate.maxRegression;
      if (allowed !== undefined && regression > allowed + EPSILON) {
        reasons.push(
          `${gate.metric} ${value} regresses vs production version ${production.version} (${prodValue}) by ${round(regression)}, more than the allowed ${allowed}`,
        );
      } else {
        notes.push(
          `${gate.metric} ${value} vs production version ${production.version}: ${prodValue} (${regression > 0 ? `regression ${round(regression)}` : "no regression"}${allowed !== undefined ? `, allowed ${allowed}` : ""})`,
        );
      }
    }
  }
  return { passed: reasons.length === 0, reasons, notes, metric: gate.metric, value, baseline };
}
