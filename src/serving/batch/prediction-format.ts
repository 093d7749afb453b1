import { InputError } from "../../errors.js";
import type { ImagePrediction } from "../runner/model-runner.js";
import type { BatchPrediction, StoredPrediction } from "./batch.js";

const MAX_BOXES = 1000;
const MAX_ERROR_LENGTH = 500;

/** The runner's answer in the stored shape (class indices dropped: names are what labels carry). */
export function toStoredPrediction(p: ImagePrediction): StoredPrediction {
  if (p.task === "classification") {
    return {
      task: "classification",
      width: p.width,
      height: p.height,
      labels: p.labels.map((l) => ({ label: l.label, score: l.score })),
    };
  }
  return {
    task: "detection",
    width: p.width,
    height: p.height,
    boxes: p.boxes.map((b) => ({ label: b.label, score: b.score, x1: b.x1, y1: b.y1, x2: b.x2, y2: b.y2 })),
  };
}

export function failedPrediction(task: BatchPrediction["task"], error: string): StoredPrediction {
  const message = error.slice(0, MAX_ERROR_LENGTH);
  return task === "classification"
    ? { task, width: 0, height: 0, labels: [], error: message }
    : { task, width: 0, height: 0, boxes: [], error: message };
}

/** The best label and its score (detection: the highest-scoring box), for listing and filtering. */
export function topOf(p: StoredPrediction): { label: string | null; score: number | null } {
  if (p.task === "classification") {
    const top = p.labels[0];
    return top ? { label: top.label, score: top.score } : { label: null, score: null };
  }
  let best: { label: string; score: number } | null = null;
  for (const b of p.boxes) if (!best || b.score > best.score) best = { label: b.label, score: b.score };
  return best ? best : { label: null, score: null };
}

/**
 * Checks an untrusted prediction from a worker against the batch: task, known classes, finite numbers,
 * boxes inside 0..1. Returns it in canonical form (no extra keys). Throws InputError naming the position.
 */
export function validatePrediction(
  batch: Pick<BatchPrediction, "task" | "classes">,
  raw: unknown,
  position: number,
): StoredPrediction {
  const where = `prediction for position ${position}`;
  if (!raw || typeof raw !== "object") throw new InputError(`${where} must be an object`);
  const p = raw as Record<string, unknown>;
  if (p.task !== batch.task) throw new InputError(`${where}: task must be ${batch.task}`);
  const width = p.width;
  const height = p.height;
  if (!isCount(width) || !isCount(height))
    throw new InputError(`${where}: width and height must be integers >= 0`);
  const error = p.error === undefined ? undefined : String(p.error).slice(0, MAX_ERROR_LENGTH);
  const known = new Set(batch.classes);
  const label = (v: unknown, what: string): string => {
    if (typeof v !== "string" || !known.has(v))
      throw new InputError(`${where}: ${what} is not a class of the model`);
    return v;
  };
  const score = (v: unknown, what: string): number => {
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || v > 1)
      throw new InputError(`${where}: ${what} must be a number in 0..1`);
    return v;
  };
  if (batch.task === "classification") {
    if (!Array.isArray(p.labels) || p.labels.length > batch.classes.length)
      throw new InputError(`${where}: labels must be an array of at most ${batch.classes.length}`);
    const labels = p.labels.map((l: { label?: unknown; score?: unknown }, i) => ({
      label: label(l?.label, `labels[${i}].label`),
      score: score(l?.score, `labels[${i}].score`),
    }));
    return { task: "classification", width, height, labels, ...(error ? { error } : {}) };
  }
  if (!Array.isArray(p.boxes) || p.boxes.length > MAX_BOXES)
    throw new InputError(`${where}: boxes must be an array of at most ${MAX_BOXES}`);
  const boxes = p.boxes.map((b: Record<string, unknown>, i) => {
    const [x1, y1, x2, y2] = ["x1", "y1", "x2", "y2"].map((k) => score(b?.[k], `boxes[${i}].${k}`));
    if (x2 < x1 || y2 < y1) throw new InputError(`${where}: boxes[${i}] has x2 < x1 or y2 < y1`);
    return {
      label: label(b?.label, `boxes[${i}].label`),
      score: score(b?.score, `boxes[${i}].score`),
      x1,
      y1,
      x2,
      y2,
    };
  });
  return { task: "detection", width, height, boxes, ...(error ? { error } : {}) };
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0;
}
