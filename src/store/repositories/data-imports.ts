import { type Selectable, sql } from "kysely";
import type { ImportSession, ImportSessionStore } from "../../data/import-sessions.js";
import type { Store } from "../open-store.js";
import type { DatasetImportsTable } from "../tables/data-imports.js";

export class SqlImportSessionStore implements ImportSessionStore {
  constructor(private readonly store: Store) {}

  private get db() {
    return this.store.db;
  }

  async insertImport(s: ImportSession): Promise<void> {
    await this.db
      .insertInto("dataset_imports")
      .values({
        id: s.id,
        dataset_id: s.datasetId,
        source: s.source,
        items: s.items,
        started_at: s.startedAt,
        last_activity_at: s.lastActivityAt,
        finished_at: s.finishedAt,
        created_by: s.createdBy,
      })
      .execute();
  }

  async touchImport(id: string, items: number, at: number): Promise<boolean> {
    const result = await this.db
      .updateTable("dataset_imports")
      .set({ items: sql<number>`items + ${Math.max(0, Math.floor(items))}`, last_activity_at: at })
      .where("id", "=", id)
      .where("finished_at", "is", null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async finishImport(id: string, at: number): Promise<boolean> {
    const result = await this.db
      .updateTable("dataset_imports")
      .set({ finished_at: at, last_activity_at: at })
      .where("id", "=", id)
      .where("finished_at", "is", null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async getImport(id: string): Promise<ImportSession | undefined> {
    const row = await this.db
      .selectFrom("dataset_imports")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirst();
    return row ? toSession(row) : undefined;
  }

  async openImports(datasetId: string, activeSince: number): Promise<ImportSession[]> {
    const rows = await this.db
      .selectFrom("dataset_imports")
      .selectAll()
      .where("dataset_id", "=", datasetId)
      .where("finished_at", "is", null)
      .where("last_activity_at", ">=", activeSince)
      .orderBy("started_at")
      .execute();
    return rows.map(toSession);
  }

  async lastLabelChangeAt(datasetId: string): Promise<number | null> {
    const row = await this.db
      .selectFrom("label_revisions")
      .select((eb) => eb.fn.max("created_at").as("at"))
      .where("dataset_id", "=", datasetId)
      .executeTakeFirst();
    return row?.at === null || row?.at === undefined ? null : Number(row.at);
  }
}

function toSession(r: Selectable<DatasetImportsTable>): ImportSession {
  return {
    id: r.id,
    datasetId: r.dataset_id,
    source: r.source,
    items: Number(r.items),
    startedAt: Number(r.started_at),
    lastActivityAt: Number(r.last_activity_at),
    finishedAt: r.finished_at === null ? null : Number(r.finished_at),
    createdBy: r.created_by,
  };
}
