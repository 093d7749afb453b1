import type { Box } from "../data/model.js";
import { type DetectionMetrics, detectionMetrics, type GroundTruthBox } from "./detection-ap.js";
import type { ItemPrediction } from "./measure.js";

/** Top-1 accuracy overall and per true class. Pure. */
export interface ClassificationScore {
  accuracy: number;
  correct: number;
  count: number;
  perClass: Array<{ label: string; correct: number; count: number; accuracy: number }>;
}

export function scoreClassification(predictions: readonly ItemPrediction[]): ClassificationScore {
  const byClass = new Map<string, { correct: number; count: number }>();
  let correct = 0;
  let count = 0;
  for (const { item, prediction } of predictions) {
    if (!("class" in item.label)) continue;
    const truth = item.label.class;
    const hit = prediction.task === "classification" && prediction.labels[0]?.label === truth;
    const c = byClass.get(truth) ?? { correct: 0, count: 0 };
    c.count++;
    count++;
    if (hit) {
      c.correct++;
      correct++;
    }
    byClass.set(truth, c);
  }
  return {
    accuracy: count === 0 ? 0 : correct / count,
    correct,
    count,
    perClass: [...byClass.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([label, c]) => ({ label, ...c, accuracy: c.correct / c.count })),
  };
}

/** The dataset's boxes (top-left + size, 0..1) as corners, the unit serving's detections use. */
export function truthBoxes(boxes: readonly Box[]): GroundTruthBox[] {
  return boxes.map((b) => ({ label: b.label, x1: b.x, y1: b.y, x2: b.x + b.w, y2: b.y + b.h }));
}

/** mAP at IoU 0.5 over the items with box labels. Pure. */
export function scoreDetection(predictions: readonly ItemPrediction[]): DetectionMetrics & { count: number } {
  const samples = predictions
    .filter(({ item }) => "boxes" in item.label)
    .map(({ item, prediction }) => ({
      truth: truthBoxes((item.label as { boxes: Box[] }).boxes),
      detections:
        prediction.task === "detection"
          ? prediction.boxes.map((b) => ({
              label: b.label,
              score: b.score,
              x1: b.x1,
              y1: b.y1,
              x2: b.x2,
              y2: b.y2,
            }))
          : [],
    }));
  return { ...detectionMetrics(samples, 0.5), count: samples.length };
}
