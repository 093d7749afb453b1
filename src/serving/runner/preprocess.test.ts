import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { InputError } from "../../errors.js";
import type { ModelDescriptor } from "../../registry/model-descriptor.js";
import { normalize, preprocessImage } from "./preprocess.js";

function descriptor(pre: Partial<ModelDescriptor["preprocessing"]>, channels = 3): ModelDescriptor {
  return {
    format: "mlops-model/v1",
    task: "classification",
    framework: "pytorch",
    inputName: "input",
    inputShape: [channels, 2, 3],
    preprocessing: {
      resize: [2, 3],
      colorSpace: "RGB",
      scale: 1 / 255,
      mean: [0.5, 0.5, 0.5],
      std: [0.5, 0.5, 0.5],
      layout: "NCHW",
      ...pre,
    },
    classes: ["a"],
    output: { kind: "logits" },
  };
}

describe("preprocessImage", () => {
  it("resizes (fill), drops alpha and normalizes per channel in NCHW", async () => {
    const png = await sharp({
      create: { width: 40, height: 10, channels: 4, background: { r: 255, g: 0, b: 51, alpha: 1 } },
    })
      .png()
      .toBuffer();
    const { tensor, width, height } = await preprocessImage(
      png,
      descriptor({ mean: [0, 0, 0.2], std: [1, 1, 0.5] }),
    );
    expect({ width, height }).toEqual({ width: 40, height: 10 });
    expect(tensor).toHaveLength(3 * 2 * 3);
    // Red plane, then green, then blue (51/255 = 0.2 -> (0.2 - 0.2) / 0.5 = 0).
    expect(Array.from(tensor.subarray(0, 6))).toEqual(new Array(6).fill(1));
    expect(Array.from(tensor.subarray(6, 12))).toEqual(new Array(6).fill(0));
    for (const v of tensor.subarray(12)) expect(v).toBeCloseTo(0, 6);
  });

  it("decodes grayscale into one channel", async () => {
    const png = await sharp({ create: { width: 5, height: 5, channels: 3, background: "#808080" } })
      .png()
      .toBuffer();
    const d = descriptor({ colorSpace: "GRAY", mean: [0], std: [1], scale: 1 }, 1);
    const { tensor } = await preprocessImage(png, d);
    expect(Array.from(tensor)).toEqual(new Array(6).fill(128));
  });

  it("refuses what is not an image", async () => {
    await expect(
      preprocessImage(Buffer.from("GIF89a-but-not-really"), descriptor({})),
    ).rejects.toBeInstanceOf(InputError);
  });
});

describe("normalize", () => {
  const pixels = Uint8Array.from([
    10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150, 160, 170, 180,
  ]);

  it("writes NHWC in pixel order", () => {
    const out = normalize(pixels, descriptor({ layout: "NHWC", scale: 1, mean: [0, 0, 0], std: [1, 1, 1] }));
    expect(Array.from(out)).toEqual(Array.from(pixels));
  });

  it("swaps channels for BGR", () => {
    const out = normalize(
      pixels,
      descriptor({ colorSpace: "BGR", scale: 1, mean: [0, 0, 0], std: [1, 1, 1] }),
    );
    // First plane is blue: every third value starting at index 2.
    expect(Array.from(out.subarray(0, 6))).toEqual([30, 60, 90, 120, 150, 180]);
    expect(Array.from(out.subarray(12, 18))).toEqual([10, 40, 70, 100, 130, 160]);
  });
});
