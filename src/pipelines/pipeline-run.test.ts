import { describe, expect, it } from "vitest";
import { canTransition, END_STATES, isEndState, PIPELINE_TRANSITIONS, STEP_STATES } from "./pipeline-run.js";

describe("pipeline state machine", () => {
  it("walks the steps in the loop's order, each able to fail or be cancelled", () => {
    const happy = [...STEP_STATES, "promoted"] as const;
    for (let i = 0; i + 1 < happy.length; i++) expect(canTransition(happy[i], happy[i + 1])).toBe(true);
    for (const step of STEP_STATES) {
      expect(canTransition(step, "failed")).toBe(true);
      expect(canTransition(step, "cancelled")).toBe(true);
    }
  });

  it("only the gate rejects, only the analysis promotes or rolls back, and end states are final", () => {
    const into = (to: string) => STEP_STATES.filter((s) => PIPELINE_TRANSITIONS[s].some((t) => t === to));
    expect(into("rejected")).toEqual(["validate"]);
    expect(into("promoted")).toEqual(["analysis"]);
    expect(into("rolled_back")).toEqual(["analysis"]);
    expect(into("staged")).toEqual(["stage"]);
    for (const end of END_STATES) {
      expect(isEndState(end)).toBe(true);
      expect(PIPELINE_TRANSITIONS[end]).toEqual([]);
    }
    // No skipping: a candidate cannot reach the canary without passing validation and staging.
    expect(canTransition("evaluate", "canary")).toBe(false);
    expect(canTransition("validate", "canary")).toBe(false);
    expect(canTransition("train", "stage")).toBe(false);
  });
});
