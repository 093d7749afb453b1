import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { parseModelDescriptorText } from "../../../registry/model-descriptor.js";
import type { ModelRunner } from "../../runner/model-runner.js";
import { OnnxModelRunner } from "../../runner/onnx-model-runner.js";
import type { StoredPrediction } from "../batch.js";
import type { BatchView } from "../batch-service.js";
import type { ChunkInputItem, WorkerStart } from "../batch-worker-api.js";
import { failedPrediction, toStoredPrediction } from "../prediction-format.js";
import { Channel } from "./channel.js";
import { WorkerClient } from "./worker-client.js";

export interface BatchWorkerOptions {
  apiUrl: string;
  token: string;
  batchId: string;
  /** The job attempt (MLOPS_ATTEMPT), recorded on each chunk checkpoint. */
  attempt: number;
  /** Where input-directory images are (the job's working directory: its unpacked archive). */
  inputDir: string;
  /** Where the model file is downloaded to. */
  scratchDir: string;
  /** How long HTTP calls keep retrying while the control plane is away (default 120 s). */
  retryForMs?: number;
  log: (line: string) => void;
}

export interface BatchWorkerSummary {
  chunks: number;
  images: number;
  seconds: number;
  imagesPerSecond: number;
  /** Chunks another worker had stored meanwhile (answered `stored: false`). */
  skipped: number;
}

const URL_FETCH_TIMEOUT_MS = 30_000;

interface FetchedChunk {
  index: number;
  items: ChunkInputItem[];
  t0: number;
}

interface PredictedChunk extends FetchedChunk {
  predictions: Array<{ position: number; prediction: StoredPrediction }>;
  durationMs: number;
}

/**
 * One attempt of a batch: claim it, load the model into a runner with `workers` inference threads, then
 * run the pending chunks through three stages joined by bounded channels — fetch inputs (ahead),
 * predict (one loop per thread), store — so the inference threads never wait for the network. Every
 * chunk is stored with its checkpoint in one request; a crash loses at most the chunks in flight, and the
 * next attempt asks only for the chunks without a checkpoint.
 */
export async function runBatchWorker(options: BatchWorkerOptions): Promise<BatchWorkerSummary> {
  const client = new WorkerClient({
    apiUrl: options.apiUrl,
    token: options.token,
    retryForMs: options.retryForMs ?? 120_000,
    log: options.log,
  });
  const base = `/api/v1/batch-predictions/${encodeURIComponent(options.batchId)}`;
  const started = performance.now();
  const start = await client.json<WorkerStart>("POST", `${base}/worker`, { attempt: options.attempt });
  const { batch, pending } = start;
  options.log(
    `batch ${batch.id}: ${batch.modelVersionName}, ${batch.total} images in ${batch.chunkCount} chunks; ` +
      `${pending.length} chunks to do (attempt ${options.attempt})`,
  );
  const summary: BatchWorkerSummary = { chunks: 0, images: 0, seconds: 0, imagesPerSecond: 0, skipped: 0 };
  if (pending.length === 0) return summary;

  const descriptor = parseModelDescriptorText(start.descriptorText);
  await mkdir(options.scratchDir, { recursive: true });
  const modelPath = path.join(options.scratchDir, `${batch.modelSha256}.onnx`);
  await client.download(`${base}/model`, modelPath);
  const runner = await OnnxModelRunner.create({ workers: batch.workers });
  try {
    const key = batch.versionId;
    await runner.load({ key, modelPath, descriptor });
    const topK = Math.min(5, batch.classes.length);
    const fetched = new Channel<FetchedChunk>(batch.workers + 1);
    const predicted = new Channel<PredictedChunk>(batch.workers + 1);
    let failure: unknown;
    const fail = (err: unknown) => {
      failure ??= err;
      fetched.close();
      predicted.close();
    };
    // Stage 1: fetch inputs in order, a few chunks ahead of the inference threads.
    const fetching = (async () => {
      for (const index of pending) {
        if (failure) return;
        const t0 = performance.now();
        const { items } = await client.json<{ items: ChunkInputItem[] }>("GET", `${base}/chunks/${index}`);
        await fetched.push({ index, items, t0 });
      }
      fetched.close();
    })().catch(fail);
    // Stage 2: one inference loop per runner thread.
    let predicting = batch.workers;
    const inference = Array.from({ length: batch.workers }, async () => {
      for (let chunk = await fetched.take(); chunk && !failure; chunk = await fetched.take()) {
        const predictions = await predictChunk(runner, key, batch, chunk.items, options.inputDir, topK);
        await predicted.push({ ...chunk, predictions, durationMs: performance.now() - chunk.t0 });
      }
      if (--predicting === 0) predicted.close();
    }).map((loop) => loop.catch(fail));
    // Stage 3: store each chunk with its checkpoint (two requests in flight).
    const storing = Array.from({ length: 2 }, async () => {
      for (let chunk = await predicted.take(); chunk && !failure; chunk = await predicted.take()) {
        const answer = await client.json<{ stored: boolean; batch: BatchView }>(
          "PUT",
          `${base}/chunks/${chunk.index}`,
          {
            predictions: chunk.predictions,
            durationMs: chunk.durationMs,
            attempt: options.attempt,
          },
        );
        if (answer.stored) {
          summary.chunks++;
          summary.images += chunk.items.length;
        } else summary.skipped++;
        const p = answer.batch.progress;
        options.log(
          `chunk ${chunk.index}: ${chunk.items.length} images in ${chunk.durationMs.toFixed(0)} ms` +
            `${answer.stored ? "" : " (already stored)"}; ${p.done}/${p.total} done`,
        );
      }
    }).map((loop) => loop.catch(fail));
    await Promise.all([fetching, ...inference, ...storing]);
    if (failure) throw failure;
  } finally {
    await runner.close();
  }
  summary.seconds = (performance.now() - started) / 1000;
  summary.imagesPerSecond = summary.images / summary.seconds;
  return summary;
}

/** Reads a chunk's images and predicts them in one runner call; on failure, image by image. */
async function predictChunk(
  runner: ModelRunner,
  key: string,
  batch: BatchView,
  items: ChunkInputItem[],
  inputDir: string,
  topK: number,
): Promise<Array<{ position: number; prediction: StoredPrediction }>> {
  const loaded = await Promise.all(
    items.map(async (item) => {
      try {
        return { item, bytes: await readImage(item, inputDir) };
      } catch (err) {
        return { item, error: `cannot read image: ${(err as Error).message}` };
      }
    }),
  );
  const readable = loaded.filter((l): l is { item: ChunkInputItem; bytes: Uint8Array } => "bytes" in l);
  const byPosition = new Map<number, StoredPrediction>();
  for (const l of loaded)
    if ("error" in l && l.error) byPosition.set(l.item.position, failedPrediction(batch.task, l.error));
  if (readable.length > 0) {
    try {
      const { predictions } = await runner.predictImages(
        key,
        readable.map((r) => r.bytes),
        { topK },
      );
      for (const [i, p] of predictions.entries())
        byPosition.set(readable[i].item.position, toStoredPrediction(p));
    } catch {
      // One undecodable image fails the whole call: find it by predicting one at a time.
      for (const r of readable) {
        try {
          const { predictions } = await runner.predictImages(key, [r.bytes], { topK });
          byPosition.set(r.item.position, toStoredPrediction(predictions[0]));
        } catch (err) {
          byPosition.set(r.item.position, failedPrediction(batch.task, (err as Error).message));
        }
      }
    }
  }
  return items.map((item) => ({
    position: item.position,
    prediction: byPosition.get(item.position) as StoredPrediction,
  }));
}

async function readImage(item: ChunkInputItem, inputDir: string): Promise<Uint8Array> {
  if (item.image !== undefined) return Buffer.from(item.image, "base64");
  if (item.url !== undefined) {
    const response = await fetch(item.url, { signal: AbortSignal.timeout(URL_FETCH_TIMEOUT_MS) });
    if (!response.ok) throw new Error(`GET ${item.url}: ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  }
  const root = path.resolve(inputDir);
  const file = path.resolve(root, item.key);
  // Keys are normalized by the control plane; this is the second lock on the door.
  if (!file.startsWith(root + path.sep)) throw new Error(`${item.key} is outside the input directory`);
  return readFile(file);
}
