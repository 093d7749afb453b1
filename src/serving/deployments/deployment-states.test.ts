import { describe, expect, it } from "vitest";
import { ConflictError } from "../../errors.js";
import { DEFAULT_PLAN } from "./analysis-plan.js";
import type { Deployment } from "./deployment.js";
import { applyDeploymentChange, DEPLOYMENT_TRANSITIONS } from "./deployment-states.js";

const stable: Deployment = {
  id: "d",
  name: "d",
  projectId: "p",
  modelId: "m",
  modelName: "m",
  environment: "production",
  state: "stable",
  primaryVersionId: "v1",
  primaryVersion: 1,
  canaryVersionId: null,
  canaryVersion: null,
  canaryWeight: 0,
  plan: null,
  canaryStartedAt: null,
  stepStartedAt: null,
  failures: 0,
  labelStudio: null,
  revision: 1,
  createdAt: 0,
  updatedAt: 0,
  createdBy: "u",
};

describe("deployment state machine", () => {
  it("runs a canary through steps, failures and promotion", () => {
    let d = applyDeploymentChange(
      stable,
      { action: "start_canary", canaryVersionId: "v2", canaryVersion: 2, weight: 10, plan: DEFAULT_PLAN },
      100,
    );
    expect(d).toMatchObject({
      state: "canarying",
      canaryVersion: 2,
      canaryWeight: 10,
      canaryStartedAt: 100,
      revision: 2,
    });
    d = applyDeploymentChange(d, { action: "record_analysis", failed: true }, 200);
    expect(d).toMatchObject({ failures: 1, stepStartedAt: 200 });
    d = applyDeploymentChange(d, { action: "set_weight", weight: 20 }, 300);
    d = applyDeploymentChange(d, { action: "begin_promotion" }, 400);
    expect(d.state).toBe("promoting");
    d = applyDeploymentChange(d, { action: "complete_promotion" }, 500);
    expect(d).toMatchObject({
      state: "stable",
      primaryVersion: 2,
      primaryVersionId: "v2",
      canaryVersion: null,
      canaryWeight: 0,
      failures: 0,
    });
  });

  it("rolls back to the primary and allows a new canary afterwards", () => {
    const c = applyDeploymentChange(
      stable,
      { action: "start_canary", canaryVersionId: "v2", canaryVersion: 2, weight: 10, plan: DEFAULT_PLAN },
      1,
    );
    const r = applyDeploymentChange(c, { action: "rollback" }, 2);
    expect(r).toMatchObject({
      state: "rolled_back",
      primaryVersion: 1,
      canaryVersion: null,
      canaryWeight: 0,
    });
    expect(
      applyDeploymentChange(
        r,
        { action: "start_canary", canaryVersionId: "v3", canaryVersion: 3, weight: 5, plan: DEFAULT_PLAN },
        3,
      ).state,
    ).toBe("canarying");
  });

  it("refuses what the table does not allow", () => {
    expect(() => applyDeploymentChange(stable, { action: "rollback" }, 1)).toThrow(ConflictError);
    expect(() => applyDeploymentChange(stable, { action: "complete_promotion" }, 1)).toThrow(
      /allowed in: promoting/,
    );
    for (const [action, rule] of Object.entries(DEPLOYMENT_TRANSITIONS)) {
      expect(rule.from.length, action).toBeGreaterThan(0);
    }
  });
});
