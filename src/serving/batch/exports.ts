import type { BatchPrediction, BatchResult } from "./batch.js";

/**
 * The two export formats of a batch: Label Studio's task import format with `predictions` (pre-annotations
 * a labeler starts from; Label Studio does not count them as annotations) and a COCO-style JSON.
 */

export interface LabelStudioExportOptions {
  /** The image reference Label Studio loads for a result (URL or path). */
  imageOf: (result: BatchResult) => string;
  /** Control tag names of the labeling config: `<Choices name=...>` / `<RectangleLabels name=...>`. */
  fromName?: string;
  /** `<Image name=...>`. */
  toName?: string;
  /** Task data key the `<Image value="$key">` reads (default `image`). */
  dataKey?: string;
}

export interface LabelStudioTask {
  /** `[dataKey]`: the image URL; plus `mlops_key` and `mlops_item_id`. */
  data: Record<string, string>;
  predictions: Array<{
    model_version: string;
    score: number;
    result: Array<Record<string, unknown>>;
  }>;
}

/** `<model>:<version>`, the same string online serving reports as `model_version`. */
export function modelVersionOf(batch: Pick<BatchPrediction, "modelName" | "modelVersion">): string {
  return `${batch.modelName}:${batch.modelVersion}`;
}

/** The id a later label can name to say which pre-annotation it corrects. */
export function batchPredictionId(batchId: string, position: number): string {
  return `batch:${batchId}:${position}`;
}

export function toLabelStudioTask(
  batch: Pick<BatchPrediction, "id" | "task" | "modelName" | "modelVersion">,
  r: BatchResult,
  options: LabelStudioExportOptions,
): LabelStudioTask {
  const data: LabelStudioTask["data"] = {
    [options.dataKey ?? "image"]: options.imageOf(r),
    mlops_key: r.key,
  };
  if (r.itemId) data.mlops_item_id = r.itemId;
  const p = r.prediction;
  if (p.error) return { data, predictions: [] };
  const toName = options.toName ?? "image";
  const meta = { mlops_prediction_id: batchPredictionId(batch.id, r.position) };
  let result: Array<Record<string, unknown>>;
  let score: number;
  if (p.task === "classification") {
    const top = p.labels[0];
    result = top
      ? [
          {
            id: `b${r.position}-0`,
            from_name: options.fromName ?? "choice",
            to_name: toName,
            type: "choices",
            value: { choices: [top.label] },
            score: top.score,
            meta,
          },
        ]
      : [];
    score = top?.score ?? 0;
  } else {
    result = p.boxes.map((b, i) => ({
      id: `b${r.position}-${i}`,
      from_name: options.fromName ?? "label",
      to_name: toName,
      type: "rectanglelabels",
      original_width: p.width,
      original_height: p.height,
      image_rotation: 0,
      value: {
        x: b.x1 * 100,
        y: b.y1 * 100,
        width: (b.x2 - b.x1) * 100,
        height: (b.y2 - b.y1) * 100,
        rotation: 0,
        rectanglelabels: [b.label],
      },
      score: b.score,
      meta,
    }));
    score = p.boxes.length > 0 ? p.boxes.reduce((s, b) => s + b.score, 0) / p.boxes.length : 0;
  }
  return { data, predictions: [{ model_version: modelVersionOf(batch), score, result }] };
}

export interface CocoDocument {
  info: { description: string; model_version: string; date_created: string; batch_id: string };
  images: Array<{ id: number; file_name: string; width: number; height: number; mlops_item_id?: string }>;
  categories: Array<{ id: number; name: string }>;
  annotations: Array<{
    id: number;
    image_id: number;
    category_id: number;
    score: number;
    bbox?: [number, number, number, number];
    area?: number;
    iscrowd?: 0;
  }>;
}

/**
 * COCO-style JSON. Detection: one annotation per box, `bbox` = [x, y, width, height] in pixels of the
 * original image. Classification: one image-level annotation (no bbox) with the top class. Category ids
 * are 1-based positions in the model's class list; image ids are 1 + the batch position.
 */
export function toCoco(
  batch: Pick<BatchPrediction, "id" | "task" | "classes" | "modelName" | "modelVersion">,
  results: Iterable<BatchResult>,
  createdAt: Date,
  fileNameOf: (r: BatchResult) => string = (r) => r.key,
): CocoDocument {
  const categoryId = new Map(batch.classes.map((name, i) => [name, i + 1]));
  const doc: CocoDocument = {
    info: {
      description: `batch prediction ${batch.id} (${batch.task})`,
      model_version: modelVersionOf(batch),
      date_created: createdAt.toISOString(),
      batch_id: batch.id,
    },
    images: [],
    categories: batch.classes.map((name, i) => ({ id: i + 1, name })),
    annotations: [],
  };
  let annotationId = 1;
  for (const r of results) {
    const p = r.prediction;
    const imageId = r.position + 1;
    doc.images.push({
      id: imageId,
      file_name: fileNameOf(r),
      width: p.width,
      height: p.height,
      ...(r.itemId ? { mlops_item_id: r.itemId } : {}),
    });
    if (p.error) continue;
    if (p.task === "classification") {
      const top = p.labels[0];
      if (top) {
        doc.annotations.push({
          id: annotationId++,
          image_id: imageId,
          category_id: categoryId.get(top.label) ?? 0,
          score: top.score,
        });
      }
      continue;
    }
    for (const b of p.boxes) {
      const x = b.x1 * p.width;
      const y = b.y1 * p.height;
      const w = (b.x2 - b.x1) * p.width;
      const h = (b.y2 - b.y1) * p.height;
      doc.annotations.push({
        id: annotationId++,
        image_id: imageId,
        category_id: categoryId.get(b.label) ?? 0,
        score: b.score,
        bbox: [x, y, w, h],
        area: w * h,
        iscrowd: 0,
      });
    }
  }
  return doc;
}
