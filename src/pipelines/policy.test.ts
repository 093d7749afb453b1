import { describe, expect, it } from "vitest";
import { InputError } from "../errors.js";
import { DEFAULT_TRAIN_COMMAND, deploymentOf, parsePolicyInput } from "./policy.js";

describe("retrain policy input", () => {
  it("fills defaults: the bundled example fine-tuning, a cooldown, no auto-deploy", () => {
    const p = parsePolicyInput({ dataset: "shapes", minNewLabels: 100 });
    expect(p.job.command).toEqual([...DEFAULT_TRAIN_COMMAND]);
    expect(p.job.codeDigest).toBeUndefined();
    expect(p).toMatchObject({ minNewLabels: 100, cooldownSeconds: 300, autoDeploy: false, paused: false });
  });

  it("refuses what would break later (thresholds, env names, digests, canary plans)", () => {
    const bad = [
      { minNewLabels: 0 },
      { minNewLabels: 1.5 },
      { minNewLabels: 5, cooldownSeconds: -1 },
      { minNewLabels: 5, env: { "A-B": "x" } },
      { minNewLabels: 5, codeDigest: "abc" },
      { minNewLabels: 5, command: [""] },
      { minNewLabels: 5, canaryPlan: { maxWeight: 0 } },
      { minNewLabels: 5, cpu: 0 },
    ];
    for (const input of bad) expect(() => parsePolicyInput({ dataset: "d", ...input })).toThrow(InputError);
  });

  it("names the deployment after the model unless told otherwise", () => {
    expect(deploymentOf({ deployment: null, modelName: "Shapes v2" })).toBe("shapes-v2");
    expect(deploymentOf({ deployment: "prod-shapes", modelName: "shapes" })).toBe("prod-shapes");
  });
});
