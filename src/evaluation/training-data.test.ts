import { describe, expect, it } from "vitest";
import type { ManifestItem, SnapshotManifest } from "../data/manifest.js";
import { parseTrainingItems, trainedOn, trainingDataFrom } from "./training-data.js";

const item = (id: string, sha: string | null, split: ManifestItem["split"]): ManifestItem => ({
  id,
  key: `k-${id}`,
  sha256: sha,
  url: null,
  size: 1,
  fileName: null,
  split,
  revision: 1,
  label: { class: "a" },
});
const manifest = (items: ManifestItem[]): SnapshotManifest => ({
  format: "mlops-snapshot/1",
  dataset: { id: "d", projectId: "p", name: "d", task: "classification", classes: ["a"] },
  splitCounts: { train: 0, val: 0, holdout: 0 },
  items,
});

describe("training data of a version", () => {
  const training = trainingDataFrom(
    "s",
    manifest([item("t1", "aa", "train"), item("v1", "bb", "val"), item("h1", "cc", "holdout")]),
    ["x9"],
  );

  it("is the train and val items of the run's snapshot plus the uploaded ids, never holdout", () => {
    expect([...training.itemIds].sort()).toEqual(["t1", "v1", "x9"]);
    expect([...training.sha256s].sort()).toEqual(["aa", "bb"]);
    expect(training.sources).toHaveLength(2);
  });

  it("finds evaluated items seen in training by id or by image content", () => {
    const evaluated = [
      item("h1", "cc", "holdout"),
      item("other", "bb", "holdout"),
      item("x9", null, "holdout"),
    ];
    expect(trainedOn(training, evaluated).map((i) => i.id)).toEqual(["other", "x9"]);
  });

  it("reads the training example's training-items.json", () => {
    expect(parseTrainingItems('{"snapshot":"s","train":["a","b"],"val":["c"],"junk":[1]}')).toEqual([
      "a",
      "b",
      "c",
    ]);
    expect(parseTrainingItems('{"train":"nope"}')).toEqual([]);
  });
});
