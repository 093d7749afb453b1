import { canonicalJson, sha256Hex } from "./canonical-json.js";
import type { SnapshotEntry } from "./data-store.js";
import { labelsEqual } from "./labels.js";
import type { Dataset, DatasetItem, Label, LabelRevision, Split, SplitCounts } from "./model.js";

export const MANIFEST_FORMAT = "mlops-snapshot/1";

export interface ManifestItem {
  id: string;
  key: string;
  sha256: string | null;
  url: string | null;
  size: number | null;
  fileName: string | null;
  split: Split;
  revision: number;
  label: Label;
}

/** What a training run saw: the snapshot id is the sha256 of this document's canonical bytes. */
export interface SnapshotManifest {
  format: typeof MANIFEST_FORMAT;
  dataset: { id: string; projectId: string; name: string; task: Dataset["task"]; classes: string[] };
  splitCounts: SplitCounts;
  items: ManifestItem[];
}

export interface BuiltManifest {
  manifest: SnapshotManifest;
  bytes: Buffer;
  sha256: string;
  entries: SnapshotEntry[];
}

/** Deterministic: the same items and label revisions give byte-identical manifests, hence the same id. */
export function buildManifest(
  dataset: Pick<Dataset, "id" | "projectId" | "name" | "task" | "classes">,
  labeled: Array<{ item: DatasetItem; revision: LabelRevision }>,
): BuiltManifest {
  const items: ManifestItem[] = labeled
    .filter((l) => l.revision.label !== null)
    .map(({ item, revision }) => ({
      id: item.id,
      key: item.key,
      sha256: item.sha256,
      url: item.url,
      size: item.size,
      fileName: item.fileName,
      split: item.split,
      revision: revision.id,
      label: revision.label as Label,
    }))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const splitCounts: SplitCounts = { train: 0, val: 0, holdout: 0 };
  for (const item of items) splitCounts[item.split]++;
  const manifest: SnapshotManifest = {
    format: MANIFEST_FORMAT,
    dataset: {
      id: dataset.id,
      projectId: dataset.projectId,
      name: dataset.name,
      task: dataset.task,
      classes: [...dataset.classes],
    },
    splitCounts,
    items,
  };
  const bytes = Buffer.from(canonicalJson(manifest), "utf8");
  return {
    manifest,
    bytes,
    sha256: sha256Hex(bytes),
    entries: items.map((i) => ({ itemId: i.id, revisionId: i.revision, split: i.split })),
  };
}

/** Items of one split, for a training job: `train` and `val` never contain holdout items by construction. */
export function itemsOfSplit(manifest: SnapshotManifest, split: Split): ManifestItem[] {
  return manifest.items.filter((i) => i.split === split);
}

export interface SnapshotDiff {
  from: string;
  to: string;
  added: Array<{ id: string; key: string; label: Label }>;
  removed: Array<{ id: string; key: string; label: Label }>;
  relabeled: Array<{ id: string; key: string; from: Label; to: Label }>;
  /** Same label content under a newer revision (e.g. a labeler confirmed it). */
  revised: number;
  unchanged: number;
  classesAdded: string[];
}

export function diffManifests(
  fromId: string,
  a: SnapshotManifest,
  toId: string,
  b: SnapshotManifest,
): SnapshotDiff {
  const before = new Map(a.items.map((i) => [i.id, i]));
  const after = new Map(b.items.map((i) => [i.id, i]));
  const diff: SnapshotDiff = {
    from: fromId,
    to: toId,
    added: [],
    removed: [],
    relabeled: [],
    revised: 0,
    unchanged: 0,
    classesAdded: b.dataset.classes.filter((c) => !a.dataset.classes.includes(c)),
  };
  for (const item of b.items) {
    const old = before.get(item.id);
    if (!old) diff.added.push({ id: item.id, key: item.key, label: item.label });
    else if (!labelsEqual(old.label, item.label))
      diff.relabeled.push({ id: item.id, key: item.key, from: old.label, to: item.label });
    else if (old.revision !== item.revision) diff.revised++;
    else diff.unchanged++;
  }
  for (const item of a.items) {
    if (!after.has(item.id)) diff.removed.push({ id: item.id, key: item.key, label: item.label });
  }
  return diff;
}

export function parseManifest(text: string): SnapshotManifest {
  const parsed = JSON.parse(text) as SnapshotManifest;
  if (parsed.format !== MANIFEST_FORMAT || !Array.isArray(parsed.items)) {
    throw new Error(`not a ${MANIFEST_FORMAT} manifest`);
  }
  return parsed;
}
