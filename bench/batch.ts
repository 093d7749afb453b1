import * as ort from "onnxruntime-node";
import sharp from "sharp";
import { encodePng, synthesizeImage } from "../src/demo/synthetic-data.js";
import { OnnxModelRunner } from "../src/serving/runner/onnx-model-runner.js";
import { fixtureModel } from "../test/fixtures/models/fixtures.js";
import { waitFor } from "../test/support/processes.js";
import { type BenchServer, printFigure, registerFixture, startBenchServer } from "./serving.js";

/**
 * Batch prediction throughput: a batch over N dataset images (32x32 PNGs, tiny classifier) run by the
 * platform — a scheduler job running the sandboxed worker process, images fetched from the control plane,
 * predictions stored with their chunk checkpoints — vs the direct baseline on the same model and images
 * in this process: the same runner (onnxruntime in 2 worker threads, sharp decode + preprocessing) over
 * in-memory chunks of 256, nothing else. Target (docs/performance-targets.md): >= 80% of the baseline.
 * Also printed for context: onnxruntime alone on preprocessed tensors (no decode).
 */
const CHUNK = 256;

function argOf(args: string[], name: string, fallback: number): number {
  const found = args.find((a) => a.startsWith(`--${name}=`));
  return found ? Number(found.split("=")[1]) : fallback;
}

async function syntheticPngs(count: number): Promise<Buffer[]> {
  const spec = { seed: 11, shift: false, imageSize: 32, classes: ["circle", "square", "triangle"] as const };
  const out: Buffer[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < count) {
        const i = next++;
        out[i] = await encodePng(synthesizeImage(spec, i).pixels, 32);
      }
    }),
  );
  return out;
}

/** The baseline: the runner alone, `workers` threads, chunks of 256 with workers + 1 in flight. */
async function directRunner(images: Buffer[], workers: number): Promise<number> {
  const { modelPath, descriptor } = fixtureModel("tiny-classifier");
  const runner = await OnnxModelRunner.create({ workers });
  try {
    await runner.load({ key: "m", modelPath, descriptor });
    await runner.predictImages("m", images.slice(0, CHUNK)); // warm-up
    const chunks: Buffer[][] = [];
    for (let i = 0; i < images.length; i += CHUNK) chunks.push(images.slice(i, i + CHUNK));
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: workers + 1 }, async () => {
        while (next < chunks.length) await runner.predictImages("m", chunks[next++], { topK: 3 });
      }),
    );
    return images.length / ((performance.now() - started) / 1000);
  } finally {
    await runner.close();
  }
}

/** onnxruntime alone: tensors preprocessed up front, batches of 256 on one session (2 intra-op threads). */
async function pureInference(images: Buffer[]): Promise<number> {
  const { modelPath, descriptor } = fixtureModel("tiny-classifier");
  const [c, h, w] = descriptor.inputShape;
  const per = c * h * w;
  const tensor = new Float32Array(images.length * per);
  await Promise.all(
    images.map(async (img, n) => {
      const raw = await sharp(img).resize(w, h, { fit: "fill" }).removeAlpha().raw().toBuffer();
      for (let i = 0; i < h * w; i++)
        for (let ch = 0; ch < c; ch++) tensor[n * per + ch * h * w + i] = (raw[i * c + ch] / 255 - 0.5) / 0.5;
    }),
  );
  const session = await ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: 2,
    interOpNumThreads: 1,
  });
  const started = performance.now();
  for (let i = 0; i < images.length; i += CHUNK) {
    const n = Math.min(CHUNK, images.length - i);
    await session.run({
      [descriptor.inputName]: new ort.Tensor("float32", tensor.subarray(i * per, (i + n) * per), [
        n,
        c,
        h,
        w,
      ]),
    });
  }
  const rate = images.length / ((performance.now() - started) / 1000);
  await session.release();
  return rate;
}

async function datasetOverHttp(server: BenchServer, images: Buffer[]): Promise<void> {
  await server.call("POST", "/api/v1/datasets", {
    name: "bench",
    task: "classification",
    classes: ["circle", "square", "triangle"],
  });
  const shas: string[] = new Array(images.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < images.length) {
        const i = next++;
        shas[i] = (await server.upload("/api/v1/datasets/bench/blobs", images[i])).sha256;
      }
    }),
  );
  for (let i = 0; i < shas.length; i += 1000) {
    await server.call("POST", "/api/v1/datasets/bench/items", {
      items: shas.slice(i, i + 1000).map((sha256, j) => ({ sha256, key: `img-${i + j}` })),
    });
  }
}

interface BatchView {
  id: string;
  state: string;
  stateReason: string;
  startedAt: number | null;
  finishedAt: number | null;
  createdAt: number;
  progress: { done: number; imagesPerSecond: number | null };
}

export async function run(args: string[]): Promise<void> {
  const count = argOf(args, "images", 8192);
  const workers = argOf(args, "workers", 2);
  const images = await syntheticPngs(count);
  // Other work on the machine moves the figures: the baseline runs before and after the batch, and the
  // ratio uses their mean.
  const directBefore = await directRunner(images, workers);

  const server = await startBenchServer({ MLOPS_LOG_LEVEL: "error" });
  let batch: BatchView;
  let wallSeconds: number;
  try {
    await datasetOverHttp(server, images);
    const version = await registerFixture(server, "bench-batch");
    const started = performance.now();
    const created = await server.call<BatchView>("POST", "/api/v1/batch-predictions", {
      model: "bench-batch",
      version,
      dataset: "bench",
      chunkSize: CHUNK,
      workers,
    });
    batch = await waitFor(
      async () => {
        const b = await server.call<BatchView>("GET", `/api/v1/batch-predictions/${created.id}`);
        return ["succeeded", "failed", "cancelled"].includes(b.state) ? b : undefined;
      },
      600_000,
      "the batch to finish",
    );
    wallSeconds = (performance.now() - started) / 1000;
    if (batch.state !== "succeeded") throw new Error(`batch ${batch.state}: ${batch.stateReason}`);
  } finally {
    await server.stop();
  }
  // The baselines run after the server is gone, so they have the machine to themselves.
  const directAfter = await directRunner(images, workers);
  const direct = (directBefore + directAfter) / 2;
  const pure = await pureInference(images);

  const steady = batch.progress.imagesPerSecond ?? 0;
  const endToEnd = count / wallSeconds;
  process.stdout.write(
    `${count} images 32x32 PNG, tiny classifier, chunks of ${CHUNK}, ${workers} inference threads; ` +
      `platform: scheduler job + sandboxed worker process, control plane on SQLite\n`,
  );
  printFigure(
    "batch images/s (worker steady state)",
    steady,
    direct,
    "img/s",
    `target >= 80% of direct; direct before ${directBefore.toFixed(0)}, after ${directAfter.toFixed(0)}`,
  );
  printFigure(
    "batch images/s (end to end, incl. job start)",
    endToEnd,
    direct,
    "img/s",
    `${wallSeconds.toFixed(1)} s from create to succeeded`,
  );
  printFigure(
    "direct runner vs onnxruntime alone (no decode)",
    direct,
    pure,
    "img/s",
    "context: decode dominates",
  );
}
