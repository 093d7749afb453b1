import type { Selectable } from "kysely";
import type {
  AgreementFilter,
  DataStore,
  DatasetRecord,
  DatasetStats,
  ItemWithLabel,
  NewItem,
  NewRevision,
  ServedAgreementQuery,
} from "../../data/data-store.js";
import type {
  AgreementCounts,
  AgreementRow,
  DatasetItem,
  DatasetTask,
  Label,
  LabelRevision,
  LabelSource,
  PredictionOutcome,
  Split,
  SplitFractions,
} from "../../data/model.js";
import { ConflictError } from "../../errors.js";
import type { Store } from "../open-store.js";
import type { DatasetItemsTable, DatasetsTable, LabelRevisionsTable } from "../tables/data.js";
import { SqlSnapshotQueries } from "./data-snapshots.js";
import { servedAgreementCounts } from "./agreement-query.js";

/** Rows per INSERT: well under both databases' bind-parameter limits. */
const CHUNK = 200;

export class SqlDataStore extends SqlSnapshotQueries implements DataStore {
  constructor(store: Store) {
    super(store);
  }

  async insertDataset(d: DatasetRecord): Promise<void> {
    try {
      await this.db
        .insertInto("datasets")
        .values({
          id: d.id,
          project_id: d.projectId,
          name: d.name,
          description: d.description,
          task: d.task,
          classes: JSON.stringify(d.classes),
          split_fractions: JSON.stringify(d.splitFractions),
          webhook_secret_hash: d.webhookSecretHash,
          created_at: d.createdAt,
          created_by: d.createdBy,
        })
        .execute();
    } catch (err) {
      if (this.store.dialect.isUniqueViolation(err))
        throw new ConflictError(`dataset ${d.name} already exists`);
      throw err;
    }
  }

  async findDataset(projectId: string, idOrName: string): Promise<DatasetRecord | undefined> {
    const row = await this.db
      .selectFrom("datasets")
      .selectAll()
      .where("project_id", "=", projectId)
      .where((eb) => eb.or([eb("id", "=", idOrName), eb("name", "=", idOrName)]))
      .executeTakeFirst();
    return row ? toDataset(row) : undefined;
  }

  async findDatasetById(id: string): Promise<DatasetRecord | undefined> {
    const row = await this.db.selectFrom("datasets").selectAll().where("id", "=", id).executeTakeFirst();
    return row ? toDataset(row) : undefined;
  }

  async listDatasets(projectIds?: string[]): Promise<DatasetRecord[]> {
    if (projectIds && projectIds.length === 0) return [];
    let q = this.db.selectFrom("datasets").selectAll();
    if (projectIds) q = q.where("project_id", "in", projectIds);
    return (await q.orderBy("name").execute()).map(toDataset);
  }

  async updateDataset(
    id: string,
    patch: { classes?: string[]; webhookSecretHash?: string | null; description?: string },
  ): Promise<void> {
    const set: { classes?: string; webhook_secret_hash?: string | null; description?: string } = {};
    if (patch.classes) set.classes = JSON.stringify(patch.classes);
    if (patch.webhookSecretHash !== undefined) set.webhook_secret_hash = patch.webhookSecretHash;
    if (patch.description !== undefined) set.description = patch.description;
    if (Object.keys(set).length > 0)
      await this.db.updateTable("datasets").set(set).where("id", "=", id).execute();
  }

  async datasetStats(datasetId: string): Promise<DatasetStats> {
    const splits = await this.db
      .selectFrom("dataset_items")
      .select(["split", (eb) => eb.fn.countAll<number>().as("n")])
      .where("dataset_id", "=", datasetId)
      .groupBy("split")
      .execute();
    const bySplit: Record<Split, number> = { train: 0, val: 0, holdout: 0 };
    for (const row of splits) bySplit[row.split as Split] = Number(row.n);
    const labeled = (await this.currentLabels(datasetId)).length;
    const revisions = await this.db
      .selectFrom("label_revisions")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("dataset_id", "=", datasetId)
      .executeTakeFirstOrThrow();
    return {
      items: bySplit.train + bySplit.val + bySplit.holdout,
      labeled,
      bySplit,
      revisions: Number(revisions.n),
    };
  }

  async recordBlob(datasetId: string, sha256: string, size: number, at: number): Promise<void> {
    await this.db
      .insertInto("dataset_blobs")
      .values({ dataset_id: datasetId, sha256, size, created_at: at })
      .onConflict((oc) => oc.doNothing())
      .execute();
  }

  async knownBlobs(datasetId: string, sha256s: string[]): Promise<Map<string, number>> {
    const known = new Map<string, number>();
    for (const chunk of chunks(sha256s)) {
      const rows = await this.db
        .selectFrom("dataset_blobs")
        .select(["sha256", "size"])
        .where("dataset_id", "=", datasetId)
        .where("sha256", "in", chunk)
        .execute();
      for (const r of rows) known.set(r.sha256, Number(r.size));
    }
    return known;
  }

  async insertItems(items: NewItem[]): Promise<void> {
    for (const chunk of chunks(items)) {
      await this.db
        .insertInto("dataset_items")
        .values(
          chunk.map((i) => ({
            id: i.id,
            dataset_id: i.datasetId,
            key: i.key,
            sha256: i.sha256,
            url: i.url,
            size: i.size,
            source_name: i.sourceName,
            file_name: i.fileName,
            split: i.split,
            external_task_id: null,
            created_at: i.createdAt,
          })),
        )
        .onConflict((oc) => oc.doNothing())
        .execute();
    }
  }

  async findItemsByKeys(datasetId: string, keys: string[]): Promise<DatasetItem[]> {
    const out: DatasetItem[] = [];
    for (const chunk of chunks(keys)) {
      const rows = await this.items(datasetId).where("key", "in", chunk).execute();
      out.push(...rows.map(toItem));
    }
    return out;
  }

  async findItemsBySha(datasetId: string, sha256s: string[]): Promise<DatasetItem[]> {
    const out: DatasetItem[] = [];
    for (const chunk of chunks(sha256s)) {
      const rows = await this.items(datasetId).where("sha256", "in", chunk).execute();
      out.push(...rows.map(toItem));
    }
    return out;
  }

  async findItem(datasetId: string, idOrKey: string): Promise<DatasetItem | undefined> {
    const rows = await this.items(datasetId)
      .where((eb) => eb.or([eb("id", "=", idOrKey), eb("key", "=", idOrKey)]))
      .execute();
    // An id wins over a key that happens to look the same.
    const row = rows.find((r) => r.id === idOrKey) ?? rows[0];
    return row ? toItem(row) : undefined;
  }

  async findItemsByRefs(datasetId: string, refs: string[]): Promise<DatasetItem[]> {
    const out = new Map<string, DatasetItem>();
    for (const chunk of chunks(refs)) {
      const rows = await this.items(datasetId)
        .where((eb) => eb.or([eb("id", "in", chunk), eb("key", "in", chunk)]))
        .execute();
      for (const r of rows) out.set(r.id, toItem(r));
    }
    return [...out.values()];
  }

  async findItemsByFileName(datasetId: string, fileName: string): Promise<DatasetItem[]> {
    return (await this.items(datasetId).where("file_name", "=", fileName).limit(50).execute()).map(toItem);
  }

  async findItemsByUrl(datasetId: string, url: string): Promise<DatasetItem[]> {
    return (await this.items(datasetId).where("url", "=", url).limit(2).execute()).map(toItem);
  }

  async findItemByExternalTask(datasetId: string, taskId: string): Promise<DatasetItem | undefined> {
    const row = await this.items(datasetId).where("external_task_id", "=", taskId).executeTakeFirst();
    return row ? toItem(row) : undefined;
  }

  async setItemExternalTask(itemId: string, taskId: string): Promise<void> {
    await this.db
      .updateTable("dataset_items")
      .set({ external_task_id: taskId })
      .where("id", "=", itemId)
      .where("external_task_id", "is", null)
      .execute();
  }

  async listItems(
    datasetId: string,
    options: { split?: Split; after?: string; limit: number },
  ): Promise<ItemWithLabel[]> {
    let q = this.items(datasetId);
    if (options.split) q = q.where("split", "=", options.split);
    if (options.after) q = q.where("id", ">", options.after);
    const items = (await q.orderBy("id").limit(options.limit).execute()).map(toItem);
    const current = await this.currentRevisionsOf(items.map((i) => i.id));
    return items.map((item) => ({ item, revision: current.get(item.id) ?? null }));
  }

  async insertRevisions(revisions: NewRevision[]): Promise<number> {
    let inserted = 0;
    for (const chunk of chunks(revisions)) {
      const result = await this.db
        .insertInto("label_revisions")
        .values(
          chunk.map((r) => ({
            dataset_id: r.datasetId,
            item_id: r.itemId,
            label: r.label === null ? null : JSON.stringify(r.label),
            source: r.source,
            dedupe_key: r.dedupeKey,
            author: r.author,
            created_at: r.createdAt,
            source_ref: r.sourceRef,
            prediction_id: r.prediction?.predictionId ?? null,
            predicted_label: r.prediction?.predictedLabel
              ? JSON.stringify(r.prediction.predictedLabel)
              : null,
            model_version: r.prediction?.modelVersion ?? null,
            deployment: r.prediction?.deployment ?? null,
            prediction_key: r.prediction ? (r.prediction.predictionId ?? `item:${r.itemId}`) : null,
            outcome: r.outcome,
          })),
        )
        .onConflict((oc) => oc.doNothing())
        .executeTakeFirst();
      inserted += Number(result.numInsertedOrUpdatedRows ?? 0);
    }
    return inserted;
  }

  async findRevisionsByDedupeKeys(datasetId: string, keys: string[]): Promise<LabelRevision[]> {
    const out: LabelRevision[] = [];
    for (const chunk of chunks(keys)) {
      const rows = await this.db
        .selectFrom("label_revisions")
        .selectAll()
        .where("dataset_id", "=", datasetId)
        .where("dedupe_key", "in", chunk)
        .execute();
      out.push(...rows.map(toRevision));
    }
    return out;
  }

  async revisionsOfItem(itemId: string): Promise<LabelRevision[]> {
    const rows = await this.db
      .selectFrom("label_revisions")
      .selectAll()
      .where("item_id", "=", itemId)
      .orderBy("id")
      .execute();
    return rows.map(toRevision);
  }

  async itemsCurrentlyFrom(datasetId: string, sourceRef: string): Promise<string[]> {
    const candidates = await this.db
      .selectFrom("label_revisions")
      .select("item_id")
      .distinct()
      .where("dataset_id", "=", datasetId)
      .where("source_ref", "=", sourceRef)
      .execute();
    const current = await this.currentRevisionsOf(candidates.map((c) => c.item_id));
    return [...current.values()]
      .filter((r) => r.sourceRef === sourceRef && r.label !== null)
      .map((r) => r.itemId);
  }

  async currentLabels(datasetId: string): Promise<Array<{ item: DatasetItem; revision: LabelRevision }>> {
    const revisions = await this.db
      .selectFrom("label_revisions")
      .selectAll()
      .where("id", "in", (eb) =>
        eb
          .selectFrom("label_revisions")
          .select((e) => e.fn.max("id").as("rev"))
          .where("dataset_id", "=", datasetId)
          .groupBy("item_id"),
      )
      .where("label", "is not", null)
      .execute();
    if (revisions.length === 0) return [];
    const items = new Map((await this.items(datasetId).execute()).map((r) => [r.id, toItem(r)]));
    const out: Array<{ item: DatasetItem; revision: LabelRevision }> = [];
    for (const row of revisions) {
      const item = items.get(row.item_id);
      if (item) out.push({ item, revision: toRevision(row) });
    }
    return out;
  }

  servedAgreement(query: ServedAgreementQuery): Promise<AgreementCounts> {
    return servedAgreementCounts(this.db, query);
  }

  async agreement(filter: AgreementFilter): Promise<AgreementRow[]> {
    let q = this.db
      .selectFrom("label_revisions as r")
      .select(["r.model_version", "r.deployment", "r.outcome", (eb) => eb.fn.countAll<number>().as("n")])
      .where("r.outcome", "is not", null)
      .where("r.model_version", "is not", null)
      // One vote per prediction: the latest revision that answered it.
      .where("r.id", "=", (eb) =>
        eb
          .selectFrom("label_revisions as r2")
          .select((e) => e.fn.max("r2.id").as("latest"))
          .whereRef("r2.model_version", "=", "r.model_version")
          .whereRef("r2.prediction_key", "=", "r.prediction_key")
          .where("r2.outcome", "is not", null),
      );
    if (filter.modelVersion !== undefined) q = q.where("r.model_version", "=", filter.modelVersion);
    if (filter.deployment !== undefined) q = q.where("r.deployment", "=", filter.deployment);
    if (filter.datasetId !== undefined) q = q.where("r.dataset_id", "=", filter.datasetId);
    if (filter.since !== undefined) q = q.where("r.created_at", ">=", filter.since);
    const rows = await q.groupBy(["r.model_version", "r.deployment", "r.outcome"]).execute();
    const byKey = new Map<string, AgreementRow>();
    for (const row of rows) {
      const key = `${row.model_version}\u0000${row.deployment ?? ""}`;
      const entry = byKey.get(key) ?? {
        modelVersion: row.model_version as string,
        deployment: row.deployment,
        accepted: 0,
        corrected: 0,
        total: 0,
        agreement: 0,
      };
      if (row.outcome === "accepted") entry.accepted += Number(row.n);
      else entry.corrected += Number(row.n);
      entry.total = entry.accepted + entry.corrected;
      entry.agreement = entry.total === 0 ? 0 : entry.accepted / entry.total;
      byKey.set(key, entry);
    }
    return [...byKey.values()].sort(
      (a, b) =>
        a.modelVersion.localeCompare(b.modelVersion) ||
        (a.deployment ?? "").localeCompare(b.deployment ?? ""),
    );
  }

  private items(datasetId: string) {
    return this.db.selectFrom("dataset_items").selectAll().where("dataset_id", "=", datasetId);
  }

  private async currentRevisionsOf(itemIds: string[]): Promise<Map<string, LabelRevision>> {
    const out = new Map<string, LabelRevision>();
    for (const chunk of chunks(itemIds)) {
      const rows = await this.db
        .selectFrom("label_revisions")
        .selectAll()
        .where("id", "in", (eb) =>
          eb
            .selectFrom("label_revisions")
            .select((e) => e.fn.max("id").as("rev"))
            .where("item_id", "in", chunk)
            .groupBy("item_id"),
        )
        .execute();
      for (const row of rows) out.set(row.item_id, toRevision(row));
    }
    return out;
  }
}

function* chunks<T>(values: T[]): Generator<T[]> {
  for (let i = 0; i < values.length; i += CHUNK) yield values.slice(i, i + CHUNK);
}

function toDataset(r: Selectable<DatasetsTable>): DatasetRecord {
  return {
    id: r.id,
    projectId: r.project_id,
    name: r.name,
    description: r.description,
    task: r.task as DatasetTask,
    classes: JSON.parse(r.classes) as string[],
    splitFractions: JSON.parse(r.split_fractions) as SplitFractions,
    hasWebhookSecret: r.webhook_secret_hash !== null,
    webhookSecretHash: r.webhook_secret_hash,
    createdAt: Number(r.created_at),
    createdBy: r.created_by,
  };
}

export function toItem(r: Selectable<DatasetItemsTable>): DatasetItem {
  return {
    id: r.id,
    datasetId: r.dataset_id,
    key: r.key,
    sha256: r.sha256,
    url: r.url,
    size: r.size === null ? null : Number(r.size),
    sourceName: r.source_name,
    fileName: r.file_name,
    split: r.split as Split,
    externalTaskId: r.external_task_id,
    createdAt: Number(r.created_at),
  };
}

export function toRevision(r: Selectable<LabelRevisionsTable>): LabelRevision {
  const linked = r.prediction_id !== null || r.model_version !== null;
  return {
    id: Number(r.id),
    datasetId: r.dataset_id,
    itemId: r.item_id,
    label: r.label === null ? null : (JSON.parse(r.label) as Label),
    source: r.source as LabelSource,
    author: r.author,
    createdAt: Number(r.created_at),
    dedupeKey: r.dedupe_key,
    sourceRef: r.source_ref,
    prediction: linked
      ? {
          predictionId: r.prediction_id,
          modelVersion: r.model_version,
          deployment: r.deployment,
          predictedLabel: r.predicted_label === null ? null : (JSON.parse(r.predicted_label) as Label),
        }
      : null,
    outcome: r.outcome as PredictionOutcome | null,
  };
}
