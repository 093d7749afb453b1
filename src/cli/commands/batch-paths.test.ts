import { describe, expect, it } from "vitest";
import { defaultCocoPath } from "./batch.js";

describe("batch-predict --out FILE: where the COCO JSON goes (README.md, CLI)", () => {
  it.each([
    ["tasks.json", "tasks.coco.json"],
    ["out/tasks.JSON", "out/tasks.coco.json"],
    ["preds", "preds.coco.json"],
    ["preds.txt", "preds.txt.coco.json"],
    ["a.json.json", "a.json.coco.json"],
  ])("%s -> %s", (out, coco) => {
    expect(defaultCocoPath(out)).toBe(coco);
  });
});
