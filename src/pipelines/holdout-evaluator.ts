import type { ArtifactStore } from "../artifacts/artifact-store.js";
import type { ManifestItem } from "../data/manifest.js";
import { servingRunnerPredictor } from "../evaluation/measure.js";
import { scoreClassification } from "../evaluation/scores.js";
import type { ModelPool } from "../serving/runtime/model-pool.js";
import type { ModelEvaluation } from "./pipeline-run.js";
import type { HoldoutEvaluator } from "./ports.js";

/**
 * Accuracy of a classification model version on labeled items, computed in-process with the serving model
 * runner (the measuring code `mlops model evaluate` uses too, src/evaluation/): exactly what serving would
 * answer. URL items (no stored image) are skipped and not counted.
 */
export function servingRunnerEvaluator(models: ModelPool, artifacts: ArtifactStore): HoldoutEvaluator {
  const predictor = servingRunnerPredictor(models, artifacts);
  return {
    method: "in-process: serving model runner (onnxruntime-node) on the snapshot's holdout images",
    async evaluate(version, items: ManifestItem[]): Promise<ModelEvaluation> {
      const labeled = items.filter((item) => "class" in item.label);
      const score = scoreClassification(await predictor.predict(version.id, labeled));
      return {
        version: version.version,
        versionId: version.id,
        accuracy: score.accuracy,
        correct: score.correct,
        count: score.count,
      };
    },
  };
}
