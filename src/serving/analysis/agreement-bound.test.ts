import { describe, expect, it } from "vitest";
import { agreementUpperBound, normalQuantile } from "./agreement-bound.js";

describe("agreement bound", () => {
  it("inverts the normal CDF at the usual confidences", () => {
    expect(normalQuantile(0.5)).toBeCloseTo(0, 5);
    expect(normalQuantile(0.9)).toBeCloseTo(1.2816, 3);
    expect(normalQuantile(0.975)).toBeCloseTo(1.96, 3);
    expect(() => normalQuantile(0.4)).toThrow(RangeError);
    expect(() => normalQuantile(1)).toThrow(RangeError);
  });

  it("is the Wilson score interval's upper end: wide on few labels, tight on many", () => {
    // 6 of 16 (37.5%) could well be a 40%+ model; 3 of 16 could not.
    expect(agreementUpperBound(6, 16, 0.9)).toBeCloseTo(0.535, 2);
    expect(agreementUpperBound(3, 16, 0.9)).toBeCloseTo(0.339, 2);
    // The same share on 1000 labels sits just above it.
    const many = agreementUpperBound(375, 1000, 0.9);
    expect(many).toBeGreaterThan(0.375);
    expect(many).toBeLessThan(0.395);
    // Confidence 0.5 is the raw share; no labels bound nothing; all accepted stays at 1.
    expect(agreementUpperBound(6, 16, 0.5)).toBeCloseTo(0.375, 6);
    expect(agreementUpperBound(0, 0, 0.9)).toBe(1);
    expect(agreementUpperBound(16, 16, 0.9)).toBeCloseTo(1, 9);
  });
});
