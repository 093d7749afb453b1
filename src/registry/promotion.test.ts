import { describe, expect, it } from "vitest";
import { evaluateStanding } from "./promotion.js";
import type { ModelVersion, RegisteredModel, ValidationRecord } from "./registry-store.js";
import { parseGate } from "./validation-gate.js";

const version = (n: number, stage: ModelVersion["stage"]): ModelVersion => ({
  id: `v${n}`,
  modelId: "m",
  modelName: "m",
  projectId: "p",
  version: n,
  stage,
  source: "upload",
  runId: null,
  runPath: null,
  status: "READY",
  description: "",
  createdAt: 0,
  updatedAt: 0,
  createdBy: "a",
  tags: {},
  aliases: [],
  files: [],
});
const record = (
  v: ModelVersion,
  accuracy: number,
  provenance: ValidationRecord["provenance"],
  snapshot = "s",
): ValidationRecord => ({
  id: `${v.id}-${snapshot}-${provenance}`,
  modelId: "m",
  versionId: v.id,
  version: v.version,
  snapshot,
  metrics: { accuracy },
  runId: null,
  createdBy: "a",
  createdAt: 0,
  passed: true,
  decision: { passed: true, reasons: [], notes: [] },
  provenance,
  evaluation: null,
});
const model = (require: "platform" | "any"): RegisteredModel => ({
  id: "m",
  projectId: "p",
  name: "m",
  description: "",
  createdAt: 0,
  updatedAt: 0,
  createdBy: "a",
  gate: parseGate({ metric: "accuracy", direction: "higher", min: 0.5, maxRegression: 0.01, require }),
  tags: {},
  aliases: {},
});

describe("gate standing", () => {
  const v1 = version(1, "staging");
  const v2 = version(2, "staging");

  it("counts only platform records under a platform gate, reported ones too under 'any'", () => {
    const reported = [record(v1, 0.99, "reported")];
    const strict = evaluateStanding(model("platform"), v1, reported, undefined, []);
    expect(strict.passed).toBe(false);
    expect(strict.message).toContain("reported by hand");
    expect(evaluateStanding(model("any"), v1, reported, undefined, []).passed).toBe(true);
    const measured = evaluateStanding(model("platform"), v1, [record(v1, 0.7, "platform")], undefined, []);
    expect(measured).toMatchObject({ passed: true, record: { provenance: "platform" } });
  });

  it("does not let a reported production figure act as the baseline of a platform gate", () => {
    const prod = version(1, "production");
    // A typed-in 0.99 for production would block the candidate's measured 0.8 as a regression.
    const standing = evaluateStanding(model("platform"), v2, [record(v2, 0.8, "platform")], prod, [
      record(prod, 0.99, "reported"),
    ]);
    expect(standing.passed).toBe(true);
    expect(standing.message).toContain("has no record on snapshot 's'");
  });

  it("compares an older candidate with the newer production on the same snapshot", () => {
    const prod = version(2, "production");
    const candidate = [record(v1, 0.9, "platform", "s2")];
    const without = evaluateStanding(model("platform"), v1, candidate, prod, [
      record(prod, 0.9, "platform", "s1"),
    ]);
    expect(without.passed).toBe(false);
    expect(without.message).toContain("needs both measured on the same snapshot");
    const worse = evaluateStanding(model("platform"), v1, candidate, prod, [
      record(prod, 0.95, "platform", "s2"),
    ]);
    expect(worse.passed).toBe(false);
    expect(worse.message).toContain("regresses vs production version 2");
    const same = evaluateStanding(model("platform"), v1, candidate, prod, [
      record(prod, 0.905, "platform", "s2"),
    ]);
    expect(same.passed).toBe(true);
  });
});
