import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "../errors.js";
import { parseModelDescriptor, parseModelDescriptorText } from "./model-descriptor.js";

const fixtures = path.resolve(import.meta.dirname, "../../test/fixtures/models");

function valid(): Record<string, unknown> {
  return {
    format: "mlops-model/v1",
    task: "classification",
    framework: "pytorch",
    inputName: "input",
    inputShape: [3, 64, 64],
    preprocessing: {
      resize: [64, 64],
      colorSpace: "RGB",
      scale: 1 / 255,
      mean: [0.5, 0.5, 0.5],
      std: [0.5, 0.5, 0.5],
      layout: "NCHW",
    },
    classes: ["circle", "square", "triangle"],
    output: { kind: "logits" },
    created: { by: "test", at: "2024-01-01T00:00:00Z" },
  };
}

function messageOf(json: unknown): string {
  try {
    parseModelDescriptor(json);
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return (err as Error).message;
  }
  throw new Error("expected parseModelDescriptor to throw");
}

describe("parseModelDescriptor", () => {
  it("accepts the documented example and every committed fixture", () => {
    expect(parseModelDescriptor(valid()).classes).toEqual(["circle", "square", "triangle"]);
    for (const name of ["tiny-classifier", "tiny-detector", "slow-classifier"]) {
      const text = readFileSync(path.join(fixtures, name, "model.json"), "utf8");
      expect(parseModelDescriptorText(text).format).toBe("mlops-model/v1");
    }
  });

  it("accepts a detection descriptor with custom output names", () => {
    const d = parseModelDescriptor({
      ...valid(),
      task: "detection",
      output: { kind: "detection", scoreThreshold: 0.3, boxes: "b", scores: "s", labels: "l" },
    });
    expect(d.output).toMatchObject({ kind: "detection", boxes: "b" });
  });

  it("names the offending field", () => {
    expect(messageOf({ ...valid(), format: "v2" })).toMatch(/\/format/);
    expect(messageOf({ ...valid(), inputShape: [3, 64] })).toMatch(/\/inputShape/);
    expect(messageOf({ ...valid(), classes: [] })).toMatch(/\/classes/);
    expect(messageOf({ ...valid(), extra: 1 })).toMatch(/extra/);
    const { inputName: _drop, ...noInput } = valid();
    expect(messageOf(noInput)).toMatch(/inputName/);
    expect(messageOf({ ...valid(), output: { kind: "softmax" } })).toMatch(/\/output/);
    expect(
      messageOf({ ...valid(), preprocessing: { ...(valid().preprocessing as object), std: [0, 1, 1] } }),
    ).toMatch(/\/preprocessing\/std/);
    expect(messageOf(null)).toMatch(/JSON object/);
    expect(messageOf([1])).toMatch(/JSON object/);
  });

  it("checks rules that span fields", () => {
    const pre = valid().preprocessing as Record<string, unknown>;
    expect(messageOf({ ...valid(), preprocessing: { ...pre, resize: [32, 32] } })).toMatch(/resize/);
    expect(messageOf({ ...valid(), preprocessing: { ...pre, mean: [0.5] } })).toMatch(/3 entries/);
    expect(messageOf({ ...valid(), preprocessing: { ...pre, colorSpace: "GRAY" } })).toMatch(/GRAY/);
    expect(messageOf({ ...valid(), task: "detection" })).toMatch(/does not fit task/);
    expect(messageOf({ ...valid(), output: { kind: "detection", scoreThreshold: 0.5 } })).toMatch(
      /does not fit task/,
    );
    expect(messageOf({ ...valid(), classes: ["a", "a"] })).toMatch(/duplicate/);
  });

  it("declares interpolation and centre crop; the crop is what inputShape must equal", () => {
    const pre = valid().preprocessing as Record<string, unknown>;
    const cropped = parseModelDescriptor({
      ...valid(),
      preprocessing: { ...pre, resize: [72, 80], interpolation: "bicubic", crop: { center: [64, 64] } },
    });
    expect(cropped.preprocessing).toMatchObject({ interpolation: "bicubic", crop: { center: [64, 64] } });
    expect(parseModelDescriptor({ ...valid(), preprocessing: { ...pre, crop: "none" } })).toBeTruthy();
    expect(messageOf({ ...valid(), preprocessing: { ...pre, interpolation: "lanczos" } })).toMatch(
      /\/preprocessing\/interpolation: expected one of "nearest", "bilinear", "bicubic"/,
    );
    expect(
      messageOf({ ...valid(), preprocessing: { ...pre, resize: [72, 72], crop: { center: [60, 64] } } }),
    ).toMatch(/crop\/center \[60, 64\] must equal inputShape/);
    expect(
      messageOf({
        ...valid(),
        inputShape: [3, 64, 64],
        preprocessing: { ...pre, resize: [32, 64], crop: { center: [64, 64] } },
      }),
    ).toMatch(/must fit in \/preprocessing\/resize/);
    expect(messageOf({ ...valid(), preprocessing: { ...pre, crop: { center: [64, 64], x: 1 } } })).toMatch(
      /\/preprocessing\/crop/,
    );
  });

  it("caps the declared input: sides <= 4096, one image <= 16 Mi values (the 3x4000x4000 case)", () => {
    const pre = valid().preprocessing as Record<string, unknown>;
    const shaped = (c: number, h: number, w: number) => ({
      ...valid(),
      inputShape: [c, h, w],
      preprocessing: {
        ...pre,
        colorSpace: c === 1 ? "GRAY" : "RGB",
        mean: new Array(c).fill(0.5),
        std: new Array(c).fill(0.5),
        resize: [h, w],
      },
    });
    expect(messageOf(shaped(3, 4000, 4000))).toMatch(/48000000 values per image; at most 16777216/);
    expect(messageOf(shaped(1, 4097, 16))).toMatch(/\/inputShape\/1/);
    expect(messageOf({ ...shaped(3, 64, 64), preprocessing: { ...pre, resize: [64, 5000] } })).toMatch(
      /\/preprocessing\/resize\/1/,
    );
    expect(parseModelDescriptor(shaped(1, 4096, 4096)).inputShape).toEqual([1, 4096, 4096]);
    expect(parseModelDescriptor(shaped(3, 2048, 2048)).inputShape).toEqual([3, 2048, 2048]);
  });

  it("turns a JSON syntax error into InputError", () => {
    expect(() => parseModelDescriptorText("{not json")).toThrow(InputError);
  });
});
