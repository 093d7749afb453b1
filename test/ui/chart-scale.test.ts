import { describe, expect, it } from "vitest";
import { extent, linearScale, logScale, niceTicks, smooth } from "../../web/src/charts/scale.js";

/** The metric chart's pure helpers (web/src/charts/scale.ts): smoothing, scales and ticks. */
describe("metric chart scales", () => {
  it("smooths with a debiased moving average that starts at the first value", () => {
    const points = [10, 0, 0, 0].map((y, x) => ({ x, y }));
    expect(smooth(points, 0)).toBe(points);
    const smoothed = smooth(points, 0.5);
    expect(smoothed.map((p) => p.x)).toEqual([0, 1, 2, 3]);
    // Debiased: first point unchanged; then 0.5*10*0.5 / 0.75, ... (TensorBoard's formula).
    expect(smoothed[0].y).toBeCloseTo(10);
    expect(smoothed[1].y).toBeCloseTo(2.5 / 0.75);
    expect(smoothed[2].y).toBeCloseTo(1.25 / 0.875);
    // A constant series stays constant whatever the weight.
    expect(
      smooth(
        [3, 3, 3].map((y, x) => ({ x, y })),
        0.99,
      ).every((p) => Math.abs(p.y - 3) < 1e-9),
    ).toBe(true);
  });

  it("maps values linearly and on a log10 axis, with round ticks", () => {
    const linear = linearScale(0, 10, 100, 200);
    expect([linear(0), linear(5), linear(10)]).toEqual([100, 150, 200]);
    expect(linear.ticks).toEqual([0, 2, 4, 6, 8, 10]);
    const log = logScale(0.01, 100, 0, 400);
    expect([log(0.01), log(1), log(100)]).toEqual([0, 200, 400]);
    expect(log.ticks).toEqual([0.01, 0.1, 1, 10, 100]);
    expect(niceTicks(0.13, 0.91)).toEqual([0.2, 0.4, 0.6, 0.8]);
    expect(niceTicks(5, 5)).toEqual([5]);
    expect(extent([3, -1, 7])).toEqual([-1, 7]);
  });
});
