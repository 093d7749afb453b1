import { describe, expect, it } from "vitest";
import { checkTransition, parseStage, STAGE_TRANSITIONS, STAGES } from "./stages.js";
import { decideValidation, parseGate } from "./validation-gate.js";

const gate = parseGate({ metric: "accuracy", direction: "higher", min: 0.9, maxRegression: 0.01 });
const prod = (accuracy: number) => ({
  kind: "record" as const,
  version: 1,
  recordId: "r1",
  metrics: { accuracy },
});

describe("validation gate", () => {
  it("passes on the bounds alone when production has no record on the snapshot, and says so", () => {
    const d = decideValidation(gate, { accuracy: 0.93 }, { kind: "no-record", version: 1, snapshot: "s" });
    expect(d.passed).toBe(true);
    expect(d.notes.join()).toContain("has no record on snapshot 's': decided on the absolute bounds only");
  });

  it("fails below the minimum, naming the metric and the gap", () => {
    const d = decideValidation(gate, { accuracy: 0.85 }, { kind: "none" });
    expect(d).toMatchObject({ passed: false, reasons: ["accuracy 0.85 is below the minimum 0.9 by 0.05"] });
  });

  it("allows a regression within the tolerance and refuses one beyond it", () => {
    expect(decideValidation(gate, { accuracy: 0.925 }, prod(0.93)).passed).toBe(true);
    expect(decideValidation(gate, { accuracy: 0.92 }, prod(0.93)).passed).toBe(true); // exactly 0.01 (float-safe)
    const d = decideValidation(gate, { accuracy: 0.91 }, prod(0.93));
    expect(d.passed).toBe(false);
    expect(d.reasons[0]).toContain("regresses vs production version 1 (0.93) by 0.02");
    expect(d.baseline).toEqual({ version: 1, recordId: "r1", value: 0.93 });
  });

  it("reads 'lower is better' the other way round", () => {
    const loss = parseGate({ metric: "loss", direction: "lower", max: 0.5, maxRegression: 0.05 });
    expect(
      decideValidation(
        loss,
        { loss: 0.3 },
        { kind: "record", version: 2, recordId: "r", metrics: { loss: 0.28 } },
      ).passed,
    ).toBe(true);
    expect(
      decideValidation(
        loss,
        { loss: 0.4 },
        { kind: "record", version: 2, recordId: "r", metrics: { loss: 0.28 } },
      ).passed,
    ).toBe(false);
    expect(decideValidation(loss, { loss: 0.6 }, { kind: "none" }).reasons[0]).toContain(
      "above the maximum 0.5",
    );
  });

  it("fails without a gate or without the gate's metric", () => {
    expect(decideValidation(null, { accuracy: 1 }, { kind: "none" }).reasons[0]).toContain(
      "no validation gate",
    );
    expect(decideValidation(gate, { f1: 1 }, { kind: "none" }).reasons[0]).toContain(
      "no value for the gate's metric 'accuracy'",
    );
  });

  it("rejects malformed gates", () => {
    expect(() => parseGate({ metric: "a", direction: "up", min: 1 })).toThrow(/direction/);
    expect(() => parseGate({ metric: "a", direction: "higher" })).toThrow(/at least one/);
    expect(() => parseGate({ metric: "a", direction: "higher", maxRegression: -1 })).toThrow(/>= 0/);
    expect(() => parseGate({ metric: "a", direction: "higher", min: 0, require: "trust" })).toThrow(
      /require/,
    );
  });

  it("requires platform-measured records unless the gate says any", () => {
    expect(parseGate({ metric: "a", direction: "higher", min: 0 }).require).toBe("platform");
    expect(parseGate({ metric: "a", direction: "higher", min: 0, require: "any" }).require).toBe("any");
  });

  it("refuses an older version over a newer production that has no record on the snapshot", () => {
    const d = decideValidation(
      gate,
      { accuracy: 0.99 },
      { kind: "no-record", version: 3, snapshot: "s", olderCandidate: true },
    );
    expect(d.passed).toBe(false);
    expect(d.reasons[0]).toContain(
      "promoting an older version over it needs both measured on the same snapshot",
    );
  });
});

describe("stage machine", () => {
  it("reaches production only from staging", () => {
    for (const from of STAGES) {
      if (from === "staging" || from === "production") continue;
      expect(() => checkTransition(from, "production")).toThrow(/staging/);
    }
    expect(() => checkTransition("staging", "production")).not.toThrow();
    expect(STAGE_TRANSITIONS.archived).not.toContain("production");
  });

  it("maps MLflow's stage names", () => {
    expect(["None", "Staging", "production", "ARCHIVED"].map(parseStage)).toEqual([
      "experiment",
      "staging",
      "production",
      "archived",
    ]);
    expect(() => parseStage("Prod")).toThrow(/invalid stage/);
  });
});
