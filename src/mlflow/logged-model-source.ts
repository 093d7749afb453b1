import type { Principal } from "../auth/principal.js";
import { InputError } from "../errors.js";
import type { VersionInput } from "../registry/registry-catalog.js";
import type { LoggedModels } from "../tracking/logged-models.js";
import type { RunArtifacts } from "../tracking/run-artifacts.js";
import type { TrackingService } from "../tracking/tracking-service.js";

const MODELS_URI = /^models:\/(m-[0-9a-f]{32})\/?$/;
const LOCATION = /^mlflow-artifacts:\/\d+\/models\/(m-[0-9a-f]{32})\/artifacts\/?$/;
const RUNS_URI = /^runs:\/([0-9a-f]{32})\/(.+?)\/?$/;

/** The logged model a version `source` (or MLflow 3's `model_id` argument) names, if any. */
export function loggedModelIdOf(source: string, modelId?: string): string | undefined {
  return modelId || MODELS_URI.exec(source)?.[1] || LOCATION.exec(source)?.[1];
}

/**
 * Where the files of a new registry version come from when an MLflow 3 client names a logged model:
 * `model_id`, `models:/m-<id>`, the model's artifact location, or `runs:/<run>/<name>` where the run has no
 * files under `<name>` but logged a model of that name (MLflow 3 stores `log_model` output there).
 * Undefined means "not a logged model": the registry resolves the source itself, as before.
 * The caller must be able to read the logged model; the registry then checks the project, the workload
 * grant and the model files as for any version, and the validation gate still guards production.
 */
export async function loggedModelVersionInput(
  deps: { loggedModels: LoggedModels; runArtifacts: RunArtifacts; tracking: TrackingService },
  principal: Principal,
  source: string,
  modelIdArg: string | undefined,
): Promise<VersionInput | undefined> {
  let id = loggedModelIdOf(source, modelIdArg);
  const runs = id ? undefined : RUNS_URI.exec(source);
  if (runs) {
    const [, runId, name] = runs;
    if ((await deps.runArtifacts.allFiles(runId, name)).length > 0) return undefined;
    const run = await deps.tracking.getRun(principal, runId);
    const models = await deps.loggedModels.search(principal, [run.info.experimentId]);
    id = models.find((m) => m.sourceRunId === runId && m.name === name)?.id;
    if (!id) return undefined;
  }
  if (!id) return undefined;
  const { model, files } = await deps.loggedModels.allFiles(principal, id);
  if (model.status !== "LOGGED_MODEL_READY") {
    throw new InputError(
      `Logged model ${model.id} is ${model.status}; finalize it as LOGGED_MODEL_READY before registering it`,
    );
  }
  return {
    kind: "resolved",
    projectId: model.projectId,
    source: model.artifactLocation,
    runId: model.sourceRunId,
    files: files.map((f) => ({ path: f.path, sha256: f.sha256, size: f.size })),
  };
}
