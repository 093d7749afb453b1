import type { Stage } from "./stages.js";
import type { ValidationDecision, ValidationGate } from "./validation-gate.js";

export interface RegisteredModel {
  id: string;
  projectId: string;
  name: string;
  description: string;
  createdAt: number;
  updatedAt: number;
  createdBy: string;
  gate: ValidationGate | null;
  tags: Record<string, string>;
  /** alias -> version number */
  aliases: Record<string, number>;
}

/** One file of a version's artifact, e.g. `model.onnx`, addressed by content in the artifact store. */
export interface VersionFile {
  path: string;
  sha256: string;
  size: number;
}

export interface ModelVersion {
  id: string;
  modelId: string;
  modelName: string;
  projectId: string;
  version: number;
  stage: Stage;
  /** Where the files came from: `runs:/<id>/model`, an artifact URI, or `upload`. */
  source: string;
  runId: string | null;
  /** Directory of the run's artifacts the files were copied from (`model`), when from a run. */
  runPath: string | null;
  status: "READY";
  description: string;
  createdAt: number;
  updatedAt: number;
  createdBy: string;
  tags: Record<string, string>;
  aliases: string[];
  files: VersionFile[];
}

export interface StageTransition {
  id: number;
  modelId: string;
  versionId: string;
  version: number;
  fromStage: Stage;
  toStage: Stage;
  actor: string;
  at: number;
  reason: string;
  /** The validation record that allowed a move to production. */
  evidence: string | null;
  details: Record<string, unknown>;
}

/**
 * Who produced a record's metrics: `platform` measured them itself (`mlops model evaluate`, the retrain
 * pipeline); `reported` were typed in by an administrator (docs/architecture/registry.md).
 */
export type ValidationProvenance = "platform" | "reported";

/** What a platform measurement ran on and with, checkable later. */
export interface EvaluationProvenance {
  split: "train" | "val" | "holdout";
  itemCount: number;
  /** sha256 of the sorted ids of the evaluated items. */
  itemSetSha256: string;
  /** The evaluator's version, e.g. `mlops-evaluator/1`. */
  evaluator: string;
  /** How it ran, e.g. the in-process serving runner. */
  method: string;
  task: "classification" | "detection";
  /** How the version's training data was checked against the evaluated items. */
  trainingData: string;
}

export interface ValidationRecord {
  id: string;
  modelId: string;
  versionId: string;
  version: number;
  snapshot: string;
  metrics: Record<string, number>;
  runId: string | null;
  createdBy: string;
  createdAt: number;
  /** The decision when the record was made (against the gate and production of that moment). */
  passed: boolean;
  decision: ValidationDecision;
  provenance: ValidationProvenance;
  /** Set for `platform` records. */
  evaluation: EvaluationProvenance | null;
}

export interface NewModelVersion {
  id: string;
  source: string;
  runId: string | null;
  runPath: string | null;
  description: string;
  createdAt: number;
  createdBy: string;
  tags: Record<string, string>;
  files: VersionFile[];
}

export interface VersionQuery {
  projectId?: string;
  modelName?: string;
  runId?: string;
}

/** Persistence of the registry. Reads and single-row writes; multi-row changes go through `locked`. */
export interface RegistryStore {
  insertModel(model: Omit<RegisteredModel, "aliases">): Promise<void>;
  findModel(projectId: string, name: string): Promise<RegisteredModel | undefined>;
  findModelById(id: string): Promise<RegisteredModel | undefined>;
  listModels(projectId: string | undefined): Promise<RegisteredModel[]>;
  updateModel(
    id: string,
    patch: { name?: string; description?: string; gate?: ValidationGate | null; at: number },
  ): Promise<void>;
  deleteModel(id: string): Promise<void>;
  setModelTag(id: string, key: string, value: string, at: number): Promise<void>;
  deleteModelTag(id: string, key: string, at: number): Promise<boolean>;

  /** Inserts with the next version number of the model (never reused, like MLflow). */
  insertVersion(modelId: string, version: NewModelVersion): Promise<ModelVersion>;
  findVersion(modelId: string, version: number): Promise<ModelVersion | undefined>;
  findVersionById(id: string): Promise<ModelVersion | undefined>;
  listVersions(modelId: string): Promise<ModelVersion[]>;
  searchVersions(query: VersionQuery): Promise<ModelVersion[]>;
  updateVersionDescription(id: string, description: string, at: number): Promise<void>;
  deleteVersion(id: string): Promise<void>;
  setVersionTag(id: string, key: string, value: string, at: number): Promise<void>;
  deleteVersionTag(id: string, key: string, at: number): Promise<boolean>;

  setAlias(modelId: string, alias: string, versionId: string, at: number): Promise<void>;
  deleteAlias(modelId: string, alias: string, at: number): Promise<boolean>;

  listTransitions(modelId: string, versionId?: string): Promise<StageTransition[]>;

  insertValidation(record: ValidationRecord): Promise<void>;
  listValidations(modelId: string, versionId?: string): Promise<ValidationRecord[]>;

  /**
   * Runs `work` in one transaction that holds the model's row lock: every stage change of a model is
   * serialized through it, so two concurrent promotions cannot both see "no other production version".
   */
  locked<T>(modelId: string, work: (tx: RegistryTransaction) => Promise<T>): Promise<T>;
}

/** What a stage change may do inside the model's lock. */
export interface RegistryTransaction {
  findModelById(id: string): Promise<RegisteredModel | undefined>;
  findVersionById(id: string): Promise<ModelVersion | undefined>;
  versionsInStage(modelId: string, stage: Stage): Promise<ModelVersion[]>;
  listValidations(modelId: string, versionId?: string): Promise<ValidationRecord[]>;
  /** Conditional: only when the version is still in `from`; false otherwise. */
  setStage(versionId: string, from: Stage, to: Stage, at: number): Promise<boolean>;
  insertTransition(transition: Omit<StageTransition, "id">): Promise<StageTransition>;
}
