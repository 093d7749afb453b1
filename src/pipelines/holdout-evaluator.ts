import type { ArtifactStore } from "../artifacts/artifact-store.js";
import type { ManifestItem } from "../data/manifest.js";
import type { ModelPool } from "../serving/runtime/model-pool.js";
import type { ModelEvaluation } from "./pipeline-run.js";
import type { HoldoutEvaluator } from "./ports.js";

const BATCH = 64;

async function readBlob(artifacts: ArtifactStore, sha256: string): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of await artifacts.get(sha256)) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/**
 * Accuracy of a classification model version on labeled items, computed in-process with the serving model
 * runner (onnxruntime-node, the version's model.json preprocessing): exactly what serving would answer.
 * URL items (no stored image) are skipped and not counted.
 */
export function servingRunnerEvaluator(models: ModelPool, artifacts: ArtifactStore): HoldoutEvaluator {
  return {
    method: "in-process: serving model runner (onnxruntime-node) on the snapshot's holdout images",
    async evaluate(version, items: ManifestItem[]): Promise<ModelEvaluation> {
      const stored = items.filter((item) => item.sha256 !== null && "class" in item.label);
      const handle = await models.acquire(version.id);
      let correct = 0;
      try {
        for (let start = 0; start < stored.length; start += BATCH) {
          const batch = stored.slice(start, start + BATCH);
          const images = await Promise.all(batch.map((item) => readBlob(artifacts, item.sha256 as string)));
          const result = await handle.runner.predictImages(handle.model.key, images, { topK: 1 });
          result.predictions.forEach((prediction, i) => {
            const truth = (batch[i].label as { class: string }).class;
            if (prediction.task === "classification" && prediction.labels[0]?.label === truth) correct++;
          });
        }
      } finally {
        handle.release();
      }
      return {
        version: version.version,
        versionId: version.id,
        accuracy: stored.length === 0 ? 0 : correct / stored.length,
        correct,
        count: stored.length,
      };
    },
  };
}
