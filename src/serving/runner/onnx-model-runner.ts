import { availableParallelism } from "node:os";
import { ConflictError, InputError, NotFoundError } from "../../errors.js";
import { maxRowsPerRun } from "../../registry/model-descriptor.js";
import { checkModelAgainstDescriptor } from "./model-check.js";
import {
  type InferOptions,
  type InferTensorsResult,
  type LoadedModelInfo,
  ModelLoadError,
  type ModelLoadSpec,
  type ModelRunner,
  type PredictImagesResult,
  type PredictOptions,
  type RunTimings,
  type TensorInput,
  type TensorOutput,
} from "./model-runner.js";
import type { RunReply, WireTensor } from "./protocol.js";
import { RunScheduler } from "./scheduler.js";
import { datatypeOfOrt, ortTypeOf, toInputArrays } from "./tensors.js";
import { SessionHost } from "./session-host.js";
import { fromWireError, WorkerPool } from "./worker-pool.js";

export interface OnnxModelRunnerOptions {
  /** Worker threads; each holds every loaded model. Default: min(2, CPU cores). */
  workers?: number;
  /** onnxruntime intra-op threads per session (per worker). Default 1. */
  intraOpNumThreads?: number;
  /** A run that takes longer fails and its worker is replaced (a hung model must not hang callers). Default 30 s. */
  runTimeoutMs?: number;
  /** Default for PredictOptions.topK. */
  defaultTopK?: number;
  /**
   * Tensor requests run on the calling thread, not a worker, when the model's warm one-row run (measured
   * at load) times the request's rows stays within this many milliseconds: for such a model the two thread
   * hops (and their scheduling on a busy machine) cost more than the inference itself. Images always go
   * to a worker (decoding is the expensive part). 0 (the default): always a worker.
   */
  inlineRunMs?: number;
}

const MAX_IMAGES_PER_CALL = 256;

/** ModelRunner over onnxruntime-node sessions living in worker threads. */
export class OnnxModelRunner implements ModelRunner {
  private readonly models = new Map<string, LoadedModelInfo>();
  private readonly loading = new Set<string>();
  /** Sessions on the calling thread, for models small enough to run inline (`inlineRunMs`). */
  private readonly inlineHost = new SessionHost();

  private constructor(
    private readonly pool: WorkerPool,
    private readonly scheduler: RunScheduler,
    private readonly intraOpNumThreads: number,
    private readonly defaultTopK: number,
    private readonly inlineRunMs: number,
  ) {}

  static async create(options: OnnxModelRunnerOptions = {}): Promise<OnnxModelRunner> {
    const size = options.workers ?? Math.min(2, availableParallelism());
    if (!Number.isInteger(size) || size < 1) throw new InputError("workers must be a positive integer");
    let scheduler: RunScheduler | undefined;
    const pool = new WorkerPool({
      size,
      intraOpNumThreads: options.intraOpNumThreads ?? 1,
      onReady: () => scheduler?.dispatch(),
    });
    scheduler = new RunScheduler(pool, options.runTimeoutMs ?? 30_000);
    try {
      await pool.start();
    } catch (err) {
      await pool.close();
      throw err;
    }
    return new OnnxModelRunner(
      pool,
      scheduler,
      options.intraOpNumThreads ?? 1,
      options.defaultTopK ?? 5,
      options.inlineRunMs ?? 0,
    );
  }

  async load(spec: ModelLoadSpec): Promise<LoadedModelInfo> {
    const { key, modelPath, descriptor, batching } = spec;
    if (this.models.has(key) || this.loading.has(key))
      throw new ConflictError(`model "${key}" is already loaded`);
    if (batching && !(batching.maxBatchSize >= 1 && batching.maxDelayMs >= 0)) {
      throw new InputError("batching needs maxBatchSize >= 1 and maxDelayMs >= 0");
    }
    this.loading.add(key);
    try {
      const reply = await this.pool
        .load({ type: "load", key, modelPath, descriptor, intraOpNumThreads: this.intraOpNumThreads })
        .catch((err: Error) => {
          // The message reaches API clients: no server paths in it (docs/security.md, input validation).
          throw new ModelLoadError(`cannot load model "${key}": ${withoutPaths(err.message, modelPath)}`);
        });
      try {
        checkModelAgainstDescriptor(key, descriptor, reply.inputs, reply.outputs);
      } catch (err) {
        await this.pool.unload(key);
        throw err;
      }
      const dynamicBatch = [...reply.inputs, ...reply.outputs].every((m) => m.shape[0] === -1);
      const info: LoadedModelInfo = {
        key,
        task: descriptor.task,
        inputs: reply.inputs,
        outputs: reply.outputs,
        dynamicBatch,
        // Rows per run capped by input bytes: 32 rows of a 3x2048x2048 input would be 1.5 GiB.
        batching:
          dynamicBatch && batching
            ? { ...batching, maxBatchSize: maxRowsPerRun(descriptor, batching.maxBatchSize) }
            : undefined,
        loadMs: reply.loadMs,
        runMs: reply.runMs,
        inline: reply.runMs <= this.inlineRunMs && (await this.loadInline(key, modelPath, descriptor)),
      };
      this.models.set(key, info);
      this.scheduler.addModel(key, info.batching);
      return info;
    } finally {
      this.loading.delete(key);
    }
  }

  async unload(key: string): Promise<void> {
    const info = this.models.get(key);
    if (!this.models.delete(key)) return;
    this.scheduler.removeModel(key);
    if (info?.inline) await this.inlineHost.unload(key);
    await this.pool.unload(key);
  }

  /** A second session on this thread; a model that fails to load here still serves from the workers. */
  private async loadInline(key: string, modelPath: string, descriptor: ModelLoadSpec["descriptor"]) {
    return this.inlineHost.load(key, modelPath, descriptor, this.intraOpNumThreads).then(
      () => true,
      () => false,
    );
  }

  has(key: string): boolean {
    return this.models.has(key);
  }

  info(key: string): LoadedModelInfo {
    const info = this.models.get(key);
    if (!info) throw new NotFoundError(`model "${key}" is not loaded`);
    return info;
  }

  async predictImages(
    key: string,
    images: Uint8Array[],
    opts: PredictOptions = {},
  ): Promise<PredictImagesResult> {
    const started = performance.now();
    this.info(key);
    if (images.length === 0) throw new InputError("no images given");
    if (images.length > MAX_IMAGES_PER_CALL)
      throw new InputError(`at most ${MAX_IMAGES_PER_CALL} images per call`);
    images.forEach((img, i) => {
      if (!(img instanceof Uint8Array) || img.length === 0) throw new InputError(`image ${i} is empty`);
    });
    const topK = opts.topK ?? this.defaultTopK;
    if (!Number.isInteger(topK) || topK < 1) throw new InputError("topK must be a positive integer");
    // Copies, so the buffers can be transferred to the worker without detaching the caller's (often pooled) ones.
    const copies = images.map((img) => new Uint8Array(img));
    const done = await this.scheduler.submit(
      key,
      { kind: "images", images: copies, topK },
      images.length,
      "images",
    );
    const r = done.result;
    if (!r.ok) throw fromWireError(r.error);
    if (r.kind !== "images") throw new Error("worker answered an image request with tensors");
    return { predictions: r.predictions, timings: timingsOf(done.reply, done.queueMs, started) };
  }

  async inferTensors(
    key: string,
    inputs: TensorInput[],
    opts: InferOptions = {},
  ): Promise<InferTensorsResult> {
    const started = performance.now();
    const info = this.info(key);
    if (!Array.isArray(inputs) || inputs.length === 0) throw new InputError("no inputs given");
    const arrays = toInputArrays(inputs, info.inputs);
    const wire: WireTensor[] = info.inputs.map((meta, i) => ({
      name: meta.name,
      type: ortTypeOf(meta.datatype),
      shape: inputs.find((t) => t.name === meta.name)!.shape,
      data: arrays[i],
    }));
    const rows = wire[0].shape[0] ?? 1;
    if (info.dynamicBatch && wire.some((t) => t.shape[0] !== rows)) {
      throw new InputError(`all inputs must have the same batch size (dimension 0); got ${shapesOf(wire)}`);
    }
    const outputs = opts.outputs;
    if (outputs) {
      for (const name of outputs) {
        if (!info.outputs.some((o) => o.name === name)) {
          throw new InputError(`unknown output "${name}"; the model's outputs are: ${shapesOfMeta(info)}`);
        }
      }
    }
    if (info.inline && rows * info.runMs <= this.inlineRunMs) {
      const reply = await this.inlineHost.run(key, [{ kind: "tensors", inputs: wire, outputs }]);
      const r = reply.items[0];
      if (!r.ok) throw fromWireError(r.error);
      if (r.kind !== "tensors") throw new Error("an inline run answered a tensor request with images");
      return { outputs: r.outputs.map(toOutput), timings: timingsOf(reply, 0, started) };
    }
    const compatKey = wire.map((t) => t.shape.slice(1).join("x")).join("|");
    const done = await this.scheduler.submit(
      key,
      { kind: "tensors", inputs: wire, outputs },
      rows,
      compatKey,
    );
    const r = done.result;
    if (!r.ok) throw fromWireError(r.error);
    if (r.kind !== "tensors") throw new Error("worker answered a tensor request with images");
    return { outputs: r.outputs.map(toOutput), timings: timingsOf(done.reply, done.queueMs, started) };
  }

  async close(): Promise<void> {
    this.scheduler.close();
    for (const [key, info] of this.models) if (info.inline) await this.inlineHost.unload(key);
    this.models.clear();
    await this.pool.close();
  }
}

function toOutput(t: WireTensor): TensorOutput {
  const datatype = datatypeOfOrt(t.type);
  if (!datatype) throw new Error(`output "${t.name}" has unsupported type ${t.type}`);
  return { name: t.name, shape: t.shape, datatype, data: t.data };
}

function timingsOf(reply: RunReply, queueMs: number, started: number): RunTimings {
  return {
    queueMs,
    preprocessMs: reply.preprocessMs,
    inferMs: reply.inferMs,
    postprocessMs: reply.postprocessMs,
    totalMs: performance.now() - started,
    batchItems: reply.batchItems,
  };
}

function shapesOf(wire: WireTensor[]): string {
  return wire.map((t) => `${t.name} [${t.shape.join(",")}]`).join(", ");
}

function shapesOfMeta(info: LoadedModelInfo): string {
  return info.outputs.map((o) => o.name).join(", ");
}

/** `message` with the model file's path, and any other absolute path, replaced by a placeholder. */
export function withoutPaths(message: string, modelPath: string): string {
  return message
    .split(modelPath)
    .join("<model file>")
    .replace(/(^|[\s"'`(=:])\/[^\s"'`),:]+/g, "$1<path>");
}
