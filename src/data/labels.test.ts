import { describe, expect, it } from "vitest";
import { labelHash, normalizeLabel, predictionOutcome } from "./labels.js";

const cls = { name: "pets", task: "classification" as const, classes: ["cat", "dog"] };
const det = { name: "boxes", task: "detection" as const, classes: ["cat", "dog"] };

describe("labels", () => {
  it("normalizes labels to the dataset's task and classes", () => {
    expect(normalizeLabel(cls, { class: "cat", extra: 1 })).toEqual({ class: "cat" });
    expect(() => normalizeLabel(cls, { class: "horse" })).toThrow(/not in dataset pets/);
    expect(() => normalizeLabel(cls, { boxes: [] })).toThrow(/classification/);
    expect(
      normalizeLabel(det, { boxes: [{ x: -1e-9, y: 0.5, w: 0.5, h: 0.5 + 1e-9, label: "dog" }] }),
    ).toEqual({
      boxes: [{ x: 0, y: 0.5, w: 0.5, h: 0.5, label: "dog" }],
    });
    expect(() => normalizeLabel(det, { boxes: [{ x: 0.8, y: 0, w: 0.5, h: 0.1, label: "dog" }] })).toThrow(
      /outside/,
    );
    expect(() => normalizeLabel(det, { boxes: [{ x: 0, y: 0, w: 0, h: 0.1, label: "dog" }] })).toThrow(
      /outside/,
    );
    expect(normalizeLabel(cls, { class: "zebra" }, { anyClass: true })).toEqual({ class: "zebra" });
  });

  it("hashes equal labels equally whatever the key order", () => {
    expect(labelHash({ boxes: [{ x: 0, y: 0, w: 1, h: 1, label: "cat" }] })).toBe(
      labelHash({ boxes: [{ label: "cat", h: 1, w: 1, y: 0, x: 0 }] }),
    );
    expect(labelHash({ class: "cat" })).not.toBe(labelHash({ class: "dog" }));
  });

  it("decides whether a prediction was accepted or corrected", () => {
    expect(predictionOutcome({ class: "cat" }, { class: "cat" })).toBe("accepted");
    expect(predictionOutcome({ class: "dog" }, { class: "cat" })).toBe("corrected");
    const box = { x: 0.1, y: 0.1, w: 0.4, h: 0.4, label: "cat" };
    expect(predictionOutcome({ boxes: [{ ...box, x: 0.105 }] }, { boxes: [box] })).toBe("accepted");
    expect(predictionOutcome({ boxes: [{ ...box, label: "dog" }] }, { boxes: [box] })).toBe("corrected");
    expect(predictionOutcome({ boxes: [{ ...box, x: 0.3 }] }, { boxes: [box] })).toBe("corrected");
    expect(predictionOutcome({ boxes: [box, box] }, { boxes: [box] })).toBe("corrected");
    expect(predictionOutcome({ boxes: [] }, { boxes: [] })).toBe("accepted");
  });
});
