import type { ManifestItem, SnapshotManifest } from "../data/manifest.js";

/**
 * What a model version was trained on, as far as its lineage tells (docs/architecture/registry.md): the
 * train and val items of its run's `mlops.dataset_snapshot`, and the ids its run uploaded in
 * `data/training-items.json`. Images are compared by content too, so the same picture imported into
 * another dataset still counts as seen.
 */
export interface TrainingData {
  snapshot: string | null;
  itemIds: Set<string>;
  sha256s: Set<string>;
  /** Where the sets came from, for the record's provenance. */
  sources: string[];
}

/** The items a training job reads from a snapshot: train and val, never holdout (docs/architecture/data.md). */
export function trainingItemsOf(manifest: SnapshotManifest): ManifestItem[] {
  return manifest.items.filter((item) => item.split !== "holdout");
}

export function trainingDataFrom(
  snapshot: string | null,
  manifest: SnapshotManifest | undefined,
  uploadedIds: readonly string[] | undefined,
): TrainingData {
  const data: TrainingData = { snapshot, itemIds: new Set(), sha256s: new Set(), sources: [] };
  if (manifest) {
    for (const item of trainingItemsOf(manifest)) {
      data.itemIds.add(item.id);
      if (item.sha256) data.sha256s.add(item.sha256);
    }
    data.sources.push(`train+val of snapshot ${snapshot}`);
  }
  if (uploadedIds) {
    for (const id of uploadedIds) data.itemIds.add(id);
    data.sources.push("the run's data/training-items.json");
  }
  return data;
}

/** Evaluated items the version was trained on (by item id or by image content). Pure. */
export function trainedOn(training: TrainingData, items: readonly ManifestItem[]): ManifestItem[] {
  return items.filter(
    (item) => training.itemIds.has(item.id) || (item.sha256 !== null && training.sha256s.has(item.sha256)),
  );
}

/** Parses the training example's `data/training-items.json` ({snapshot, train: [ids], val: [ids]}). */
export function parseTrainingItems(text: string): string[] {
  const parsed = JSON.parse(text) as { train?: unknown; val?: unknown };
  const ids: string[] = [];
  for (const list of [parsed.train, parsed.val]) {
    if (!Array.isArray(list)) continue;
    for (const id of list) if (typeof id === "string") ids.push(id);
  }
  return ids;
}
