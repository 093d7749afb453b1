import type { Kysely, Selectable } from "kysely";
import type {
  EvaluationProvenance,
  ModelVersion,
  RegisteredModel,
  StageTransition,
  ValidationRecord,
} from "../../registry/registry-store.js";
import type { Stage } from "../../registry/stages.js";
import type { ValidationDecision, ValidationGate } from "../../registry/validation-gate.js";
import type { Database } from "../schema.js";
import type {
  ModelStageTransitionsTable,
  ModelValidationsTable,
  ModelVersionsTable,
  RegisteredModelsTable,
} from "../tables/registry.js";

/** Row <-> domain mapping shared by the registry repository and its transactions. */
type Db = Kysely<Database>;

function groupBy<T, K extends string>(rows: T[], key: (row: T) => K): Map<K, T[]> {
  const map = new Map<K, T[]>();
  for (const row of rows) {
    const k = key(row);
    const list = map.get(k);
    if (list) list.push(row);
    else map.set(k, [row]);
  }
  return map;
}

export async function hydrateModels(
  db: Db,
  rows: Selectable<RegisteredModelsTable>[],
): Promise<RegisteredModel[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const tags = groupBy(
    await db.selectFrom("registered_model_tags").selectAll().where("model_id", "in", ids).execute(),
    (t) => t.model_id,
  );
  const aliases = groupBy(
    await db
      .selectFrom("model_aliases")
      .innerJoin("model_versions", "model_versions.id", "model_aliases.version_id")
      .select(["model_aliases.model_id", "model_aliases.alias", "model_versions.version"])
      .where("model_aliases.model_id", "in", ids)
      .execute(),
    (a) => a.model_id,
  );
  return rows.map((r) => ({
    id: r.id,
    projectId: r.project_id,
    name: r.name,
    description: r.description,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    createdBy: r.created_by,
    gate: r.gate ? (JSON.parse(r.gate) as ValidationGate) : null,
    tags: Object.fromEntries((tags.get(r.id) ?? []).map((t) => [t.key, t.value])),
    aliases: Object.fromEntries((aliases.get(r.id) ?? []).map((a) => [a.alias, Number(a.version)])),
  }));
}

type VersionRow = Selectable<ModelVersionsTable> & { model_name: string; project_id: string };

export function selectVersions(db: Db) {
  return db
    .selectFrom("model_versions")
    .innerJoin("registered_models", "registered_models.id", "model_versions.model_id")
    .selectAll("model_versions")
    .select(["registered_models.name as model_name", "registered_models.project_id"]);
}

export async function hydrateVersions(db: Db, rows: VersionRow[]): Promise<ModelVersion[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const chunks: string[][] = [];
  // Bound parameter counts stay far below both databases' limits.
  for (let i = 0; i < ids.length; i += 500) chunks.push(ids.slice(i, i + 500));
  const tagRows = [];
  const fileRows = [];
  const aliasRows = [];
  for (const chunk of chunks) {
    tagRows.push(
      ...(await db.selectFrom("model_version_tags").selectAll().where("version_id", "in", chunk).execute()),
    );
    fileRows.push(
      ...(await db
        .selectFrom("model_version_files")
        .selectAll()
        .where("version_id", "in", chunk)
        .orderBy("path")
        .execute()),
    );
    aliasRows.push(
      ...(await db
        .selectFrom("model_aliases")
        .selectAll()
        .where("version_id", "in", chunk)
        .orderBy("alias")
        .execute()),
    );
  }
  const tags = groupBy(tagRows, (t) => t.version_id);
  const files = groupBy(fileRows, (f) => f.version_id);
  const aliases = groupBy(aliasRows, (a) => a.version_id);
  return rows.map((r) => ({
    id: r.id,
    modelId: r.model_id,
    modelName: r.model_name,
    projectId: r.project_id,
    version: Number(r.version),
    stage: r.stage as Stage,
    source: r.source,
    runId: r.run_id,
    runPath: r.run_path,
    status: "READY",
    description: r.description,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    createdBy: r.created_by,
    tags: Object.fromEntries((tags.get(r.id) ?? []).map((t) => [t.key, t.value])),
    aliases: (aliases.get(r.id) ?? []).map((a) => a.alias),
    files: (files.get(r.id) ?? []).map((f) => ({ path: f.path, sha256: f.sha256, size: Number(f.size) })),
  }));
}

export function toTransition(r: Selectable<ModelStageTransitionsTable>): StageTransition {
  return {
    id: Number(r.id),
    modelId: r.model_id,
    versionId: r.version_id,
    version: Number(r.version),
    fromStage: r.from_stage as Stage,
    toStage: r.to_stage as Stage,
    actor: r.actor,
    at: Number(r.at),
    reason: r.reason,
    evidence: r.evidence,
    details: JSON.parse(r.details) as Record<string, unknown>,
  };
}

export async function listValidationRows(
  db: Db,
  modelId: string,
  versionId?: string,
): Promise<ValidationRecord[]> {
  let q = db
    .selectFrom("model_validations")
    .innerJoin("model_versions", "model_versions.id", "model_validations.version_id")
    .selectAll("model_validations")
    .select("model_versions.version")
    .where("model_validations.model_id", "=", modelId);
  if (versionId) q = q.where("model_validations.version_id", "=", versionId);
  const rows = await q
    .orderBy("model_validations.created_at", "desc")
    .orderBy("model_validations.id")
    .execute();
  return rows.map((r) => toValidation(r, Number(r.version)));
}

function toValidation(r: Selectable<ModelValidationsTable>, version: number): ValidationRecord {
  return {
    id: r.id,
    modelId: r.model_id,
    versionId: r.version_id,
    version,
    snapshot: r.snapshot,
    metrics: JSON.parse(r.metrics) as Record<string, number>,
    runId: r.run_id,
    createdBy: r.created_by,
    createdAt: Number(r.created_at),
    passed: Boolean(r.passed),
    decision: JSON.parse(r.decision) as ValidationDecision,
    provenance: r.provenance === "platform" ? "platform" : "reported",
    evaluation: r.evaluation ? (JSON.parse(r.evaluation) as EvaluationProvenance) : null,
  };
}
