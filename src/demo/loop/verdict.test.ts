import { describe, expect, it } from "vitest";
import type { LoopSummary } from "./summary.js";
import { printSummary } from "./summary.js";
import { demoVerdict } from "./verdict.js";

type Pipeline = LoopSummary["pipelines"][number];

function pipeline(trigger: number, state: string, reason: string, candidate: number, base: number): Pipeline {
  return {
    id: `p${trigger}-0123456789`,
    trigger,
    newLabels: 100,
    state,
    reason,
    baseVersion: base,
    candidateVersion: candidate,
    holdout: { items: 60, candidate: 0.71, production: 0.82 },
    steps: [{ step: "train", status: "succeeded", seconds: 12, reason: null, resumes: 0 }],
    seconds: 40,
  };
}

function summary(first: Pipeline, second: Pipeline, production: number): LoopSummary {
  return {
    seconds: 90,
    data: { baseImages: 300, shiftedImages: 200, firstSnapshot: "s0" },
    versions: [
      { version: 1, trainedFrom: null, snapshot: "s0", holdoutAccuracy: 0.82, outcome: "production" },
    ],
    production: { version: production },
    pipelines: [first, second],
    canary: [],
    labels: { labeled: 10, accepted: 5, corrected: 5, byVersion: {} },
    traffic: { sent: 10, failed: 0, byVersion: {}, canary: 0 },
    timings: {},
  };
}

const gateSaid = "accuracy 0.7100 regresses 0.1100 vs production 0.8200 (max 0)";

describe("the demo's verdict (README: mlops demo says plainly when v2 is rejected)", () => {
  it("v2 promoted and v3 rejected: as designed", () => {
    const v = demoVerdict(
      summary(pipeline(1, "promoted", "canary passed", 2, 1), pipeline(2, "rejected", gateSaid, 3, 2), 2),
    );
    expect(v.asDesigned).toBe(true);
    expect(v.lines[0]).toMatch(
      /^PROMOTED: v2 \(fine-tuned from v1 on the new labels\) was promoted to production/,
    );
    expect(v.lines).toContain(
      "REJECTED: v3 (trained on corrupted labels) was rejected by the validation gate, as intended",
    );
    expect(v.lines.at(-1)).toMatch(/^RESULT: the loop worked as designed/);
  });

  it("v2 rejected by the gate: a REJECTED line with the gate's reason, and NOT as designed", () => {
    const v = demoVerdict(
      summary(pipeline(1, "rejected", gateSaid, 2, 1), pipeline(2, "rejected", gateSaid, 3, 1), 1),
    );
    expect(v.asDesigned).toBe(false);
    expect(v.lines[0]).toBe(
      "REJECTED: v2 (fine-tuned from v1 on the new labels) was rejected by the validation gate (holdout: 71.0% vs production 82.0% on 60 items)",
    );
    expect(v.lines).toContain(`  reason: ${gateSaid}`);
    expect(v.lines).toContain("  production stays v1: this run did not show a retrain beating production");
    expect(v.lines.at(-1)).toBe("RESULT: NOT as designed (see the lines above)");
  });

  it("a rolled-back v2 and a promoted corrupted candidate are both called out", () => {
    const v = demoVerdict(
      summary(
        pipeline(1, "rolled_back", "p95 ratio 2.1", 2, 1),
        pipeline(2, "promoted", "canary passed", 3, 1),
        3,
      ),
    );
    expect(v.asDesigned).toBe(false);
    expect(v.lines[0]).toMatch(/^ROLLED BACK: v2 .* was rolled back by the canary analysis/);
    expect(
      v.lines.some((l) => l.startsWith("NOT STOPPED: v3 (trained on corrupted labels) was promoted")),
    ).toBe(true);
  });

  it("the printed summary ends with the outcome, so the rejection is the last thing a user reads", () => {
    let text = "";
    printSummary(
      summary(pipeline(1, "rejected", gateSaid, 2, 1), pipeline(2, "rejected", gateSaid, 3, 1), 1),
      { write: (chunk: string) => (text += chunk) },
    );
    const tail = text.trimEnd().split("\n").slice(-7);
    expect(tail[0]).toBe("outcome:");
    expect(tail[1]).toMatch(/^ {2}REJECTED: v2 /);
    expect(tail.at(-1)).toBe("  RESULT: NOT as designed (see the lines above)");
  });
});
