import { InputError } from "../errors.js";
import { canonicalJson, sha256Hex } from "./canonical-json.js";
import type { Box, Dataset, Label, PredictionOutcome } from "./model.js";

/** Coordinates may overshoot 0..1 by this much (float noise from percent or pixel conversions). */
const EPSILON = 1e-6;
/** A predicted box counts as accepted when the labeler's box overlaps it at least this much. */
export const ACCEPT_IOU = 0.9;
const MAX_BOXES = 1000;

export function isClassLabel(label: Label): label is { class: string } {
  return "class" in label;
}

/**
 * Validates an untrusted label against the dataset (task and class list) and returns it in canonical
 * form: coordinates clamped into 0..1, no extra keys. Throws InputError.
 */
export function normalizeLabel(
  dataset: Pick<Dataset, "task" | "classes" | "name">,
  raw: unknown,
  options: { anyClass?: boolean } = {},
): Label {
  if (!raw || typeof raw !== "object" || Array.isArray(raw))
    throw new InputError("a label must be an object");
  const value = raw as Record<string, unknown>;
  const known = new Set(dataset.classes);
  if (dataset.task === "classification") {
    const cls = value.class;
    if (typeof cls !== "string" || cls === "") {
      throw new InputError(`dataset ${dataset.name} is a classification dataset: a label needs "class"`);
    }
    if (!options.anyClass && !known.has(cls)) throw unknownClass(dataset, cls);
    return { class: cls };
  }
  if (!Array.isArray(value.boxes)) {
    throw new InputError(`dataset ${dataset.name} is a detection dataset: a label needs "boxes" (may be [])`);
  }
  if (value.boxes.length > MAX_BOXES) throw new InputError(`a label may hold at most ${MAX_BOXES} boxes`);
  return { boxes: value.boxes.map((b, i) => normalizeBox(dataset, b, i, options.anyClass === true)) };
}

function normalizeBox(
  dataset: Pick<Dataset, "classes" | "name">,
  raw: unknown,
  index: number,
  anyClass: boolean,
): Box {
  if (!raw || typeof raw !== "object") throw new InputError(`box ${index} must be an object`);
  const b = raw as Record<string, unknown>;
  const nums = ["x", "y", "w", "h"].map((k) => b[k]);
  if (!nums.every((n) => typeof n === "number" && Number.isFinite(n))) {
    throw new InputError(`box ${index} needs finite numbers x, y, w, h (normalized 0..1)`);
  }
  const [x, y, w, h] = nums as number[];
  const inside =
    x >= -EPSILON && y >= -EPSILON && w > 0 && h > 0 && x + w <= 1 + EPSILON && y + h <= 1 + EPSILON;
  if (!inside) {
    throw new InputError(
      `box ${index} (${x}, ${y}, ${w}, ${h}) is outside the image: coordinates are fractions 0..1 of its size`,
    );
  }
  if (typeof b.label !== "string" || b.label === "") throw new InputError(`box ${index} needs a "label"`);
  if (!anyClass && !dataset.classes.includes(b.label)) throw unknownClass(dataset, b.label);
  const cx = clamp01(x);
  const cy = clamp01(y);
  return { x: cx, y: cy, w: Math.min(w, 1 - cx), h: Math.min(h, 1 - cy), label: b.label };
}

function unknownClass(dataset: Pick<Dataset, "classes" | "name">, cls: string): InputError {
  return new InputError(
    `class '${cls}' is not in dataset ${dataset.name} (classes: ${dataset.classes.join(", ") || "none"}); add it first`,
  );
}

export function clamp01(v: number): number {
  return Math.min(1, Math.max(0, v));
}

/** Short content hash of a label (for import dedupe keys). */
export function labelHash(label: Label | null): string {
  return sha256Hex(canonicalJson(label)).slice(0, 32);
}

export function labelsEqual(a: Label | null, b: Label | null): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/**
 * Did the labeler keep the prediction? Classification: the same class. Detection: the same number of
 * boxes, each predicted box matched one-to-one by a final box of the same class with IoU >= 0.9
 * (a nudge of a few pixels is an acceptance, not a correction).
 */
export function predictionOutcome(finalLabel: Label, predicted: Label): PredictionOutcome {
  if (isClassLabel(finalLabel) || isClassLabel(predicted)) {
    return isClassLabel(finalLabel) && isClassLabel(predicted) && finalLabel.class === predicted.class
      ? "accepted"
      : "corrected";
  }
  if (finalLabel.boxes.length !== predicted.boxes.length) return "corrected";
  const unused = new Set(finalLabel.boxes.map((_, i) => i));
  for (const p of predicted.boxes) {
    let best = -1;
    let bestIou = ACCEPT_IOU;
    for (const i of unused) {
      const f = finalLabel.boxes[i];
      if (f.label !== p.label) continue;
      const overlap = iou(f, p);
      if (overlap >= bestIou) {
        best = i;
        bestIou = overlap;
      }
    }
    if (best < 0) return "corrected";
    unused.delete(best);
  }
  return "accepted";
}

export function iou(a: Box, b: Box): number {
  const ix = Math.max(0, Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x));
  const iy = Math.max(0, Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y));
  const inter = ix * iy;
  const union = a.w * a.h + b.w * b.h - inter;
  return union <= 0 ? 0 : inter / union;
}
