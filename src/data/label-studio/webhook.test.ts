import { describe, expect, it } from "vitest";
import { labelFromLabelStudioResult } from "./results.js";
import { parseLabelStudioWebhook, predictionLinkOf } from "./webhook.js";

describe("Label Studio mapping", () => {
  it("maps choices and percent rectangles, including rotated ones, to labels", () => {
    expect(
      labelFromLabelStudioResult("classification", [{ type: "choices", value: { choices: ["cat"] } }]),
    ).toEqual({ class: "cat" });
    expect(labelFromLabelStudioResult("classification", [{ type: "textarea", value: {} }])).toBeNull();
    const rect = (rotation: number) => ({
      type: "rectanglelabels",
      original_width: 100,
      original_height: 100,
      value: { x: 50, y: 10, width: 20, height: 10, rotation, rectanglelabels: ["dog"] },
    });
    expect(labelFromLabelStudioResult("detection", [rect(0)])).toEqual({
      boxes: [{ x: 0.5, y: 0.1, w: 0.2, h: 0.1, label: "dog" }],
    });
    // Rotated 90 degrees clockwise around its top-left corner: it now spans x 40..50, y 10..30.
    const [rotated] = (
      labelFromLabelStudioResult("detection", [rect(90)]) as unknown as {
        boxes: Array<Record<string, number>>;
      }
    ).boxes;
    expect(rotated.x).toBeCloseTo(0.4);
    expect(rotated.y).toBeCloseTo(0.1);
    expect(rotated.w).toBeCloseTo(0.1);
    expect(rotated.h).toBeCloseTo(0.2);
    expect(() =>
      labelFromLabelStudioResult("detection", [{ type: "rectanglelabels", value: { x: 1 } }]),
    ).toThrow(/rectanglelabels/);
  });

  it("parses the documented payloads and rejects others", () => {
    const created = parseLabelStudioWebhook({
      action: "ANNOTATION_CREATED",
      annotation: { id: 17, result: [], task: 19, completed_by: 1, updated_at: "2021-08-17T13:52:48Z" },
      project: { id: 2 },
    });
    expect(created).toMatchObject({
      kind: "annotation",
      annotationId: "17",
      author: "label-studio:user:1",
      task: { taskId: "19", itemRef: null, image: null },
    });
    expect(
      parseLabelStudioWebhook({ action: "ANNOTATIONS_DELETED", annotations: [{ id: 17 }, { id: 18 }] }),
    ).toEqual({ kind: "delete", annotationIds: ["17", "18"] });
    expect(() => parseLabelStudioWebhook({ action: "TASKS_CREATED", tasks: [] })).toThrow(/unsupported/);
    expect(() => parseLabelStudioWebhook({ action: "ANNOTATION_CREATED", annotation: { id: 1 } })).toThrow(
      /result/,
    );
    expect(() => parseLabelStudioWebhook(null)).toThrow(/object/);
  });

  it("finds our prediction id and model version where the ML backend put them", () => {
    const result = [{ id: "r", type: "choices", value: { choices: ["cat"] } }];
    expect(predictionLinkOf({ model_version: "pets:3#pred-9", result }, "classification")).toEqual({
      predictionId: "pred-9",
      modelVersion: "pets:3",
      deployment: null,
      predictedLabel: { class: "cat" },
    });
    expect(
      predictionLinkOf(
        { model_version: "pets:3", meta: { mlops_prediction_id: "p1", deployment: "d" }, result },
        "classification",
      ),
    ).toMatchObject({ predictionId: "p1", deployment: "d" });
    const uuid = "0b7c9d8e-1f2a-4b3c-8d4e-5f6a7b8c9d0e";
    expect(
      predictionLinkOf({ model_version: "m:1", result: [{ ...result[0], id: uuid }] }, "classification")
        ?.predictionId,
    ).toBe(uuid);
    // A region id Label Studio generated is not ours.
    expect(
      predictionLinkOf(
        { model_version: "m:1", result: [{ ...result[0], id: "5dC-jDgBtG" }] },
        "classification",
      )?.predictionId,
    ).toBeNull();
    expect(predictionLinkOf({}, "classification")).toBeNull();
  });
});
