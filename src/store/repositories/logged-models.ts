import type { Selectable } from "kysely";
import {
  type LoggedModel,
  type LoggedModelStatus,
  type LoggedModelStore,
  loggedModelArtifactLocation,
  type ModelOutput,
  type NewLoggedModel,
} from "../../tracking/logged-models-model.js";
import type { KeyValue, RunArtifact } from "../../tracking/model.js";
import type { Store } from "../open-store.js";
import type { LoggedModelsTable } from "../tables/logged-models.js";

const IN_CHUNK = 500;

function keyValueRecord(rows: Array<{ key: string; value: string }>): Record<string, string> {
  return Object.fromEntries(rows.map((r) => [r.key, r.value]));
}

/** Logged models over the metadata database (SQLite or PostgreSQL). */
export class SqlLoggedModelStore implements LoggedModelStore {
  constructor(private readonly store: Store) {}

  private get db() {
    return this.store.db;
  }

  async insert(m: NewLoggedModel): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx
        .insertInto("logged_models")
        .values({
          id: m.id,
          experiment_id: Number(m.experimentId),
          project_id: m.projectId,
          name: m.name,
          model_type: m.modelType,
          source_run_id: m.sourceRunId,
          status: m.status,
          status_message: m.statusMessage,
          creator: m.creator,
          created_at: m.createdAt,
          updated_at: m.updatedAt,
          deleted_at: null,
        })
        .execute();
      if (m.params.length > 0) {
        await tx
          .insertInto("logged_model_params")
          .values(m.params.map((p) => ({ model_id: m.id, key: p.key, value: p.value })))
          .execute();
      }
      if (m.tags.length > 0) {
        await tx
          .insertInto("logged_model_tags")
          .values(m.tags.map((t) => ({ model_id: m.id, key: t.key, value: t.value })))
          .execute();
      }
    });
  }

  async find(id: string): Promise<LoggedModel | undefined> {
    const row = await this.db
      .selectFrom("logged_models")
      .selectAll()
      .where("id", "=", id)
      .where("deleted_at", "is", null)
      .executeTakeFirst();
    return row ? (await this.withKeyValues([row]))[0] : undefined;
  }

  async list(experimentIds: string[]): Promise<LoggedModel[]> {
    const ids = experimentIds.map(Number).filter((n) => Number.isSafeInteger(n));
    if (ids.length === 0) return [];
    const rows: Selectable<LoggedModelsTable>[] = [];
    for (let i = 0; i < ids.length; i += IN_CHUNK) {
      rows.push(
        ...(await this.db
          .selectFrom("logged_models")
          .selectAll()
          .where("experiment_id", "in", ids.slice(i, i + IN_CHUNK))
          .where("deleted_at", "is", null)
          .execute()),
      );
    }
    rows.sort((a, b) => Number(b.created_at) - Number(a.created_at) || (a.id < b.id ? -1 : 1));
    return this.withKeyValues(rows);
  }

  private async withKeyValues(rows: Selectable<LoggedModelsTable>[]): Promise<LoggedModel[]> {
    const params = new Map<string, KeyValue[]>();
    const tags = new Map<string, KeyValue[]>();
    const ids = rows.map((r) => r.id);
    for (let i = 0; i < ids.length; i += IN_CHUNK) {
      const chunk = ids.slice(i, i + IN_CHUNK);
      for (const [table, into] of [
        ["logged_model_params", params],
        ["logged_model_tags", tags],
      ] as const) {
        const kv = await this.db.selectFrom(table).selectAll().where("model_id", "in", chunk).execute();
        for (const r of kv) {
          const list = into.get(r.model_id) ?? [];
          list.push({ key: r.key, value: r.value });
          into.set(r.model_id, list);
        }
      }
    }
    return rows.map((r) => ({
      id: r.id,
      experimentId: String(r.experiment_id),
      projectId: r.project_id,
      name: r.name,
      modelType: r.model_type,
      sourceRunId: r.source_run_id,
      status: r.status as LoggedModelStatus,
      statusMessage: r.status_message,
      creator: r.creator,
      createdAt: Number(r.created_at),
      updatedAt: Number(r.updated_at),
      artifactLocation: loggedModelArtifactLocation(String(r.experiment_id), r.id),
      params: keyValueRecord(params.get(r.id) ?? []),
      tags: keyValueRecord(tags.get(r.id) ?? []),
    }));
  }

  async update(
    id: string,
    patch: { status?: LoggedModelStatus; statusMessage?: string | null; at: number },
  ): Promise<void> {
    await this.db
      .updateTable("logged_models")
      .set({
        updated_at: patch.at,
        ...(patch.status !== undefined ? { status: patch.status } : {}),
        ...(patch.statusMessage !== undefined ? { status_message: patch.statusMessage } : {}),
      })
      .where("id", "=", id)
      .execute();
  }

  private async upsertKeyValues(
    table: "logged_model_params" | "logged_model_tags",
    id: string,
    values: KeyValue[],
    at: number,
  ): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      for (const kv of values) {
        await tx
          .insertInto(table)
          .values({ model_id: id, key: kv.key, value: kv.value })
          .onConflict((oc) => oc.columns(["model_id", "key"]).doUpdateSet({ value: kv.value }))
          .execute();
      }
      await tx.updateTable("logged_models").set({ updated_at: at }).where("id", "=", id).execute();
    });
  }

  setTags(id: string, tags: KeyValue[], at: number): Promise<void> {
    return this.upsertKeyValues("logged_model_tags", id, tags, at);
  }

  logParams(id: string, params: KeyValue[], at: number): Promise<void> {
    return this.upsertKeyValues("logged_model_params", id, params, at);
  }

  async deleteTag(id: string, key: string, at: number): Promise<boolean> {
    const result = await this.db
      .deleteFrom("logged_model_tags")
      .where("model_id", "=", id)
      .where("key", "=", key)
      .executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) return false;
    await this.db.updateTable("logged_models").set({ updated_at: at }).where("id", "=", id).execute();
    return true;
  }

  async markDeleted(id: string, at: number): Promise<void> {
    await this.db
      .updateTable("logged_models")
      .set({ deleted_at: at, updated_at: at })
      .where("id", "=", id)
      .execute();
  }

  async putArtifact(id: string, a: RunArtifact): Promise<void> {
    await this.db
      .insertInto("logged_model_artifacts")
      .values({ model_id: id, path: a.path, sha256: a.sha256, size: a.size, created_at: a.createdAt })
      .onConflict((oc) =>
        oc
          .columns(["model_id", "path"])
          .doUpdateSet({ sha256: a.sha256, size: a.size, created_at: a.createdAt }),
      )
      .execute();
  }

  async findArtifact(id: string, path: string): Promise<RunArtifact | undefined> {
    const row = await this.db
      .selectFrom("logged_model_artifacts")
      .selectAll()
      .where("model_id", "=", id)
      .where("path", "=", path)
      .executeTakeFirst();
    return row
      ? { path: row.path, sha256: row.sha256, size: Number(row.size), createdAt: Number(row.created_at) }
      : undefined;
  }

  async listArtifacts(id: string, prefix: string): Promise<RunArtifact[]> {
    let q = this.db.selectFrom("logged_model_artifacts").selectAll().where("model_id", "=", id);
    if (prefix !== "") {
      // A key range instead of LIKE: no escaping of % and _ in user paths.
      q = q.where((eb) =>
        eb.or([
          eb("path", "=", prefix),
          eb.and([eb("path", ">=", `${prefix}/`), eb("path", "<", `${prefix}0`)]),
        ]),
      );
    }
    const rows = await q.orderBy("path").execute();
    return rows.map((r) => ({
      path: r.path,
      sha256: r.sha256,
      size: Number(r.size),
      createdAt: Number(r.created_at),
    }));
  }

  async logOutputs(runId: string, outputs: ModelOutput[]): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      for (const o of outputs) {
        await tx
          .insertInto("run_outputs")
          .values({ run_id: runId, model_id: o.modelId, step: o.step })
          .onConflict((oc) => oc.columns(["run_id", "model_id"]).doUpdateSet({ step: o.step }))
          .execute();
      }
    });
  }

  async listOutputs(runId: string): Promise<ModelOutput[]> {
    const rows = await this.db
      .selectFrom("run_outputs")
      .selectAll()
      .where("run_id", "=", runId)
      .orderBy("model_id")
      .execute();
    return rows.map((r) => ({ modelId: r.model_id, step: Number(r.step) }));
  }
}
