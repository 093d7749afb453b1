/**
 * Average precision of box detections at one IoU threshold (docs/architecture/registry.md, "Measured
 * validation"): per class, detections of all images ranked by score; each is a true positive when it
 * overlaps a not yet matched ground-truth box of its class in its image by IoU >= the threshold (the best
 * such box, COCO-style greedy matching), else a false positive. AP is the area under the precision-recall
 * curve with precision made monotone (all-point interpolation, PASCAL VOC 2010+). mAP is the mean over the
 * classes that have ground truth. Pure: no I/O.
 */

/** Corners in any consistent unit (the platform uses 0..1 of the image). */
export interface Rect {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

export interface GroundTruthBox extends Rect {
  label: string;
}

export interface DetectionBox extends Rect {
  label: string;
  score: number;
}

/** One image: its labelled boxes and what the model detected. */
export interface DetectionSample {
  truth: GroundTruthBox[];
  detections: DetectionBox[];
}

export interface ClassAp {
  label: string;
  ap: number;
  truthCount: number;
  detectionCount: number;
  truePositives: number;
}

export interface DetectionMetrics {
  /** Mean of `perClass[].ap` over the classes with ground truth. */
  map: number;
  perClass: ClassAp[];
  iouThreshold: number;
}

export function iou(a: Rect, b: Rect): number {
  const w = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const h = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  const union = area(a) + area(b) - inter;
  return union <= 0 ? 0 : inter / union;
}

function area(r: Rect): number {
  return Math.max(0, r.x2 - r.x1) * Math.max(0, r.y2 - r.y1);
}

/**
 * Area under the precision-recall curve of ranked hits (true = TP), all-point interpolated.
 * `truthCount` is the number of ground-truth boxes (recall's denominator); 0 gives NaN (undefined).
 */
export function averagePrecision(rankedHits: readonly boolean[], truthCount: number): number {
  if (truthCount === 0) return Number.NaN;
  const recall: number[] = [];
  const precision: number[] = [];
  let tp = 0;
  rankedHits.forEach((hit, i) => {
    if (hit) tp++;
    recall.push(tp / truthCount);
    precision.push(tp / (i + 1));
  });
  // Precision envelope: at each point, the best precision at this or any higher recall.
  for (let i = precision.length - 2; i >= 0; i--) precision[i] = Math.max(precision[i], precision[i + 1]);
  let ap = 0;
  let previousRecall = 0;
  for (let i = 0; i < recall.length; i++) {
    if (recall[i] > previousRecall) {
      ap += (recall[i] - previousRecall) * precision[i];
      previousRecall = recall[i];
    }
  }
  return ap;
}

export function detectionMetrics(samples: readonly DetectionSample[], iouThreshold = 0.5): DetectionMetrics {
  const labels = new Set<string>();
  for (const s of samples) for (const b of s.truth) labels.add(b.label);
  const perClass: ClassAp[] = [...labels].sort().map((label) => classAp(samples, label, iouThreshold));
  const map =
    perClass.length === 0 ? Number.NaN : perClass.reduce((sum, c) => sum + c.ap, 0) / perClass.length;
  return { map, perClass, iouThreshold };
}

function classAp(samples: readonly DetectionSample[], label: string, threshold: number): ClassAp {
  const ranked: Array<{ sample: number; box: DetectionBox; order: number }> = [];
  const truth = samples.map((s) => s.truth.filter((b) => b.label === label));
  samples.forEach((s, sample) => {
    for (const box of s.detections)
      if (box.label === label) ranked.push({ sample, box, order: ranked.length });
  });
  // Stable on ties (input order), so the result does not depend on the sort implementation.
  ranked.sort((a, b) => b.box.score - a.box.score || a.order - b.order);
  const matched = truth.map((boxes) => boxes.map(() => false));
  const hits = ranked.map(({ sample, box }) => {
    let best = -1;
    let bestIou = threshold;
    truth[sample].forEach((t, j) => {
      if (matched[sample][j]) return;
      const overlap = iou(box, t);
      if (overlap >= bestIou) {
        best = j;
        bestIou = overlap;
      }
    });
    if (best < 0) return false;
    matched[sample][best] = true;
    return true;
  });
  const truthCount = truth.reduce((n, boxes) => n + boxes.length, 0);
  return {
    label,
    ap: averagePrecision(hits, truthCount),
    truthCount,
    detectionCount: ranked.length,
    truePositives: hits.filter(Boolean).length,
  };
}
