import type { ArtifactStore } from "../artifacts/artifact-store.js";
import type { SnapshotService } from "../data/snapshots.js";
import { InputError } from "../errors.js";
import type { ModelVersion } from "../registry/registry-store.js";
import { parseModelDescriptorText } from "../registry/model-descriptor.js";
import { DESCRIPTOR_FILE, readText } from "../registry/version-files.js";
import type { ModelPool } from "../serving/runtime/model-pool.js";
import type { RunArtifacts } from "../tracking/run-artifacts.js";
import { LINEAGE_TAGS } from "../tracking/model.js";
import type { TrackingService } from "../tracking/tracking-service.js";
import { type EvaluationRegistry, EvaluationService } from "./evaluation-service.js";
import { servingRunnerPredictor } from "./measure.js";
import { parseTrainingItems, type TrainingData, trainingDataFrom } from "./training-data.js";

/** Where the training example uploads the ids of the items it trained on (examples/vision-classifier). */
export const TRAINING_ITEMS_ARTIFACT = "data/training-items.json";

export interface EvaluationServiceDeps {
  registry: EvaluationRegistry;
  snapshots: Pick<SnapshotService, "get" | "manifestOf" | "findSnapshot">;
  tracking: Pick<TrackingService, "lookupRun">;
  runArtifacts: Pick<RunArtifacts, "allFiles">;
  models: ModelPool;
  artifacts: ArtifactStore;
}

/** `platform.evaluation`, wired from the platform's services (the composition root calls this). */
export function createEvaluationService(deps: EvaluationServiceDeps): EvaluationService {
  return new EvaluationService({
    registry: deps.registry,
    snapshot: (principal, id) => deps.snapshots.get(principal, id),
    manifest: (id) => deps.snapshots.manifestOf(id),
    taskOf: async (version) => {
      const file = version.files.find((f) => f.path === DESCRIPTOR_FILE);
      if (!file)
        throw new InputError(
          `version ${version.version} has no ${DESCRIPTOR_FILE}: the platform cannot run it`,
        );
      return parseModelDescriptorText(await readText(deps.artifacts, file.sha256)).task;
    },
    trainingData: (version) => trainingDataOf(version, deps),
    predictor: servingRunnerPredictor(deps.models, deps.artifacts),
  });
}

async function trainingDataOf(
  version: ModelVersion,
  deps: EvaluationServiceDeps,
): Promise<TrainingData | null> {
  if (!version.runId) return null;
  const run = await deps.tracking.lookupRun(version.runId);
  if (!run) return null;
  const snapshotId = run.tags[LINEAGE_TAGS.datasetSnapshot] || null;
  const snapshot = snapshotId ? await deps.snapshots.findSnapshot(snapshotId) : undefined;
  const manifest = snapshot ? await deps.snapshots.manifestOf(snapshot.id) : undefined;
  const file = (await deps.runArtifacts.allFiles(version.runId, "data")).find(
    (f) => f.path === TRAINING_ITEMS_ARTIFACT,
  );
  const uploaded = file ? parseTrainingItems(await readText(deps.artifacts, file.sha256)) : undefined;
  if (!manifest && !uploaded) return null;
  return trainingDataFrom(snapshot?.id ?? snapshotId, manifest, uploaded);
}
