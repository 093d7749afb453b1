import type * as ort from "onnxruntime-node";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixtureModel } from "../../../test/fixtures/models/fixtures.js";
import { createDirectSession, runDirect } from "../../../test/support/onnx-direct.js";
import type { TensorInput } from "./model-runner.js";
import { OnnxModelRunner } from "./onnx-model-runner.js";

const classifier = fixtureModel("tiny-classifier");
const slow = fixtureModel("slow-classifier");

function tensor(seed: number, rows = 1): TensorInput {
  const data = Float32Array.from({ length: rows * 3 * 32 * 32 }, (_, i) => Math.sin(i * 0.37 + seed * 11.1));
  return { name: "input", shape: [rows, 3, 32, 32], datatype: "FP32", data };
}

describe("OnnxModelRunner under concurrency", () => {
  let runner: OnnxModelRunner;
  let direct: ort.InferenceSession;

  beforeAll(async () => {
    runner = await OnnxModelRunner.create({ workers: 2 });
    await runner.load({ key: "fast", ...classifier });
    await runner.load({ key: "slow", ...slow });
    await runner.load({ key: "batched", ...classifier, batching: { maxBatchSize: 8, maxDelayMs: 25 } });
    direct = await createDirectSession(classifier.modelPath);
  });

  afterAll(async () => {
    await runner?.close();
    await direct?.release();
  });

  it("a slow inference neither blocks the event loop nor delays another model", async () => {
    const slowCall = runner.inferTensors("slow", [tensor(1)]);
    await new Promise((r) => setTimeout(r, 5));
    // The event loop stays responsive while the slow model runs in its worker.
    let maxLag = 0;
    for (let i = 0; i < 10; i++) {
      const t = performance.now();
      await new Promise((r) => setTimeout(r, 1));
      maxLag = Math.max(maxLag, performance.now() - t - 1);
    }
    const t = performance.now();
    await runner.inferTensors("fast", [tensor(2)]);
    const fastMs = performance.now() - t;
    const slowResult = await slowCall;
    expect(slowResult.timings.inferMs).toBeGreaterThan(25);
    expect(fastMs).toBeLessThan(slowResult.timings.inferMs / 2);
    expect(maxLag).toBeLessThan(50); // inference runs off the event loop (a blocked loop would lag by the 65 ms runs)
  });

  it("takes turns between models: a queue of slow requests delays a fast one by at most one run", async () => {
    const done: string[] = [];
    const slowCalls = Array.from({ length: 6 }, (_, i) =>
      runner.inferTensors("slow", [tensor(10 + i)]).then(() => done.push(`slow${i}`)),
    );
    await new Promise((r) => setTimeout(r, 5));
    const t = performance.now();
    const fastCall = runner.inferTensors("fast", [tensor(3)]).then(() => {
      done.push("fast");
      return performance.now() - t;
    });
    const fastMs = await fastCall;
    await Promise.all(slowCalls);
    // Two slow runs were in flight; the fast one goes next, before any further slow request finishes.
    expect(done.indexOf("fast")).toBeLessThanOrEqual(2);
    expect(fastMs).toBeLessThan(500);
  });

  it("batches concurrent requests and gives each caller its own result", async () => {
    const inputs = Array.from({ length: 6 }, (_, i) => tensor(100 + i, i === 2 ? 2 : 1));
    const results = await Promise.all(inputs.map((inp) => runner.inferTensors("batched", [inp])));
    for (const [i, res] of results.entries()) {
      const want = await runDirect(direct, "input", inputs[i].data as Float32Array, inputs[i].shape);
      expect(res.outputs[0].shape).toEqual([inputs[i].shape[0], 3]);
      const got = res.outputs[0].data as Float32Array;
      const exp = want.logits.data as Float32Array;
      expect(got.length).toBe(exp.length);
      got.forEach((v, j) => {
        expect(Math.abs(v - exp[j])).toBeLessThan(1e-5);
      });
    }
    // 7 rows in one go fit maxBatchSize 8: at least some calls shared an inference.
    expect(Math.max(...results.map((r) => r.timings.batchItems))).toBeGreaterThan(2);
  });

  it("batches image requests without mixing up their predictions", async () => {
    const colors = ["#ff0000", "#00ff00", "#0000ff", "#ffffff", "#000000"];
    const images = await Promise.all(
      colors.map((background, i) =>
        sharp({ create: { width: 20 + i, height: 30, channels: 3, background } })
          .png()
          .toBuffer(),
      ),
    );
    const unbatched = await Promise.all(
      images.map((img) => runner.predictImages("fast", [img], { topK: 3 })),
    );
    const batched = await Promise.all(
      images.map((img) => runner.predictImages("batched", [img], { topK: 3 })),
    );
    expect(Math.max(...batched.map((r) => r.timings.batchItems))).toBeGreaterThan(1);
    batched.forEach((r, i) => {
      const want = unbatched[i].predictions[0];
      const got = r.predictions[0];
      expect(got.width).toBe(20 + i);
      if (got.task !== "classification" || want.task !== "classification") throw new Error("classification");
      expect(got.labels.map((l) => l.index)).toEqual(want.labels.map((l) => l.index));
      got.labels.forEach((l, j) => {
        expect(Math.abs(l.score - want.labels[j].score)).toBeLessThan(1e-5);
      });
    });
  });
});

describe("a run that does not finish", () => {
  it("fails after runTimeoutMs, and a fresh worker takes over", async () => {
    const runner = await OnnxModelRunner.create({ workers: 1, runTimeoutMs: 15 });
    try {
      await runner.load({ key: "slow", ...slow });
      await runner.load({ key: "fast", ...classifier });
      await expect(runner.inferTensors("slow", [tensor(1, 4)])).rejects.toThrow(
        /did not finish within 15 ms/,
      );
      const after = await runner.inferTensors("fast", [tensor(2)]);
      expect(after.outputs[0].shape).toEqual([1, 3]);
    } finally {
      await runner.close();
    }
  });
});
