import { describe, expect, it } from "vitest";
import { parsePlan } from "../deployments/analysis-plan.js";
import type { VersionWindowStats } from "../prediction-log/prediction-record.js";
import { decideStep, judgeStep } from "./canary-analysis.js";

const stats = (over: Partial<VersionWindowStats>): VersionWindowStats => ({
  requests: 100,
  errors: 0,
  errorRate: 0,
  p50Ms: 2,
  p95Ms: 4,
  meanScore: 0.8,
  ...over,
});
const plan = parsePlan({
  minRequests: 50,
  maxErrorRate: 0.02,
  maxP95LatencyRatio: 1.5,
  failureLimit: 2,
  stepWeight: 10,
  maxWeight: 30,
});

describe("canary step analysis", () => {
  it("waits until the step has enough canary requests", () => {
    const a = judgeStep(plan, { canary: stats({ requests: 49 }), primary: stats({}) });
    expect(a.verdict).toBe("wait");
    expect(a.reasons[0]).toMatch(/49 of 50/);
  });

  it("fails on error rate, on p95 ratio, and on agreement once enough labels exist", () => {
    expect(
      judgeStep(plan, { canary: stats({ errors: 3, errorRate: 0.03 }), primary: stats({}) }).verdict,
    ).toBe("fail");
    const slow = judgeStep(plan, { canary: stats({ p95Ms: 8 }), primary: stats({ p95Ms: 4 }) });
    expect(slow.verdict).toBe("fail");
    expect(slow.p95Ratio).toBe(2);
    const withAgreement = parsePlan({ ...plan, minAgreement: 0.7, minLabels: 10 });
    const few = judgeStep(withAgreement, {
      canary: stats({}),
      primary: stats({}),
      agreement: { accepted: 1, corrected: 8, total: 9 },
    });
    expect(few.verdict).toBe("pass");
    expect(few.notes.join()).toMatch(/9 of 10 labels/);
    const bad = judgeStep(withAgreement, {
      canary: stats({}),
      primary: stats({}),
      agreement: { accepted: 5, corrected: 5, total: 10 },
    });
    expect(bad.verdict).toBe("fail");
    expect(bad.agreement).toBe(0.5);
    expect(bad.reasons.join()).toMatch(/90\.0% upper bound 68\.8%/);
  });

  it("fails on agreement only when the labels show it is below the bar, not on the noise of a few", () => {
    const withAgreement = parsePlan({ ...plan, minAgreement: 0.4, minLabels: 15 });
    const judge = (accepted: number, total: number, p = withAgreement) =>
      judgeStep(p, {
        canary: stats({}),
        primary: stats({}),
        agreement: { accepted, corrected: total - accepted, total },
      });
    // 6 of 16 is 37.5%: below 40%, but a model that agrees half the time shows that one step in four.
    const noisy = judge(6, 16);
    expect(noisy.verdict).toBe("pass");
    expect(noisy.notes.join()).toMatch(/37\.5% \(6\/16\) below 40\.0% but not significantly/);
    expect(judge(3, 16).verdict).toBe("fail");
    // With many labels the same share is significant.
    expect(judge(300, 800).verdict).toBe("fail");
    // Confidence 0.5 compares the raw share, as plans did before the bound.
    expect(judge(6, 16, parsePlan({ ...withAgreement, agreementConfidence: 0.5 })).verdict).toBe("fail");
    expect(() => parsePlan({ agreementConfidence: 1 })).toThrow(/agreementConfidence/);
  });

  it("does not judge latency on a handful of requests (a better candidate is not rolled back on p95 noise)", () => {
    const tiny = parsePlan({ ...plan, minRequests: 5 });
    const noisy = { canary: stats({ requests: 5, p95Ms: 40 }), primary: stats({ requests: 45, p95Ms: 4 }) };
    const a = judgeStep(tiny, noisy);
    expect(a.verdict).toBe("pass");
    expect(a.notes.join()).toMatch(
      /latency not judged: 5 canary and 45 primary successful requests, 50 each/,
    );
    // Enough samples on both sides: the same ratio fails.
    const judged = judgeStep(parsePlan({ ...tiny, minLatencySamples: 5 }), noisy);
    expect(judged.verdict).toBe("fail");
    expect(judged.reasons.join()).toMatch(/p95 latency/);
    // Errors do not count as timed samples.
    const errored = judgeStep(parsePlan({ ...tiny, minLatencySamples: 5, maxErrorRate: 1 }), {
      canary: stats({ requests: 5, errors: 1, errorRate: 0.2, p95Ms: 40 }),
      primary: stats({}),
    });
    expect(errored.notes.join()).toMatch(/latency not judged/);
    expect(() => parsePlan({ minLatencySamples: 0 })).toThrow(/minLatencySamples/);
  });

  it("does not let sub-millisecond jitter fail the latency ratio", () => {
    const a = judgeStep(plan, { canary: stats({ p95Ms: 0.9 }), primary: stats({ p95Ms: 0.2 }) });
    expect(a.p95Ratio).toBe(1);
    expect(a.verdict).toBe("pass");
  });

  it("steps the weight up to the maximum, then promotes; fails count up to the limit, then roll back", () => {
    expect(decideStep(plan, 10, 0, "pass")).toEqual({ kind: "step", weight: 20 });
    expect(decideStep(plan, 25, 0, "pass")).toEqual({ kind: "step", weight: 30 });
    expect(decideStep(plan, 30, 0, "pass")).toEqual({ kind: "promote" });
    expect(decideStep(plan, 30, 0, "fail")).toEqual({ kind: "count_failure", failures: 1 });
    expect(decideStep(plan, 30, 1, "fail")).toEqual({ kind: "rollback", failures: 2 });
    expect(decideStep(plan, 30, 1, "wait")).toEqual({ kind: "wait" });
  });

  it("validates plans with messages that name the field", () => {
    expect(() => parsePlan({ maxErrorRate: 2 })).toThrow(/maxErrorRate/);
    expect(() => parsePlan({ failureLimit: 0 })).toThrow(/failureLimit/);
    expect(parsePlan({ minAgreement: 0.9 }).minLabels).toBe(20);
  });
});
