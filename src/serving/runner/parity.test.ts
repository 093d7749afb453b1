import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { InputError } from "../../errors.js";
import type { ModelDescriptor } from "../../registry/model-descriptor.js";
import { checkParity, type ParityFile, paritySamples, paritySummary } from "./parity.js";
import { preprocessImage } from "./preprocess.js";

// Real PIL samples through registration and deployment: test/serving-parity.test.ts.
const descriptor: ModelDescriptor = {
  format: "mlops-model/v1",
  task: "classification",
  framework: "pytorch",
  inputName: "input",
  inputShape: [3, 4, 5],
  preprocessing: {
    resize: [4, 5],
    colorSpace: "RGB",
    scale: 1 / 255,
    mean: [0.485, 0.456, 0.406],
    std: [0.229, 0.224, 0.225],
    layout: "NHWC",
  },
  classes: ["a", "b"],
  output: { kind: "logits" },
};

const file = (path: string, size = 80): ParityFile => ({ path, sha256: path, size });

describe("paritySamples", () => {
  it("pairs images with tensors by name and ignores files outside parity/", () => {
    const samples = paritySamples([
      file("model.onnx"),
      file("parity/b.jpg"),
      file("parity/a.png"),
      file("parity/a.f32"),
      file("parity/b.f32"),
    ]);
    expect(samples.map((s) => [s.name, s.image.path, s.tensor.path])).toEqual([
      ["a", "parity/a.png", "parity/a.f32"],
      ["b", "parity/b.jpg", "parity/b.f32"],
    ]);
    expect(paritySamples([file("model.json")])).toEqual([]);
  });

  it("refuses orphans, strays, two images for one name, too many and too big", () => {
    const refuse = (files: ParityFile[]) => {
      try {
        paritySamples(files);
      } catch (err) {
        expect(err).toBeInstanceOf(InputError);
        return (err as Error).message;
      }
      throw new Error("expected a refusal");
    };
    expect(refuse([file("parity/a.png")])).toBe("parity sample a needs parity/a.f32");
    expect(refuse([file("parity/a.f32")])).toMatch(/needs an image parity\/a\./);
    expect(refuse([file("parity/a.exe")])).toMatch(/unexpected file/);
    expect(refuse([file("parity/a.png"), file("parity/a.jpg"), file("parity/a.f32")])).toMatch(/two images/);
    const many = Array.from({ length: 9 }, (_, i) => [
      file(`parity/${i}.png`),
      file(`parity/${i}.f32`),
    ]).flat();
    expect(refuse(many)).toMatch(/at most 8 parity samples/);
    expect(refuse([file("parity/a.png", 2 * 1024 * 1024), file("parity/a.f32")])).toMatch(/larger than/);
  });
});

describe("checkParity", () => {
  async function setup() {
    const png = await sharp({ create: { width: 9, height: 7, channels: 3, background: "#336699" } })
      .png()
      .toBuffer();
    const tensor = (await preprocessImage(png, descriptor)).tensor;
    return { png, tensor };
  }

  function run(png: Buffer, tensor: Float32Array) {
    const bytes = Buffer.from(tensor.buffer, tensor.byteOffset, tensor.byteLength);
    const blobs: Record<string, Buffer> = { "parity/s.png": png, "parity/s.f32": bytes };
    const samples = paritySamples([file("parity/s.png", png.length), file("parity/s.f32", bytes.length)]);
    return checkParity(samples, descriptor, async (sha) => blobs[sha]);
  }

  it("accepts one pixel level of difference and refuses two, in levels of that channel's std (NHWC)", async () => {
    const { png, tensor } = await setup();
    expect(await run(png, tensor)).toEqual({ samples: 1, maxLevels: 0 });
    // Index 7 is channel 1 (green) in NHWC with 3 channels: one level = (1/255) / 0.224.
    const level = 1 / 255 / 0.224;
    const oneOff = Float32Array.from(tensor);
    oneOff[7] += level;
    expect((await run(png, oneOff)).failure).toBeUndefined();
    const twoOff = Float32Array.from(tensor);
    twoOff[7] += 2 * level;
    const report = await run(png, twoOff);
    expect(report.failure).toMatch(
      /^preprocessing parity: parity\/s\.png: serving's preprocessing differs from the training tensor parity\/s\.f32 by 0\.0350 \(2\.0 pixel levels\) at index 7/,
    );
    expect(paritySummary(report)).toMatch(/^failed: /);
  });

  it("treats NaN in the training tensor as a mismatch, and says when there is nothing to check", async () => {
    const { png, tensor } = await setup();
    const nan = Float32Array.from(tensor);
    nan[3] = Number.NaN;
    expect((await run(png, nan)).failure).toMatch(/at index 3/);
    const none = await checkParity([], descriptor, async () => Buffer.alloc(0));
    expect(paritySummary(none)).toMatch(/^unchecked: no parity samples/);
  });
});
