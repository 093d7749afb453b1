import type { ImagePrediction } from "../runner/model-runner.js";
import type { LabelStudioSetup } from "../deployments/deployment.js";

/** One region of a Label Studio prediction `result`. */
export interface LabelStudioRegion {
  id: string;
  from_name: string;
  to_name: string;
  type: "choices" | "rectanglelabels";
  value: Record<string, unknown>;
  score?: number;
  original_width?: number;
  original_height?: number;
  image_rotation?: number;
  /** Label Studio keeps region JSON as given, so the prediction id survives here into its webhooks. */
  meta: { mlops_prediction_id: string };
}

/** One entry of the ML backend's `results`: Label Studio's prediction object. */
export interface LabelStudioPrediction {
  result: LabelStudioRegion[];
  score: number;
  /** `<model>:<version>` that answered. */
  model_version: string;
  /** Our prediction id; also in each region's `meta` (Label Studio may drop unknown top-level keys). */
  mlops_prediction_id: string;
  meta: { mlops_prediction_id: string; deployment: string };
}

/**
 * Converts one served prediction into Label Studio's format: classification -> one `choices` region with
 * the top label; detection -> one `rectanglelabels` region per box, x/y/width/height in percent of the
 * image, with the image's pixel size. The prediction's `score` is the top label's score, or the mean box
 * score (0 without boxes), which Label Studio uses to sort tasks.
 */
export function toLabelStudioPrediction(
  p: ImagePrediction,
  setup: LabelStudioSetup,
  ids: { predictionId: string; modelVersion: string; deployment: string },
): LabelStudioPrediction {
  const meta = { mlops_prediction_id: ids.predictionId };
  const base = { from_name: setup.fromName, to_name: setup.toName, meta };
  let result: LabelStudioRegion[];
  let score: number;
  if (p.task === "classification") {
    const top = p.labels[0];
    result = top
      ? [
          {
            id: regionId(ids.predictionId, 0),
            ...base,
            type: "choices",
            value: { choices: [top.label] },
            score: top.score,
          },
        ]
      : [];
    score = top?.score ?? 0;
  } else {
    result = p.boxes.map((b, i) => ({
      id: regionId(ids.predictionId, i),
      ...base,
      type: "rectanglelabels" as const,
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
    }));
    score = p.boxes.length > 0 ? p.boxes.reduce((s, b) => s + b.score, 0) / p.boxes.length : 0;
  }
  return {
    result,
    score,
    model_version: ids.modelVersion,
    mlops_prediction_id: ids.predictionId,
    meta: { mlops_prediction_id: ids.predictionId, deployment: ids.deployment },
  };
}

/** Region ids must be unique within a task; derived from the prediction id so they are stable. */
function regionId(predictionId: string, index: number): string {
  return `${predictionId.slice(0, 8)}-${index}`;
}
