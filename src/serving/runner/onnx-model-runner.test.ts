import { copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type * as ort from "onnxruntime-node";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixtureModel } from "../../../test/fixtures/models/fixtures.js";
import { ConflictError, InputError, NotFoundError } from "../../errors.js";
import { createDirectSession, runDirect } from "../../../test/support/onnx-direct.js";
import { ModelLoadError } from "./model-runner.js";
import { OnnxModelRunner } from "./onnx-model-runner.js";
import { softmax } from "./postprocess.js";
import { preprocessImage } from "./preprocess.js";

/** Deterministic noise image, so decode + resize + normalize is exercised on real pixel variety. */
async function noiseImage(width: number, height: number, channels: 3 | 4, format: "png" | "jpeg" | "webp") {
  let seed = width * 7919 + height * 31 + channels;
  const pixels = Buffer.alloc(width * height * channels);
  for (let i = 0; i < pixels.length; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    pixels[i] = seed >> 23;
  }
  const img = sharp(pixels, { raw: { width, height, channels } });
  return format === "png"
    ? img.png().toBuffer()
    : format === "jpeg"
      ? img.jpeg().toBuffer()
      : img.webp().toBuffer();
}

const classifier = fixtureModel("tiny-classifier");
const detector = fixtureModel("tiny-detector");

describe("OnnxModelRunner", () => {
  let runner: OnnxModelRunner;
  let dir: string;
  let directClassifier: ort.InferenceSession;
  let directDetector: ort.InferenceSession;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "runner-"));
    runner = await OnnxModelRunner.create({ workers: 2 });
    await runner.load({ key: "cls", ...classifier });
    await runner.load({ key: "det", ...detector });
    directClassifier = await createDirectSession(classifier.modelPath);
    directDetector = await createDirectSession(detector.modelPath);
  });

  afterAll(async () => {
    await runner?.close();
    await directClassifier?.release();
    await directDetector?.release();
    await rm(dir, { recursive: true, force: true });
  });

  it("classifies like a direct onnxruntime call on the same preprocessed tensor", async () => {
    const images = [
      await noiseImage(50, 40, 4, "png"),
      await noiseImage(31, 77, 3, "jpeg"),
      await noiseImage(64, 64, 3, "webp"),
    ];
    const { predictions, timings } = await runner.predictImages("cls", images, { topK: 3 });
    expect(predictions).toHaveLength(3);
    expect(timings.batchItems).toBe(3);
    for (const [i, img] of images.entries()) {
      const pre = await preprocessImage(img, classifier.descriptor);
      const out = await runDirect(directClassifier, "input", pre.tensor, [1, 3, 32, 32]);
      const probs = softmax(out.logits.data as Float32Array);
      const p = predictions[i];
      if (p.task !== "classification") throw new Error("expected a classification");
      expect({ width: p.width, height: p.height }).toEqual({ width: pre.width, height: pre.height });
      expect(p.labels).toHaveLength(3);
      for (const l of p.labels) {
        expect(l.label).toBe(classifier.descriptor.classes[l.index]);
        expect(Math.abs(l.score - probs[l.index])).toBeLessThan(1e-5);
      }
      expect(p.labels[0].score).toBeGreaterThanOrEqual(p.labels[1].score);
      expect(p.labels[1].score).toBeGreaterThanOrEqual(p.labels[2].score);
    }
    expect(predictions[0]).toMatchObject({ width: 50, height: 40 });
  });

  it("returns raw tensors equal to a direct call, for a batch", async () => {
    const data = Float32Array.from({ length: 2 * 3 * 32 * 32 }, (_, i) => Math.sin(i) * 2);
    const { outputs } = await runner.inferTensors("cls", [
      { name: "input", shape: [2, 3, 32, 32], datatype: "FP32", data },
    ]);
    const direct = await runDirect(directClassifier, "input", data, [2, 3, 32, 32]);
    expect(outputs).toHaveLength(1);
    expect(outputs[0]).toMatchObject({ name: "logits", shape: [2, 3], datatype: "FP32" });
    const want = direct.logits.data as Float32Array;
    outputs[0].data.forEach((v, i) => {
      expect(Math.abs(Number(v) - want[i])).toBeLessThan(1e-5);
    });
    // JSON numbers (the OIP body) give the same answer as a typed array.
    const fromJson = await runner.inferTensors("cls", [
      { name: "input", shape: [2, 3, 32, 32], datatype: "FP32", data: Array.from(data) },
    ]);
    expect(Array.from(fromJson.outputs[0].data as Float32Array)).toEqual(
      Array.from(outputs[0].data as Float32Array),
    );
  });

  it("decodes detections per the documented convention", async () => {
    const img = await noiseImage(80, 60, 3, "png");
    const { predictions } = await runner.predictImages("det", [img]);
    const p = predictions[0];
    if (p.task !== "detection") throw new Error("expected a detection");
    expect({ width: p.width, height: p.height }).toEqual({ width: 80, height: 60 });
    const pre = await preprocessImage(img, detector.descriptor);
    const out = await runDirect(directDetector, "input", pre.tensor, [1, 3, 32, 32]);
    const scores = out.scores.data as Float32Array;
    const labels = out.labels.data as BigInt64Array;
    const boxes = out.boxes.data as Float32Array;
    const kept = [...scores.keys()].filter((k) => scores[k] >= 0.3).sort((a, b) => scores[b] - scores[a]);
    expect(scores[3]).toBe(0); // the fixture's padding slot
    expect(kept.length).toBeGreaterThan(0);
    expect(p.boxes).toHaveLength(kept.length);
    kept.forEach((k, i) => {
      const b = p.boxes[i];
      expect(b.index).toBe(Number(labels[k]));
      expect(b.label).toBe(detector.descriptor.classes[b.index]);
      expect(Math.abs(b.score - scores[k])).toBeLessThan(1e-5);
      expect(Math.abs(b.x1 - boxes[k * 4])).toBeLessThan(1e-5);
      expect(Math.abs(b.y2 - boxes[k * 4 + 3])).toBeLessThan(1e-5);
      expect(b.x1).toBeLessThanOrEqual(b.x2);
    });
  });

  it("describes the loaded model's tensors for OIP metadata", () => {
    expect(runner.info("det")).toMatchObject({
      task: "detection",
      dynamicBatch: true,
      inputs: [{ name: "input", datatype: "FP32", shape: [-1, 3, 32, 32] }],
      outputs: [
        { name: "boxes", datatype: "FP32", shape: [-1, 4, 4] },
        { name: "scores", datatype: "FP32", shape: [-1, 4] },
        { name: "labels", datatype: "INT64", shape: [-1, 4] },
      ],
    });
  });

  it("rejects wrong shapes, dtypes and names with InputError", async () => {
    const call = (shape: number[], datatype: "FP32" | "INT32", n: number, name = "input") =>
      runner.inferTensors("cls", [{ name, shape, datatype, data: new Array(n).fill(0) }]);
    await expect(call([1, 3, 32, 31], "FP32", 3 * 32 * 31)).rejects.toThrow(
      /input "input": shape \[1,3,32,31\] does not match the model's \[-1,3,32,32\] at dimension 3/,
    );
    await expect(call([1, 3, 32, 32], "INT32", 3 * 32 * 32)).rejects.toThrow(/datatype INT32 does not match/);
    await expect(call([3, 32, 32], "FP32", 3 * 32 * 32)).rejects.toThrow(/rank 3/);
    await expect(call([1, 3, 32, 32], "FP32", 5)).rejects.toThrow(/needs 3072 values, got 5/);
    await expect(call([1, 3, 32, 32], "FP32", 3072, "image")).rejects.toThrow(/unknown input "image"/);
    await expect(call([1, 3, 32, 32], "FP32", 3072)).resolves.toBeDefined();
    await expect(call([1, 3, 32, 32], "INT32", 3072)).rejects.toBeInstanceOf(InputError);
    await expect(
      runner.inferTensors(
        "cls",
        [{ name: "input", shape: [1, 3, 32, 32], datatype: "FP32", data: new Float32Array(3072) }],
        {
          outputs: ["nope"],
        },
      ),
    ).rejects.toThrow(/unknown output "nope"/);
  });

  it("rejects undecodable images and unknown models", async () => {
    await expect(runner.predictImages("cls", [Buffer.from("not an image")])).rejects.toBeInstanceOf(
      InputError,
    );
    await expect(runner.predictImages("cls", [])).rejects.toThrow(/no images/);
    await expect(runner.predictImages("nope", [Buffer.from("x")])).rejects.toBeInstanceOf(NotFoundError);
    // The runner still serves after bad input.
    const ok = await runner.predictImages("cls", [await noiseImage(8, 8, 3, "png")], { topK: 1 });
    expect(ok.predictions[0]).toMatchObject({ task: "classification", width: 8, height: 8 });
  });

  it("fails clearly on a corrupt model file and a model.json that does not fit the graph", async () => {
    const corrupt = path.join(dir, "corrupt.onnx");
    await writeFile(corrupt, Buffer.from("this is not an onnx protobuf at all"));
    const err = await runner
      .load({ key: "bad", modelPath: corrupt, descriptor: classifier.descriptor })
      .catch((e) => e);
    expect(err).toBeInstanceOf(ModelLoadError);
    expect(err.message).toMatch(/cannot load model "bad": .*<model file>/);
    // Server paths stay out of what callers read (docs/security.md).
    expect(err.message).not.toContain(dir);
    expect(runner.has("bad")).toBe(false);

    const copy = path.join(dir, "copy.onnx");
    await copyFile(classifier.modelPath, copy);
    const fourClasses = { ...classifier.descriptor, classes: ["a", "b", "c", "d"] };
    await expect(runner.load({ key: "mismatch", modelPath: copy, descriptor: fourClasses })).rejects.toThrow(
      /must be \[N, 4\]/,
    );
    const wrongInput = { ...classifier.descriptor, inputName: "pixels" };
    await expect(runner.load({ key: "mismatch", modelPath: copy, descriptor: wrongInput })).rejects.toThrow(
      /inputName "pixels" is not an input/,
    );
    await expect(runner.load({ key: "cls", ...classifier })).rejects.toBeInstanceOf(ConflictError);
  });

  it("unloads a model", async () => {
    await runner.load({ key: "temp", ...classifier });
    expect(runner.has("temp")).toBe(true);
    await runner.unload("temp");
    expect(runner.has("temp")).toBe(false);
    await expect(runner.predictImages("temp", [await noiseImage(8, 8, 3, "png")])).rejects.toBeInstanceOf(
      NotFoundError,
    );
    await runner.unload("temp");
  });
});

describe("OnnxModelRunner inline runs (inlineRunMs)", () => {
  it("answers small tensor requests of a cheap model on the calling thread, with the workers' numbers", async () => {
    const inline = await OnnxModelRunner.create({ workers: 1, inlineRunMs: 1000 });
    const workers = await OnnxModelRunner.create({ workers: 1 });
    try {
      const info = await inline.load({ key: "cls", ...classifier });
      expect(info.inline).toBe(true);
      expect(info.runMs).toBeGreaterThan(0);
      expect((await workers.load({ key: "cls", ...classifier })).inline).toBe(false);
      const data = Float32Array.from({ length: 2 * 3 * 32 * 32 }, (_, i) => Math.cos(i));
      const request = [{ name: "input", shape: [2, 3, 32, 32], datatype: "FP32" as const, data }];
      const a = await inline.inferTensors("cls", request);
      const b = await workers.inferTensors("cls", request);
      expect(Array.from(a.outputs[0].data as Float32Array)).toEqual(
        Array.from(b.outputs[0].data as Float32Array),
      );
      // Inline runs never queue for a worker; the caller's array is left intact.
      expect(a.timings.queueMs).toBe(0);
      expect(data.length).toBe(2 * 3 * 32 * 32);
      await expect(
        inline.inferTensors("cls", [{ ...request[0], shape: [1, 3, 32, 32] }]),
      ).rejects.toBeInstanceOf(InputError);
      await inline.unload("cls");
      await expect(inline.inferTensors("cls", request)).rejects.toBeInstanceOf(NotFoundError);
    } finally {
      await inline.close();
      await workers.close();
    }
  });
});
