import type { ImagePrediction, TensorOutput } from "../runner/model-runner.js";

/** What the prediction log keeps of an answer: enough to match a label to it, small enough to keep all. */
export interface OutputSummary {
  topLabel: string | null;
  score: number | null;
  output: Record<string, unknown>;
  /** A score was NaN or infinite: the model answered garbage. */
  nonFinite: boolean;
}

const MAX_LOGGED = 5;

export function summarizeImage(p: ImagePrediction): OutputSummary {
  if (p.task === "classification") {
    const top = p.labels[0];
    return {
      topLabel: top?.label ?? null,
      score: top && Number.isFinite(top.score) ? top.score : null,
      output: { labels: p.labels.slice(0, MAX_LOGGED).map((l) => ({ label: l.label, score: l.score })) },
      nonFinite: p.labels.some((l) => !Number.isFinite(l.score)),
    };
  }
  const best = p.boxes[0];
  return {
    topLabel: best?.label ?? null,
    score: best && Number.isFinite(best.score) ? best.score : null,
    output: {
      boxes: p.boxes.map((b) => ({ label: b.label, score: b.score, x1: b.x1, y1: b.y1, x2: b.x2, y2: b.y2 })),
      width: p.width,
      height: p.height,
    },
    nonFinite: p.boxes.some((b) => ![b.score, b.x1, b.y1, b.x2, b.y2].every(Number.isFinite)),
  };
}

/** Tensors are logged by name and shape only (values can be large; the input hash identifies the request). */
export function summarizeTensors(outputs: TensorOutput[]): OutputSummary {
  return {
    topLabel: null,
    score: null,
    output: { outputs: outputs.map((o) => ({ name: o.name, datatype: o.datatype, shape: o.shape })) },
    nonFinite: false,
  };
}
