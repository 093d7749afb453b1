import type { Generated } from "kysely";

export interface DatasetsTable {
  id: string;
  project_id: string;
  name: string;
  description: string;
  /** classification | detection */
  task: string;
  /** JSON array of class names; append-only so that class indices stay stable. */
  classes: string;
  /** JSON {train, val, holdout}: fractions used to assign splits, fixed at creation. */
  split_fractions: string;
  /** sha256 hex of the Label Studio webhook shared secret, or null. */
  webhook_secret_hash: string | null;
  created_at: number;
  created_by: string;
}

export interface DatasetBlobsTable {
  dataset_id: string;
  sha256: string;
  size: number;
  created_at: number;
}

export interface DatasetItemsTable {
  id: string;
  dataset_id: string;
  /** Stable identity: client-supplied external id, the content sha256, or `url-<sha256(url)>`. */
  key: string;
  sha256: string | null;
  url: string | null;
  size: number | null;
  /** Path as imported (`cat/001.png`), for matching a labeling tool's task to the item. */
  source_name: string | null;
  /** Basename of source_name or of the URL path. */
  file_name: string | null;
  split: string;
  /** The labeling tool's task id, learned on the first webhook that matched this item. */
  external_task_id: string | null;
  created_at: number;
}

export interface LabelRevisionsTable {
  id: Generated<number>;
  dataset_id: string;
  item_id: string;
  /** JSON label; null for a tombstone (deletion). */
  label: string | null;
  source: string;
  /** Unique per dataset: what makes a re-delivery a no-op. */
  dedupe_key: string;
  author: string;
  created_at: number;
  /** The labeling tool's annotation (`label-studio:annotation:17`), when there is one. */
  source_ref: string | null;
  prediction_id: string | null;
  /** JSON label the served model predicted. */
  predicted_label: string | null;
  model_version: string | null;
  deployment: string | null;
  /** prediction_id, or `item:<item id>` when the prediction has no id: one agreement vote per key. */
  prediction_key: string | null;
  /** accepted | corrected; null when no prediction is linked or for a tombstone. */
  outcome: string | null;
}

export interface DatasetSnapshotsTable {
  /** sha256 of the canonical manifest bytes (also the manifest's artifact blob). */
  id: string;
  dataset_id: string;
  item_count: number;
  /** JSON {train, val, holdout}. */
  split_counts: string;
  manifest_size: number;
  created_at: number;
  created_by: string;
}

export interface SnapshotItemsTable {
  snapshot_id: string;
  item_id: string;
  revision_id: number;
  split: string;
}

export interface DataTables {
  datasets: DatasetsTable;
  dataset_blobs: DatasetBlobsTable;
  dataset_items: DatasetItemsTable;
  label_revisions: LabelRevisionsTable;
  dataset_snapshots: DatasetSnapshotsTable;
  snapshot_items: SnapshotItemsTable;
}
