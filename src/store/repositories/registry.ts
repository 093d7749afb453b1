import type { Kysely } from "kysely";
import { ConflictError } from "../../errors.js";
import type {
  ModelVersion,
  NewModelVersion,
  RegisteredModel,
  RegistryStore,
  RegistryTransaction,
  StageTransition,
  ValidationRecord,
  VersionQuery,
} from "../../registry/registry-store.js";
import type { Stage } from "../../registry/stages.js";
import type { ValidationGate } from "../../registry/validation-gate.js";
import type { Store } from "../open-store.js";
import type { Database } from "../schema.js";
import {
  hydrateModels,
  hydrateVersions,
  listValidationRows,
  selectVersions,
  toTransition,
} from "./registry-rows.js";

type Db = Kysely<Database>;

async function findModelById(db: Db, id: string): Promise<RegisteredModel | undefined> {
  const row = await db.selectFrom("registered_models").selectAll().where("id", "=", id).executeTakeFirst();
  return row ? (await hydrateModels(db, [row]))[0] : undefined;
}

async function findVersionById(db: Db, id: string): Promise<ModelVersion | undefined> {
  const row = await selectVersions(db).where("model_versions.id", "=", id).executeTakeFirst();
  return row ? (await hydrateVersions(db, [row]))[0] : undefined;
}

/** The registry's tables on SQLite or PostgreSQL. */
export class SqlRegistryStore implements RegistryStore {
  constructor(private readonly store: Store) {}

  private get db(): Db {
    return this.store.db;
  }

  async insertModel(model: Omit<RegisteredModel, "aliases">): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto("registered_models")
        .values({
          id: model.id,
          project_id: model.projectId,
          name: model.name,
          description: model.description,
          created_at: model.createdAt,
          updated_at: model.updatedAt,
          created_by: model.createdBy,
          gate: model.gate ? JSON.stringify(model.gate) : null,
          next_version: 1,
        })
        .execute();
      const tags = Object.entries(model.tags);
      if (tags.length > 0) {
        await trx
          .insertInto("registered_model_tags")
          .values(tags.map(([key, value]) => ({ model_id: model.id, key, value })))
          .execute();
      }
    });
  }

  async findModel(projectId: string, name: string): Promise<RegisteredModel | undefined> {
    const row = await this.db
      .selectFrom("registered_models")
      .selectAll()
      .where("project_id", "=", projectId)
      .where("name", "=", name)
      .executeTakeFirst();
    return row ? (await hydrateModels(this.db, [row]))[0] : undefined;
  }

  findModelById(id: string): Promise<RegisteredModel | undefined> {
    return findModelById(this.db, id);
  }

  async listModels(projectId: string | undefined): Promise<RegisteredModel[]> {
    let q = this.db.selectFrom("registered_models").selectAll();
    if (projectId) q = q.where("project_id", "=", projectId);
    return hydrateModels(this.db, await q.orderBy("name").execute());
  }

  async updateModel(
    id: string,
    patch: { name?: string; description?: string; gate?: ValidationGate | null; at: number },
  ): Promise<void> {
    await this.db
      .updateTable("registered_models")
      .set({
        updated_at: patch.at,
        ...(patch.name !== undefined ? { name: patch.name } : {}),
        ...(patch.description !== undefined ? { description: patch.description } : {}),
        ...(patch.gate !== undefined ? { gate: patch.gate ? JSON.stringify(patch.gate) : null } : {}),
      })
      .where("id", "=", id)
      .execute();
  }

  async deleteModel(id: string): Promise<void> {
    await this.db.deleteFrom("registered_models").where("id", "=", id).execute();
  }

  async setModelTag(id: string, key: string, value: string, at: number): Promise<void> {
    await this.db
      .insertInto("registered_model_tags")
      .values({ model_id: id, key, value })
      .onConflict((oc) => oc.columns(["model_id", "key"]).doUpdateSet({ value }))
      .execute();
    await this.touchModel(id, at);
  }

  async deleteModelTag(id: string, key: string, at: number): Promise<boolean> {
    const result = await this.db
      .deleteFrom("registered_model_tags")
      .where("model_id", "=", id)
      .where("key", "=", key)
      .executeTakeFirst();
    await this.touchModel(id, at);
    return Number(result.numDeletedRows) > 0;
  }

  async insertVersion(modelId: string, v: NewModelVersion): Promise<ModelVersion> {
    await this.db.transaction().execute(async (trx) => {
      const bumped = await trx
        .updateTable("registered_models")
        .set((eb) => ({ next_version: eb("next_version", "+", 1), updated_at: v.createdAt }))
        .where("id", "=", modelId)
        .returning("next_version")
        .executeTakeFirstOrThrow();
      await trx
        .insertInto("model_versions")
        .values({
          id: v.id,
          model_id: modelId,
          version: Number(bumped.next_version) - 1,
          stage: "experiment",
          source: v.source,
          run_id: v.runId,
          run_path: v.runPath,
          status: "READY",
          description: v.description,
          created_at: v.createdAt,
          updated_at: v.createdAt,
          created_by: v.createdBy,
        })
        .execute();
      const tags = Object.entries(v.tags);
      if (tags.length > 0) {
        await trx
          .insertInto("model_version_tags")
          .values(tags.map(([key, value]) => ({ version_id: v.id, key, value })))
          .execute();
      }
      if (v.files.length > 0) {
        await trx
          .insertInto("model_version_files")
          .values(v.files.map((f) => ({ version_id: v.id, path: f.path, sha256: f.sha256, size: f.size })))
          .execute();
      }
    });
    const created = await findVersionById(this.db, v.id);
    if (!created) throw new Error(`model version ${v.id} vanished after insert`);
    return created;
  }

  async findVersion(modelId: string, version: number): Promise<ModelVersion | undefined> {
    const row = await selectVersions(this.db)
      .where("model_versions.model_id", "=", modelId)
      .where("model_versions.version", "=", version)
      .executeTakeFirst();
    return row ? (await hydrateVersions(this.db, [row]))[0] : undefined;
  }

  findVersionById(id: string): Promise<ModelVersion | undefined> {
    return findVersionById(this.db, id);
  }

  async listVersions(modelId: string): Promise<ModelVersion[]> {
    const rows = await selectVersions(this.db)
      .where("model_versions.model_id", "=", modelId)
      .orderBy("model_versions.version", "desc")
      .execute();
    return hydrateVersions(this.db, rows);
  }

  async searchVersions(query: VersionQuery): Promise<ModelVersion[]> {
    let q = selectVersions(this.db);
    if (query.projectId) q = q.where("registered_models.project_id", "=", query.projectId);
    if (query.modelName) q = q.where("registered_models.name", "=", query.modelName);
    if (query.runId) q = q.where("model_versions.run_id", "=", query.runId);
    const rows = await q
      .orderBy("registered_models.name")
      .orderBy("model_versions.version", "desc")
      .execute();
    return hydrateVersions(this.db, rows);
  }

  async updateVersionDescription(id: string, description: string, at: number): Promise<void> {
    await this.db
      .updateTable("model_versions")
      .set({ description, updated_at: at })
      .where("id", "=", id)
      .execute();
  }

  async deleteVersion(id: string): Promise<void> {
    await this.db.deleteFrom("model_versions").where("id", "=", id).execute();
  }

  async setVersionTag(id: string, key: string, value: string, at: number): Promise<void> {
    await this.db
      .insertInto("model_version_tags")
      .values({ version_id: id, key, value })
      .onConflict((oc) => oc.columns(["version_id", "key"]).doUpdateSet({ value }))
      .execute();
    await this.db.updateTable("model_versions").set({ updated_at: at }).where("id", "=", id).execute();
  }

  async deleteVersionTag(id: string, key: string, at: number): Promise<boolean> {
    const result = await this.db
      .deleteFrom("model_version_tags")
      .where("version_id", "=", id)
      .where("key", "=", key)
      .executeTakeFirst();
    await this.db.updateTable("model_versions").set({ updated_at: at }).where("id", "=", id).execute();
    return Number(result.numDeletedRows) > 0;
  }

  async setAlias(modelId: string, alias: string, versionId: string, at: number): Promise<void> {
    await this.db
      .insertInto("model_aliases")
      .values({ model_id: modelId, alias, version_id: versionId, updated_at: at })
      .onConflict((oc) =>
        oc.columns(["model_id", "alias"]).doUpdateSet({ version_id: versionId, updated_at: at }),
      )
      .execute();
    await this.touchModel(modelId, at);
  }

  async deleteAlias(modelId: string, alias: string, at: number): Promise<boolean> {
    const result = await this.db
      .deleteFrom("model_aliases")
      .where("model_id", "=", modelId)
      .where("alias", "=", alias)
      .executeTakeFirst();
    await this.touchModel(modelId, at);
    return Number(result.numDeletedRows) > 0;
  }

  async listTransitions(modelId: string, versionId?: string): Promise<StageTransition[]> {
    let q = this.db.selectFrom("model_stage_transitions").selectAll().where("model_id", "=", modelId);
    if (versionId) q = q.where("version_id", "=", versionId);
    return (await q.orderBy("id").execute()).map(toTransition);
  }

  async insertValidation(r: ValidationRecord): Promise<void> {
    await this.db
      .insertInto("model_validations")
      .values({
        id: r.id,
        model_id: r.modelId,
        version_id: r.versionId,
        snapshot: r.snapshot,
        metrics: JSON.stringify(r.metrics),
        run_id: r.runId,
        created_by: r.createdBy,
        created_at: r.createdAt,
        passed: r.passed ? 1 : 0,
        decision: JSON.stringify(r.decision),
        provenance: r.provenance,
        evaluation: r.evaluation ? JSON.stringify(r.evaluation) : null,
      })
      .execute();
  }

  listValidations(modelId: string, versionId?: string): Promise<ValidationRecord[]> {
    return listValidationRows(this.db, modelId, versionId);
  }

  async locked<T>(modelId: string, work: (tx: RegistryTransaction) => Promise<T>): Promise<T> {
    try {
      return await this.lockedOnce(modelId, work);
    } catch (err) {
      // The unique partial index is the last line of defence against two production versions.
      if (this.store.dialect.isUniqueViolation(err)) {
        throw new ConflictError("another stage change of this model happened at the same time; try again");
      }
      throw err;
    }
  }

  private lockedOnce<T>(modelId: string, work: (tx: RegistryTransaction) => Promise<T>): Promise<T> {
    return this.db.transaction().execute(async (trx) => {
      // Writing the model row takes its row lock (PostgreSQL) or the write lock (SQLite) up front, so
      // every stage change of one model runs one after another.
      await trx
        .updateTable("registered_models")
        .set({ updated_at: Date.now() })
        .where("id", "=", modelId)
        .execute();
      return work(new SqlRegistryTransaction(trx));
    });
  }

  private async touchModel(id: string, at: number): Promise<void> {
    await this.db.updateTable("registered_models").set({ updated_at: at }).where("id", "=", id).execute();
  }
}

class SqlRegistryTransaction implements RegistryTransaction {
  constructor(private readonly db: Db) {}

  findModelById(id: string): Promise<RegisteredModel | undefined> {
    return findModelById(this.db, id);
  }

  findVersionById(id: string): Promise<ModelVersion | undefined> {
    return findVersionById(this.db, id);
  }

  async versionsInStage(modelId: string, stage: Stage): Promise<ModelVersion[]> {
    const rows = await selectVersions(this.db)
      .where("model_versions.model_id", "=", modelId)
      .where("model_versions.stage", "=", stage)
      .orderBy("model_versions.version")
      .execute();
    return hydrateVersions(this.db, rows);
  }

  listValidations(modelId: string, versionId?: string): Promise<ValidationRecord[]> {
    return listValidationRows(this.db, modelId, versionId);
  }

  async setStage(versionId: string, from: Stage, to: Stage, at: number): Promise<boolean> {
    const result = await this.db
      .updateTable("model_versions")
      .set({ stage: to, updated_at: at })
      .where("id", "=", versionId)
      .where("stage", "=", from)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async insertTransition(t: Omit<StageTransition, "id">): Promise<StageTransition> {
    const row = {
      model_id: t.modelId,
      version_id: t.versionId,
      version: t.version,
      from_stage: t.fromStage,
      to_stage: t.toStage,
      actor: t.actor,
      at: t.at,
      reason: t.reason,
      evidence: t.evidence,
      details: JSON.stringify(t.details),
    };
    const inserted = await this.db
      .insertInto("model_stage_transitions")
      .values(row)
      .returning("id")
      .executeTakeFirstOrThrow();
    return { ...t, id: Number(inserted.id) };
  }
}
