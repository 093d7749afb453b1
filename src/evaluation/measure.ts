import type { ArtifactStore } from "../artifacts/artifact-store.js";
import type { ManifestItem } from "../data/manifest.js";
import type { ImagePrediction } from "../serving/runner/model-runner.js";
import type { ModelPool } from "../serving/runtime/model-pool.js";

/** How many images go to the runner per call: bounds memory and sets the progress granularity. */
export const MEASURE_BATCH = 64;

export interface ItemPrediction {
  item: ManifestItem;
  prediction: ImagePrediction;
}

export interface MeasureProgress {
  done: number;
  total: number;
}

/** Runs a model version over stored images exactly as serving would answer them. */
export interface ImagePredictor {
  readonly method: string;
  /** Predictions for the items that have a stored image (URL-only items are left out), in item order. */
  predict(
    versionId: string,
    items: readonly ManifestItem[],
    onProgress?: (progress: MeasureProgress) => void,
  ): Promise<ItemPrediction[]>;
}

async function readBlob(artifacts: ArtifactStore, sha256: string): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of await artifacts.get(sha256)) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/**
 * In-process with serving's model pool (onnxruntime-node, the version's model.json pre- and
 * postprocessing): the figures are what serving will answer. Detection keeps every box serving returns
 * (serving's score threshold applies, as it does for clients).
 */
export function servingRunnerPredictor(models: ModelPool, artifacts: ArtifactStore): ImagePredictor {
  return {
    method: "in-process: serving model runner (onnxruntime-node) on the snapshot's stored images",
    async predict(versionId, items, onProgress) {
      const stored = items.filter((item) => item.sha256 !== null);
      const out: ItemPrediction[] = [];
      const handle = await models.acquire(versionId);
      try {
        for (let start = 0; start < stored.length; start += MEASURE_BATCH) {
          const batch = stored.slice(start, start + MEASURE_BATCH);
          const images = await Promise.all(batch.map((item) => readBlob(artifacts, item.sha256 as string)));
          const result = await handle.runner.predictImages(handle.model.key, images, { topK: 1 });
          result.predictions.forEach((prediction, i) => {
            out.push({ item: batch[i], prediction });
          });
          onProgress?.({ done: out.length, total: stored.length });
        }
      } finally {
        handle.release();
      }
      return out;
    },
  };
}
