import { describe, expect, it } from "vitest";
import { assignSplit, parseSplitFractions, validateSplitFractions } from "./splits.js";

describe("assignSplit", () => {
  it("gives the same key the same split, always", () => {
    for (let i = 0; i < 200; i++) expect(assignSplit(`key-${i}`)).toBe(assignSplit(`key-${i}`));
    // Pinned values: a change of the hash scheme would move items between splits.
    expect(["k1", "k2", "k3", "k4", "k5"].map((k) => assignSplit(k))).toMatchInlineSnapshot(`
      [
        "train",
        "train",
        "holdout",
        "train",
        "train",
      ]
    `);
  });

  it("follows the configured fractions within a few points over 10,000 keys", () => {
    const counts = { train: 0, val: 0, holdout: 0 };
    for (let i = 0; i < 10_000; i++)
      counts[assignSplit(`item-${i}`, { train: 0.7, val: 0.1, holdout: 0.2 })]++;
    expect(counts.train / 10_000).toBeGreaterThan(0.68);
    expect(counts.train / 10_000).toBeLessThan(0.72);
    expect(counts.holdout / 10_000).toBeGreaterThan(0.18);
    expect(counts.holdout / 10_000).toBeLessThan(0.22);
  });

  it("never puts an item in holdout when the holdout fraction is 0, and only there when it is 1", () => {
    for (let i = 0; i < 1000; i++) {
      expect(assignSplit(`x${i}`, { train: 0.9, val: 0.1, holdout: 0 })).not.toBe("holdout");
      expect(assignSplit(`x${i}`, { train: 0, val: 0, holdout: 1 })).toBe("holdout");
    }
  });

  it("validates fractions", () => {
    expect(parseSplitFractions("0.6,0.2,0.2")).toEqual({ train: 0.6, val: 0.2, holdout: 0.2 });
    expect(() => validateSplitFractions({ train: 0.9, val: 0.2, holdout: 0.1 })).toThrow(/add up to 1/);
    expect(() => parseSplitFractions("0.8,0.2")).toThrow(/train,val,holdout/);
    expect(() => validateSplitFractions({ train: -0.1, val: 1, holdout: 0.1 })).toThrow(/between 0 and 1/);
  });
});
