import { InputError } from "../../errors.js";
import { clamp01 } from "../labels.js";
import type { Box, DatasetTask, Label } from "../model.js";

/**
 * Label Studio region results -> our labels. Label Studio keeps coordinates in percent of the image
 * (0..100), with the rectangle rotated clockwise around its top-left corner by `rotation` degrees; we keep
 * axis-aligned boxes in fractions 0..1, so a rotated rectangle becomes its bounding box.
 */

interface RectangleValue {
  x: number;
  y: number;
  width: number;
  height: number;
  rotation?: number;
  rectanglelabels: string[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * The label carried by one annotation's (or prediction's) `result` array, for a dataset task;
 * null when the result holds nothing for that task (no `choices` for a classification dataset).
 * Throws InputError when a relevant region is malformed.
 */
export function labelFromLabelStudioResult(task: DatasetTask, result: unknown): Label | null {
  if (!Array.isArray(result)) throw new InputError("annotation.result must be an array");
  const regions = result.filter(isObject);
  if (regions.length !== result.length) throw new InputError("annotation.result entries must be objects");
  if (task === "classification") {
    const choice = regions.find((r) => r.type === "choices");
    if (!choice) return null;
    const choices = isObject(choice.value) ? choice.value.choices : undefined;
    if (!Array.isArray(choices) || choices.length === 0 || typeof choices[0] !== "string") {
      throw new InputError('a "choices" result needs value.choices: ["<class>"]');
    }
    return { class: choices[0] };
  }
  const boxes: Box[] = [];
  for (const region of regions) {
    if (region.type !== "rectanglelabels") continue;
    boxes.push(boxFromRectangle(region));
  }
  return { boxes };
}

function boxFromRectangle(region: Record<string, unknown>): Box {
  const value = region.value;
  if (!isObject(value) || !isRectangleValue(value)) {
    throw new InputError(
      'a "rectanglelabels" result needs value {x, y, width, height, rectanglelabels: ["<class>"]} in percent',
    );
  }
  const rotation = value.rotation ?? 0;
  const ow = positiveNumber(region.original_width) ?? 100;
  const oh = positiveNumber(region.original_height) ?? 100;
  let { x, y, width: w, height: h } = value;
  if (rotation % 360 !== 0) {
    // Rotate in pixel space (percent is not isotropic when the image is not square).
    const theta = (rotation * Math.PI) / 180;
    const [px, py, pw, ph] = [(x * ow) / 100, (y * oh) / 100, (w * ow) / 100, (h * oh) / 100];
    const corners = [
      [0, 0],
      [pw, 0],
      [pw, ph],
      [0, ph],
    ].map(([dx, dy]) => [
      px + dx * Math.cos(theta) - dy * Math.sin(theta),
      py + dx * Math.sin(theta) + dy * Math.cos(theta),
    ]);
    const xs = corners.map((c) => c[0]);
    const ys = corners.map((c) => c[1]);
    x = (Math.min(...xs) / ow) * 100;
    y = (Math.min(...ys) / oh) * 100;
    w = ((Math.max(...xs) - Math.min(...xs)) / ow) * 100;
    h = ((Math.max(...ys) - Math.min(...ys)) / oh) * 100;
  }
  const bx = clamp01(x / 100);
  const by = clamp01(y / 100);
  // w / 100 rather than a difference of edges: no float noise for boxes well inside the image.
  const bw = x >= 0 ? Math.min(w / 100, 1 - bx) : clamp01((x + w) / 100) - bx;
  const bh = y >= 0 ? Math.min(h / 100, 1 - by) : clamp01((y + h) / 100) - by;
  if (!(bw > 0 && bh > 0)) throw new InputError("a rectangle has no area inside the image");
  return { x: bx, y: by, w: bw, h: bh, label: value.rectanglelabels[0] };
}

function isRectangleValue(v: Record<string, unknown>): v is Record<string, unknown> & RectangleValue {
  const finite = (n: unknown) => typeof n === "number" && Number.isFinite(n);
  return (
    finite(v.x) &&
    finite(v.y) &&
    finite(v.width) &&
    finite(v.height) &&
    (v.rotation === undefined || finite(v.rotation)) &&
    Array.isArray(v.rectanglelabels) &&
    v.rectanglelabels.length > 0 &&
    typeof v.rectanglelabels[0] === "string"
  );
}

function positiveNumber(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) && v > 0 ? v : undefined;
}
