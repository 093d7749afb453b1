import { describe, expect, it } from "vitest";
import { buildManifest, diffManifests } from "./manifest.js";
import type { DatasetItem, Label, LabelRevision, Split } from "./model.js";

const dataset = {
  id: "d1",
  projectId: "p1",
  name: "pets",
  task: "classification" as const,
  classes: ["cat", "dog"],
};

function entry(id: string, split: Split, revision: number, label: Label | null) {
  const item: DatasetItem = {
    id,
    datasetId: "d1",
    key: `k-${id}`,
    sha256: id.repeat(64).slice(0, 64),
    url: null,
    size: 10,
    sourceName: null,
    fileName: `${id}.png`,
    split,
    externalTaskId: null,
    createdAt: Date.now(),
  };
  const rev: LabelRevision = {
    id: revision,
    datasetId: "d1",
    itemId: id,
    label,
    source: "api",
    author: "a",
    createdAt: Date.now(),
    dedupeKey: `x${revision}`,
    sourceRef: null,
    prediction: null,
    outcome: null,
  };
  return { item, revision: rev };
}

describe("snapshot manifests", () => {
  it("are byte-identical for the same content, in any input order, and hash differently otherwise", () => {
    const a = [entry("b", "train", 2, { class: "cat" }), entry("a", "holdout", 1, { class: "dog" })];
    const first = buildManifest(dataset, a);
    const second = buildManifest(dataset, [...a].reverse());
    expect(second.sha256).toBe(first.sha256);
    expect(first.manifest.items.map((i) => i.id)).toEqual(["a", "b"]);
    expect(first.manifest.splitCounts).toEqual({ train: 1, val: 0, holdout: 1 });
    expect(buildManifest(dataset, [entry("b", "train", 3, { class: "cat" }), a[1]]).sha256).not.toBe(
      first.sha256,
    );
    expect(buildManifest({ ...dataset, classes: ["cat", "dog", "fox"] }, a).sha256).not.toBe(first.sha256);
    // Tombstoned items are not in a snapshot.
    expect(buildManifest(dataset, [...a, entry("c", "val", 4, null)]).sha256).toBe(first.sha256);
  });

  it("diff reports added, removed and relabeled items", () => {
    const before = buildManifest(dataset, [
      entry("a", "train", 1, { class: "cat" }),
      entry("b", "val", 2, { class: "cat" }),
      entry("c", "train", 3, { class: "dog" }),
    ]);
    const after = buildManifest(dataset, [
      entry("a", "train", 4, { class: "dog" }),
      entry("c", "train", 5, { class: "dog" }),
      entry("d", "holdout", 6, { class: "cat" }),
    ]);
    const diff = diffManifests("x", before.manifest, "y", after.manifest);
    expect(diff.added.map((i) => i.id)).toEqual(["d"]);
    expect(diff.removed.map((i) => i.id)).toEqual(["b"]);
    expect(diff.relabeled).toEqual([{ id: "a", key: "k-a", from: { class: "cat" }, to: { class: "dog" } }]);
    expect(diff.revised).toBe(1);
    expect(diff.unchanged).toBe(0);
  });
});
