import { describe, expect, it } from "vitest";
import {
  averagePrecision,
  type DetectionBox,
  detectionMetrics,
  type GroundTruthBox,
  iou,
} from "./detection-ap.js";

const gt = (label: string, x1: number, y1: number, x2: number, y2: number): GroundTruthBox => ({
  label,
  x1,
  y1,
  x2,
  y2,
});
const det = (label: string, score: number, x1: number, y1: number, x2: number, y2: number): DetectionBox => ({
  label,
  score,
  x1,
  y1,
  x2,
  y2,
});

describe("IoU", () => {
  it("is intersection over union, 0 for disjoint or touching boxes", () => {
    expect(iou({ x1: 0, y1: 0, x2: 2, y2: 2 }, { x1: 1, y1: 1, x2: 3, y2: 3 })).toBeCloseTo(1 / 7, 12);
    expect(iou({ x1: 0, y1: 0, x2: 1, y2: 1 }, { x1: 0, y1: 0, x2: 1, y2: 2 })).toBe(0.5);
    expect(iou({ x1: 0, y1: 0, x2: 1, y2: 1 }, { x1: 1, y1: 0, x2: 2, y2: 1 })).toBe(0);
    expect(iou({ x1: 0, y1: 0, x2: 1, y2: 1 }, { x1: 0, y1: 0, x2: 1, y2: 1 })).toBe(1);
  });
});

describe("average precision (all-point interpolation)", () => {
  it("computes the textbook case TP, FP, TP, FP with 3 ground-truth boxes as 5/9", () => {
    // recall 1/3 at precision 1, then 2/3 at precision 2/3 (the envelope lifts the 0.5 before it).
    expect(averagePrecision([true, false, true, false], 3)).toBeCloseTo(5 / 9, 12);
  });

  it("is 1 for perfect ranking, 0 with no hits, NaN without ground truth", () => {
    expect(averagePrecision([true, true, false], 2)).toBe(1);
    expect(averagePrecision([false, false], 2)).toBe(0);
    expect(averagePrecision([], 2)).toBe(0);
    expect(averagePrecision([true], 0)).toBeNaN();
  });

  it("uses the precision envelope: a late hit raises the precision of earlier recall levels", () => {
    // FP, TP: recall 1 reached at precision 1/2 -> AP 0.5.
    expect(averagePrecision([false, true], 1)).toBe(0.5);
  });
});

describe("mAP at IoU 0.5", () => {
  it("counts a detection at exactly IoU 0.5 as a hit and below it as a miss", () => {
    const hit = detectionMetrics([{ truth: [gt("a", 0, 0, 1, 2)], detections: [det("a", 0.9, 0, 0, 1, 1)] }]);
    expect(hit.map).toBe(1);
    const miss = detectionMetrics([
      { truth: [gt("a", 0, 0, 1, 2)], detections: [det("a", 0.9, 0, 0, 1, 0.99)] },
    ]);
    expect(miss.map).toBe(0);
  });

  it("matches each ground-truth box once: a duplicate detection is a false positive", () => {
    const m = detectionMetrics([
      {
        truth: [gt("a", 0, 0, 1, 1), gt("a", 2, 2, 3, 3)],
        detections: [det("a", 0.9, 0, 0, 1, 1), det("a", 0.8, 0, 0, 1, 1), det("a", 0.7, 2, 2, 3, 3)],
      },
    ]);
    // TP, FP, TP with 2 truths: recall 0.5 @ 1, recall 1 @ 2/3 -> 0.5 + 0.5 * 2/3.
    expect(m.perClass[0]).toMatchObject({ label: "a", truthCount: 2, detectionCount: 3, truePositives: 2 });
    expect(m.map).toBeCloseTo(0.5 + 1 / 3, 12);
  });

  it("ranks detections of all images together by score", () => {
    const m = detectionMetrics([
      { truth: [gt("a", 0, 0, 1, 1)], detections: [det("a", 0.2, 0, 0, 1, 1)] },
      { truth: [gt("a", 0, 0, 1, 1)], detections: [det("a", 0.9, 5, 5, 6, 6)] },
      { truth: [gt("a", 0, 0, 1, 1)], detections: [det("a", 0.5, 0, 0, 1, 1)] },
    ]);
    // Ranked: 0.9 FP (image 2), 0.5 TP (image 3), 0.2 TP (image 1); 3 truths.
    // recall 1/3 @ 1/2, 2/3 @ 2/3 -> envelope 2/3 for both -> AP = 2/3 * 2/3.
    expect(m.map).toBeCloseTo(4 / 9, 12);
  });

  it("needs the class to match, and averages over classes that have ground truth only", () => {
    const m = detectionMetrics([
      {
        truth: [gt("a", 0, 0, 1, 1), gt("b", 2, 2, 3, 3), gt("b", 4, 4, 5, 5)],
        detections: [det("a", 0.9, 0, 0, 1, 1), det("b", 0.8, 2, 2, 3, 3), det("c", 0.99, 4, 4, 5, 5)],
      },
    ]);
    // a: AP 1; b: 1 of 2 found first -> AP 0.5; c has no ground truth and is not averaged.
    expect(m.perClass.map((c) => [c.label, c.ap])).toEqual([
      ["a", 1],
      ["b", 0.5],
    ]);
    expect(m.map).toBe(0.75);
  });

  it("gives the best overlapping free box to the higher-scored detection (greedy)", () => {
    const m = detectionMetrics([
      {
        truth: [gt("a", 0, 0, 10, 10), gt("a", 0, 0, 10, 8)],
        // The first detection fits box 1 exactly (and box 2 at 0.8); the second fits only box 2 well.
        detections: [det("a", 0.9, 0, 0, 10, 10), det("a", 0.8, 0, 0, 10, 7)],
      },
    ]);
    expect(m.perClass[0].truePositives).toBe(2);
    expect(m.map).toBe(1);
  });

  it("is undefined (NaN) without any ground-truth box", () => {
    expect(detectionMetrics([{ truth: [], detections: [det("a", 1, 0, 0, 1, 1)] }]).map).toBeNaN();
  });
});
