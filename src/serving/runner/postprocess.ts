import type { ClassificationOutput, DetectionOutput } from "../../registry/model-descriptor.js";
import type { ClassificationPrediction, DetectedBox, TensorArray } from "./model-runner.js";

/** Numerically stable softmax (subtracts the max first, so large logits do not overflow). */
export function softmax(logits: ArrayLike<number>): Float64Array {
  const out = new Float64Array(logits.length);
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    out[i] = Math.exp(logits[i] - max);
    sum += out[i];
  }
  for (let i = 0; i < out.length; i++) out[i] /= sum;
  return out;
}

/** Indices of the k largest scores, best first; ties keep the lower index first. */
export function topKIndices(scores: ArrayLike<number>, k: number): number[] {
  const idx = Array.from({ length: scores.length }, (_, i) => i);
  idx.sort((a, b) => scores[b] - scores[a] || a - b);
  return idx.slice(0, Math.max(0, Math.min(k, scores.length)));
}

/** One image's row of a `[N, classes]` output -> top-k labels with probabilities. */
export function classify(
  row: ArrayLike<number>,
  classes: readonly string[],
  output: ClassificationOutput,
  topK: number,
): ClassificationPrediction["labels"] {
  const probs = output.kind === "logits" ? softmax(row) : row;
  return topKIndices(probs, topK).map((index) => ({
    label: classes[index] ?? String(index),
    index,
    score: probs[index],
  }));
}

/**
 * One image's slice of the detection outputs -> boxes above the threshold, best first. Corners are
 * clamped to 0..1 and ordered, so a sloppy model cannot produce negative widths.
 */
export function decodeDetections(
  boxes: ArrayLike<number>,
  scores: ArrayLike<number>,
  labels: TensorArray,
  classes: readonly string[],
  output: DetectionOutput,
): DetectedBox[] {
  const found: DetectedBox[] = [];
  for (let k = 0; k < scores.length; k++) {
    const score = scores[k];
    if (!(score > 0) || score < output.scoreThreshold) continue;
    const index = Math.round(Number(labels[k]));
    const b = k * 4;
    const xa = clamp01(boxes[b]);
    const ya = clamp01(boxes[b + 1]);
    const xb = clamp01(boxes[b + 2]);
    const yb = clamp01(boxes[b + 3]);
    found.push({
      label: classes[index] ?? String(index),
      index,
      score,
      x1: Math.min(xa, xb),
      y1: Math.min(ya, yb),
      x2: Math.max(xa, xb),
      y2: Math.max(ya, yb),
    });
  }
  return found.sort((a, b) => b.score - a.score);
}

function clamp01(v: number): number {
  return Math.min(1, Math.max(0, v));
}
