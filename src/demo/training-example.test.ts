/**
 * The PyTorch training example end to end, offline: train on a generated data set with real PyTorch, then
 * load the exported ONNX in onnxruntime-node and predict a separately generated set, preprocessed exactly
 * as model.json says (what serving will do).
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import * as ort from "onnxruntime-node";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateSyntheticDataset, type LabelRecord } from "./synthetic-data.js";

const run = promisify(execFile);
const PYTHON = process.env.MLOPS_PYTHON ?? "/usr/bin/python3";
const TRAIN = path.resolve("examples/vision-classifier/train.py");

interface ModelJson {
  inputName: string;
  inputShape: [number, number, number];
  preprocessing: { resize: [number, number]; scale: number; mean: number[]; std: number[]; layout: string };
  classes: string[];
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "training-example-"));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function toTensorData(file: string, meta: ModelJson): Promise<Float32Array> {
  const [h, w] = meta.preprocessing.resize;
  const { data } = await sharp(file).removeAlpha().resize(w, h).raw().toBuffer({ resolveWithObject: true });
  const { scale, mean, std } = meta.preprocessing;
  const out = new Float32Array(3 * h * w);
  for (let i = 0; i < h * w; i++) {
    for (let c = 0; c < 3; c++) out[c * h * w + i] = (data[i * 3 + c] * scale - mean[c]) / std[c];
  }
  return out;
}

describe("examples/vision-classifier/train.py", () => {
  it("trains offline, exports ONNX that onnxruntime-node loads, and predicts far better than chance", async () => {
    const train = path.join(tmp, "train");
    const val = path.join(tmp, "val");
    const out = path.join(tmp, "out");
    await generateSyntheticDataset({ outDir: train, count: 900, seed: 1 });
    await generateSyntheticDataset({ outDir: val, count: 90, seed: 2 });
    const env: NodeJS.ProcessEnv = { ...process.env, MLOPS_OUTPUT_DIR: out };
    for (const key of [
      "MLOPS_API_URL",
      "MLFLOW_TRACKING_URI",
      "MLOPS_RUN_ID",
      "MLFLOW_RUN_ID",
      "MLOPS_BASE_MODEL",
    ]) {
      delete env[key];
    }
    const args = [
      TRAIN,
      "--data",
      train,
      "--val",
      val,
      "--epochs",
      "12",
      "--target-accuracy",
      "0.9",
      "--seed",
      "1",
    ];
    const { stdout } = await run(PYTHON, args, { env, timeout: 150_000 });
    expect(stdout).toMatch(/ONNX matches PyTorch/);

    const modelDir = path.join(out, "model");
    const meta = JSON.parse(await readFile(path.join(modelDir, "model.json"), "utf8")) as ModelJson;
    expect(meta.classes).toEqual(["circle", "square", "triangle"]);
    expect(meta.inputShape).toEqual([3, 32, 32]);

    const session = await ort.InferenceSession.create(path.join(modelDir, "model.onnx"));
    expect(session.inputNames).toEqual([meta.inputName]);
    const labels = JSON.parse(await readFile(path.join(val, "labels.json"), "utf8")) as LabelRecord[];
    const size = 3 * 32 * 32;
    const batch = new Float32Array(labels.length * size);
    for (const [i, label] of labels.entries())
      batch.set(await toTensorData(path.join(val, label.file), meta), i * size);
    const input = new ort.Tensor("float32", batch, [labels.length, 3, 32, 32]);
    const result = await session.run({ [meta.inputName]: input });
    const logits = result[session.outputNames[0]].data as Float32Array;
    let correct = 0;
    for (const [i, label] of labels.entries()) {
      const row = Array.from(logits.subarray(i * 3, i * 3 + 3));
      if (meta.classes[row.indexOf(Math.max(...row))] === label.class) correct++;
    }
    const accuracy = correct / labels.length;
    expect(accuracy).toBeGreaterThan(0.6); // chance is 1/3

    const events = (await readFile(path.join(out, "mlops-run.jsonl"), "utf8"))
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { event: string; key?: string; step?: number });
    const valSteps = events
      .filter((e) => e.event === "metric" && e.key === "val_accuracy")
      .map((e) => e.step);
    expect(valSteps.length).toBeGreaterThan(0);
    expect(valSteps).toEqual(valSteps.map((_, i) => i + 1));
  }, 180_000);
});
