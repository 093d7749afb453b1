import { describe, expect, it } from "vitest";
import type { BatchResult } from "./batch.js";
import { toCoco, toLabelStudioTask } from "./exports.js";

const detector = {
  id: "b1",
  task: "detection" as const,
  classes: ["cat", "dog"],
  modelName: "det",
  modelVersion: 3,
};

const detected: BatchResult = {
  position: 4,
  chunkIndex: 0,
  key: "a/x.png",
  itemId: "item-1",
  createdAt: 1,
  prediction: {
    task: "detection",
    width: 200,
    height: 100,
    boxes: [{ label: "dog", score: 0.8, x1: 0.1, y1: 0.2, x2: 0.6, y2: 0.7 }],
  },
};

describe("batch exports", () => {
  it("writes Label Studio rectanglelabels in percent, with the model version and the prediction id", () => {
    const task = toLabelStudioTask(detector, detected, { imageOf: (r) => `/img/${r.key}` });
    expect(task.data).toEqual({ image: "/img/a/x.png", mlops_key: "a/x.png", mlops_item_id: "item-1" });
    const p = task.predictions[0];
    expect(p.model_version).toBe("det:3");
    expect(p.score).toBeCloseTo(0.8);
    expect(p.result[0]).toMatchObject({
      from_name: "label",
      to_name: "image",
      type: "rectanglelabels",
      original_width: 200,
      original_height: 100,
      meta: { mlops_prediction_id: "batch:b1:4" },
    });
    const value = p.result[0].value as Record<string, number>;
    expect([value.x, value.y, value.width, value.height].map((v) => Number(v.toFixed(6)))).toEqual([
      10, 20, 50, 50,
    ]);
  });

  it("writes COCO boxes in pixels and classification as image-level categories", () => {
    const coco = toCoco(detector, [detected], new Date(0));
    expect(coco.categories).toEqual([
      { id: 1, name: "cat" },
      { id: 2, name: "dog" },
    ]);
    expect(coco.images[0]).toMatchObject({ id: 5, file_name: "a/x.png", width: 200, height: 100 });
    const bbox = coco.annotations[0].bbox?.map((v) => Number(v.toFixed(6)));
    expect(bbox).toEqual([20, 20, 100, 50]);
    expect(coco.annotations[0]).toMatchObject({ image_id: 5, category_id: 2, area: expect.closeTo(5000, 6) });

    const clf = { ...detector, task: "classification" as const };
    const classified: BatchResult = {
      ...detected,
      prediction: { task: "classification", width: 8, height: 8, labels: [{ label: "cat", score: 0.7 }] },
    };
    const doc = toCoco(clf, [classified], new Date(0));
    expect(doc.annotations).toEqual([{ id: 1, image_id: 5, category_id: 1, score: 0.7 }]);
    const task = toLabelStudioTask(clf, classified, { imageOf: () => "x", fromName: "choice" });
    expect(task.predictions[0].result[0]).toMatchObject({ type: "choices", value: { choices: ["cat"] } });
  });

  it("leaves images the worker could not read without predictions", () => {
    const failed: BatchResult = {
      ...detected,
      prediction: { task: "detection", width: 0, height: 0, boxes: [], error: "cannot decode" },
    };
    expect(toLabelStudioTask(detector, failed, { imageOf: () => "x" }).predictions).toEqual([]);
    expect(toCoco(detector, [failed], new Date(0)).annotations).toEqual([]);
  });
});
