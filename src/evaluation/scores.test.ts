import { describe, expect, it } from "vitest";
import type { ManifestItem } from "../data/manifest.js";
import type { ImagePrediction } from "../serving/runner/model-runner.js";
import { scoreClassification, scoreDetection, truthBoxes } from "./scores.js";

const item = (id: string, label: ManifestItem["label"]): ManifestItem => ({
  id,
  key: id,
  sha256: "a".repeat(64),
  url: null,
  size: 1,
  fileName: null,
  split: "holdout",
  revision: 1,
  label,
});
const cls = (label: string): ImagePrediction => ({
  task: "classification",
  width: 1,
  height: 1,
  labels: [{ label, index: 0, score: 1 }],
});

describe("scores", () => {
  it("classification: top-1 accuracy overall and per true class", () => {
    const s = scoreClassification([
      { item: item("1", { class: "a" }), prediction: cls("a") },
      { item: item("2", { class: "a" }), prediction: cls("b") },
      { item: item("3", { class: "b" }), prediction: cls("b") },
      { item: item("4", { class: "a" }), prediction: cls("a") },
    ]);
    expect(s).toMatchObject({ accuracy: 0.75, correct: 3, count: 4 });
    expect(s.perClass).toEqual([
      { label: "a", correct: 2, count: 3, accuracy: 2 / 3 },
      { label: "b", correct: 1, count: 1, accuracy: 1 },
    ]);
  });

  it("detection: dataset boxes (top-left + size) become corners, and a classifier's answer finds nothing", () => {
    expect(truthBoxes([{ x: 0.1, y: 0.2, w: 0.3, h: 0.4, label: "a" }])[0]).toMatchObject({
      x1: 0.1,
      y1: 0.2,
      x2: 0.4,
      y2: expect.closeTo(0.6, 12),
    });
    const truth = item("1", { boxes: [{ x: 0, y: 0, w: 0.5, h: 0.5, label: "a" }] });
    const hit: ImagePrediction = {
      task: "detection",
      width: 1,
      height: 1,
      boxes: [{ label: "a", index: 0, score: 0.9, x1: 0, y1: 0, x2: 0.5, y2: 0.5 }],
    };
    expect(scoreDetection([{ item: truth, prediction: hit }])).toMatchObject({ map: 1, count: 1 });
    expect(scoreDetection([{ item: truth, prediction: cls("a") }]).map).toBe(0);
  });
});
