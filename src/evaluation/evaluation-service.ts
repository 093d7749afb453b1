import type { Principal } from "../auth/principal.js";
import type { ManifestItem, SnapshotManifest } from "../data/manifest.js";
import { itemsOfSplit } from "../data/manifest.js";
import type { Split } from "../data/model.js";
import { ForbiddenError, InputError, UnprocessableError } from "../errors.js";
import type { RegistryService } from "../registry/registry-service.js";
import type {
  EvaluationProvenance,
  ModelVersion,
  RegisteredModel,
  ValidationRecord,
} from "../registry/registry-store.js";
import { itemSetSha256 } from "./item-set.js";
import type { ImagePredictor, MeasureProgress } from "./measure.js";
import { scoreClassification, scoreDetection } from "./scores.js";
import { type TrainingData, trainedOn } from "./training-data.js";

/** Names the measuring code in every platform record; bump when the metrics' definition changes. */
export const EVALUATOR_VERSION = "mlops-evaluator/1 (top-1 accuracy; all-point AP at IoU 0.5)";

export type EvaluationRegistry = Pick<
  RegistryService,
  "getVersion" | "listVersions" | "listValidations" | "recordValidation"
>;

/** What the evaluation needs from the other domains (built in `evaluation-ports.ts`). */
export interface EvaluationDeps {
  registry: EvaluationRegistry;
  /** A snapshot the principal may read (NotFoundError otherwise), by id or unique prefix. */
  snapshot(principal: Principal, idOrPrefix: string): Promise<{ id: string; projectId: string }>;
  manifest(snapshotId: string): Promise<SnapshotManifest>;
  /** The version's model.json task. */
  taskOf(version: ModelVersion): Promise<"classification" | "detection">;
  /** What the version was trained on per its lineage; null when it has none (uploaded, no snapshot tag). */
  trainingData(version: ModelVersion): Promise<TrainingData | null>;
  predictor: ImagePredictor;
}

export const EVALUATION_SPLITS = ["holdout", "val", "train"] as const;

/** Everything checked before measuring: what `run` measures and records. */
export interface EvaluationPlan {
  project: string;
  model: RegisteredModel;
  version: ModelVersion;
  snapshot: string;
  split: Split;
  task: "classification" | "detection";
  items: ManifestItem[];
  trainingNote: string;
  /** Production, when the comparison needs it measured on the same items first (docs/architecture/registry.md). */
  production?: { version: ModelVersion; trainingNote: string };
}

export interface EvaluationOutcome {
  record: ValidationRecord;
  /** Production's record made for the comparison, when it had none on the snapshot. */
  production?: ValidationRecord;
}

/**
 * `mlops model evaluate`: the platform measures a version itself on a snapshot's split and records the
 * result with provenance `platform`; and the admin-only path for hand-reported metrics.
 */
export class EvaluationService {
  constructor(private readonly deps: EvaluationDeps) {}

  async plan(
    principal: Principal,
    project: string,
    name: string,
    versionRef: string | number,
    request: { snapshot: string; split?: string },
  ): Promise<EvaluationPlan> {
    const { model, version } = await this.deps.registry.getVersion(
      principal,
      project,
      name,
      versionRef,
      "write",
    );
    const split = parseSplit(request.split);
    const snapshot = await this.snapshotInProject(principal, model, request.snapshot);
    const manifest = await this.deps.manifest(snapshot);
    const task = await this.deps.taskOf(version);
    if (task !== manifest.dataset.task) {
      throw new InputError(
        `${model.name} version ${version.version} is a ${task} model but snapshot ${short(snapshot)} holds ${manifest.dataset.task} labels`,
      );
    }
    const items = itemsOfSplit(manifest, split).filter(
      (item) =>
        item.sha256 !== null && (task === "detection" ? "boxes" in item.label : "class" in item.label),
    );
    if (items.length === 0) {
      throw new InputError(
        `snapshot ${short(snapshot)} has no ${split} items with stored images to evaluate on`,
      );
    }
    const trainingNote = await this.checkNotTrainedOn(
      version,
      items,
      `${model.name} version ${version.version}`,
    );
    const plan: EvaluationPlan = { project, model, version, snapshot, split, task, items, trainingNote };
    const production = (await this.deps.registry.listVersions(principal, project, name)).find(
      (v) => v.stage === "production" && v.id !== version.id,
    );
    if (production) {
      const records = await this.deps.registry.listValidations(
        principal,
        project,
        name,
        String(production.version),
      );
      const measured = records.some((r) => r.snapshot === snapshot && r.provenance === "platform");
      if (!measured) {
        const label = `production version ${production.version}`;
        const note = await this.checkNotTrainedOn(production, items, label).catch((err: unknown) => {
          if (err instanceof UnprocessableError) return undefined;
          throw err;
        });
        // A production version trained on these items cannot be a fair baseline: it is left unmeasured.
        if (note !== undefined) plan.production = { version: production, trainingNote: note };
      }
    }
    return plan;
  }

  /** Measures (production first when the comparison needs it, as the retrain pipeline does) and records. */
  async run(
    principal: Principal,
    plan: EvaluationPlan,
    onProgress?: (progress: MeasureProgress & { version: number }) => void,
  ): Promise<EvaluationOutcome> {
    let production: ValidationRecord | undefined;
    if (plan.production) {
      production = await this.measureAndRecord(
        principal,
        plan,
        plan.production.version,
        plan.production.trainingNote,
        onProgress,
      );
    }
    const record = await this.measureAndRecord(principal, plan, plan.version, plan.trainingNote, onProgress);
    return production ? { record, production } : { record };
  }

  async evaluate(
    principal: Principal,
    project: string,
    name: string,
    version: string | number,
    request: { snapshot: string; split?: string },
  ): Promise<EvaluationOutcome> {
    return this.run(principal, await this.plan(principal, project, name, version, request));
  }

  /**
   * Hand-reported metrics: administrators only, on a snapshot that exists in the model's project; recorded
   * as `reported`, which a `platform` gate does not count.
   */
  async report(
    principal: Principal,
    project: string,
    name: string,
    version: string | number,
    input: { snapshot: string; metrics: Record<string, number>; runId?: string },
  ): Promise<ValidationRecord> {
    const { model } = await this.deps.registry.getVersion(principal, project, name, version, "write");
    // A workload's token acts for its job, not for an administrator at the keyboard.
    if (principal.role !== "admin" || principal.scope) {
      throw new ForbiddenError(
        "recording metrics by hand is for administrators; let the platform measure the version (mlops model evaluate NAME VERSION --snapshot S)",
      );
    }
    const snapshot = await this.snapshotInProject(principal, model, input.snapshot);
    return this.deps.registry.recordValidation(principal, project, name, version, {
      ...input,
      snapshot,
      provenance: "reported",
    });
  }

  private async snapshotInProject(
    principal: Principal,
    model: RegisteredModel,
    ref: string,
  ): Promise<string> {
    const snapshot = await this.deps.snapshot(principal, ref);
    if (snapshot.projectId !== model.projectId) {
      throw new InputError(
        `snapshot ${short(snapshot.id)} belongs to another project than model '${model.name}'`,
      );
    }
    return snapshot.id;
  }

  /** Refuses when the version was trained on any of the items; says what the check rested on otherwise. */
  private async checkNotTrainedOn(
    version: ModelVersion,
    items: ManifestItem[],
    label: string,
  ): Promise<string> {
    const training = await this.deps.trainingData(version);
    if (!training)
      return "unknown: the version has no training lineage (no run snapshot tag or training items)";
    const seen = trainedOn(training, items);
    if (seen.length > 0) {
      const examples = seen
        .slice(0, 3)
        .map((item) => item.key)
        .join(", ");
      throw new UnprocessableError(
        `${label} was trained on ${seen.length} of the ${items.length} items to evaluate (e.g. ${examples}); evaluate it on items it has not seen (the holdout split of a snapshot)`,
        { trainedOn: seen.length },
      );
    }
    return `disjoint from ${training.sources.join(" and ")}`;
  }

  private async measureAndRecord(
    principal: Principal,
    plan: EvaluationPlan,
    version: ModelVersion,
    trainingNote: string,
    onProgress?: (progress: MeasureProgress & { version: number }) => void,
  ): Promise<ValidationRecord> {
    const predictions = await this.deps.predictor.predict(version.id, plan.items, (p) =>
      onProgress?.({ ...p, version: version.version }),
    );
    const mismatch = predictions.find((p) => p.prediction.task !== plan.task);
    if (mismatch)
      throw new UnprocessableError(
        `version ${version.version} answered ${mismatch.prediction.task}, not ${plan.task}`,
      );
    const metrics: Record<string, number> = {};
    if (plan.task === "classification") {
      const score = scoreClassification(predictions);
      metrics.accuracy = score.accuracy;
      for (const c of score.perClass) metrics[`accuracy/${c.label}`] = c.accuracy;
    } else {
      const score = scoreDetection(predictions);
      if (!Number.isFinite(score.map)) throw new InputError("the evaluated items have no ground-truth boxes");
      metrics.map50 = score.map;
      for (const c of score.perClass) metrics[`ap50/${c.label}`] = c.ap;
    }
    metrics.items = predictions.length;
    const evaluation: EvaluationProvenance = {
      split: plan.split,
      itemCount: predictions.length,
      itemSetSha256: itemSetSha256(predictions.map((p) => p.item.id)),
      evaluator: EVALUATOR_VERSION,
      method: this.deps.predictor.method,
      task: plan.task,
      trainingData: trainingNote,
    };
    return this.deps.registry.recordValidation(principal, plan.project, plan.model.name, version.version, {
      snapshot: plan.snapshot,
      metrics,
      provenance: "platform",
      evaluation,
    });
  }
}

function parseSplit(split: string | undefined): Split {
  if (split === undefined) return "holdout";
  if (!(EVALUATION_SPLITS as readonly string[]).includes(split)) {
    throw new InputError(`split must be one of ${EVALUATION_SPLITS.join(", ")}, got '${split}'`);
  }
  return split as Split;
}

const short = (id: string) => id.slice(0, 12);
