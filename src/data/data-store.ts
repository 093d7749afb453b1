import type {
  AgreementCounts,
  AgreementRow,
  Dataset,
  DatasetItem,
  Label,
  LabelRevision,
  LabelSource,
  PredictionLink,
  PredictionOutcome,
  Snapshot,
  Split,
} from "./model.js";

export interface DatasetRecord extends Dataset {
  webhookSecretHash: string | null;
}

export type NewItem = Omit<DatasetItem, "externalTaskId">;

export interface NewRevision {
  datasetId: string;
  itemId: string;
  label: Label | null;
  source: LabelSource;
  dedupeKey: string;
  author: string;
  createdAt: number;
  sourceRef: string | null;
  prediction: PredictionLink | null;
  outcome: PredictionOutcome | null;
}

export interface ItemWithLabel {
  item: DatasetItem;
  revision: LabelRevision | null;
}

export interface SnapshotEntry {
  itemId: string;
  revisionId: number;
  split: Split;
}

export interface DatasetStats {
  items: number;
  labeled: number;
  bySplit: Record<Split, number>;
  revisions: number;
}

/** One deployment's predictions of one model version, as the prediction log recorded them. */
export interface ServedAgreementQuery {
  /** The deployment's project: only labels in its datasets count. */
  projectId: string;
  deploymentId: string;
  modelVersionId: string;
  /** `model:version`, as the prediction reported it. */
  modelVersion: string;
  since?: number;
}

export interface AgreementFilter {
  modelVersion?: string;
  deployment?: string;
  datasetId?: string;
  since?: number;
}

/** Persistence for datasets, items, label revisions and snapshots (SQL implementation in store/repositories). */
export interface DataStore {
  /** Throws ConflictError when the project already has a dataset of that name. */
  insertDataset(dataset: DatasetRecord): Promise<void>;
  findDataset(projectId: string, idOrName: string): Promise<DatasetRecord | undefined>;
  findDatasetById(id: string): Promise<DatasetRecord | undefined>;
  listDatasets(projectIds?: string[]): Promise<DatasetRecord[]>;
  updateDataset(
    id: string,
    patch: { classes?: string[]; webhookSecretHash?: string | null; description?: string },
  ): Promise<void>;
  datasetStats(datasetId: string): Promise<DatasetStats>;

  /** Records that a blob was uploaded to this dataset (idempotent). */
  recordBlob(datasetId: string, sha256: string, size: number, at: number): Promise<void>;
  /** The subset of `sha256s` uploaded to this dataset, with sizes. */
  knownBlobs(datasetId: string, sha256s: string[]): Promise<Map<string, number>>;

  /** Insert-or-ignore on (dataset, key) and (dataset, sha256). */
  insertItems(items: NewItem[]): Promise<void>;
  findItemsByKeys(datasetId: string, keys: string[]): Promise<DatasetItem[]>;
  findItemsBySha(datasetId: string, sha256s: string[]): Promise<DatasetItem[]>;
  findItem(datasetId: string, idOrKey: string): Promise<DatasetItem | undefined>;
  /** Items whose id or key is one of `refs`. */
  findItemsByRefs(datasetId: string, refs: string[]): Promise<DatasetItem[]>;
  findItemsByFileName(datasetId: string, fileName: string): Promise<DatasetItem[]>;
  findItemsByUrl(datasetId: string, url: string): Promise<DatasetItem[]>;
  findItemByExternalTask(datasetId: string, taskId: string): Promise<DatasetItem | undefined>;
  setItemExternalTask(itemId: string, taskId: string): Promise<void>;
  /** Items ordered by id, each with its current revision (null if never labeled). */
  listItems(
    datasetId: string,
    options: { split?: Split; after?: string; limit: number },
  ): Promise<ItemWithLabel[]>;

  /** Insert-or-ignore on (dataset, dedupe key); returns how many were new. */
  insertRevisions(revisions: NewRevision[]): Promise<number>;
  findRevisionsByDedupeKeys(datasetId: string, keys: string[]): Promise<LabelRevision[]>;
  revisionsOfItem(itemId: string): Promise<LabelRevision[]>;
  /** Items whose current revision came from `sourceRef` (and is not a tombstone). */
  itemsCurrentlyFrom(datasetId: string, sourceRef: string): Promise<string[]>;
  /** Every item whose current revision is a label (not a tombstone), with that revision. */
  currentLabels(datasetId: string): Promise<Array<{ item: DatasetItem; revision: LabelRevision }>>;

  /** Insert-or-ignore: a snapshot with the same id (same content) already stored is kept as is. */
  insertSnapshot(snapshot: Snapshot, entries: SnapshotEntry[]): Promise<void>;
  /** By full id, or by a unique prefix of at least 8 characters. */
  findSnapshot(idOrPrefix: string): Promise<Snapshot | undefined>;
  listSnapshots(datasetId: string): Promise<Snapshot[]>;
  snapshotEntries(snapshotId: string): Promise<SnapshotEntry[]>;
  /** Whether an item of the snapshot has this image. */
  snapshotHasBlob(snapshotId: string, sha256: string): Promise<boolean>;
  /** Items whose current revision differs from the snapshot's (new labels, changes, deletions). */
  countLabelChangesSince(datasetId: string, snapshotId: string | null): Promise<number>;

  /** Accepted/corrected votes: the latest revision per (model version, prediction). */
  agreement(filter: AgreementFilter): Promise<AgreementRow[]>;
  /** Votes on predictions this deployment issued, from its own project's datasets only (canary analysis). */
  servedAgreement(query: ServedAgreementQuery): Promise<AgreementCounts>;
}
