import { describe, expect, it } from "vitest";
import { InputError } from "../../errors.js";
import { topOf, validatePrediction } from "./prediction-format.js";

const batch = { task: "detection" as const, classes: ["cat", "dog"] };

describe("worker predictions are checked before they are stored", () => {
  it("accepts a well-formed detection and drops unknown keys", () => {
    const p = validatePrediction(
      batch,
      {
        task: "detection",
        width: 10,
        height: 10,
        boxes: [{ label: "cat", score: 0.5, x1: 0, y1: 0, x2: 1, y2: 1, extra: 1 }],
      },
      0,
    );
    expect(p).toEqual({
      task: "detection",
      width: 10,
      height: 10,
      boxes: [{ label: "cat", score: 0.5, x1: 0, y1: 0, x2: 1, y2: 1 }],
    });
    expect(topOf(p)).toEqual({ label: "cat", score: 0.5 });
  });

  it.each([
    [{ task: "classification", width: 1, height: 1, labels: [] }, /task must be detection/],
    [{ task: "detection", width: -1, height: 1, boxes: [] }, /width and height/],
    [
      {
        task: "detection",
        width: 1,
        height: 1,
        boxes: [{ label: "cow", score: 1, x1: 0, y1: 0, x2: 1, y2: 1 }],
      },
      /not a class/,
    ],
    [
      {
        task: "detection",
        width: 1,
        height: 1,
        boxes: [{ label: "cat", score: 2, x1: 0, y1: 0, x2: 1, y2: 1 }],
      },
      /0\.\.1/,
    ],
    [
      {
        task: "detection",
        width: 1,
        height: 1,
        boxes: [{ label: "cat", score: 1, x1: 0.5, y1: 0, x2: 0.2, y2: 1 }],
      },
      /x2 < x1/,
    ],
  ])("refuses %j", (raw, message) => {
    expect(() => validatePrediction(batch, raw, 7)).toThrow(InputError);
    expect(() => validatePrediction(batch, raw, 7)).toThrow(message);
  });
});
