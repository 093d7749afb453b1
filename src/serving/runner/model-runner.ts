import { UnprocessableError } from "../../errors.js";
import type { ModelDescriptor } from "../../registry/model-descriptor.js";

/** The model file cannot be loaded, or does not match its model.json. */
export class ModelLoadError extends UnprocessableError {
  override readonly code: string = "MODEL_LOAD_FAILED";
}

/**
 * What serving needs from an inference engine: load a model version once, predict on images (pre- and
 * postprocessing from its model.json), or run raw tensors (the Open Inference Protocol path).
 * The onnxruntime + worker-thread implementation is `OnnxModelRunner`.
 */
export interface ModelRunner {
  /** Loads and warms up a model version under `key`; ConflictError if the key is taken, ModelLoadError if the file is bad. */
  load(spec: ModelLoadSpec): Promise<LoadedModelInfo>;
  /** Frees the model; requests still queued for it fail with NotFoundError. No-op for an unknown key. */
  unload(key: string): Promise<void>;
  /** The loaded model's tensor metadata (OIP `GET /v2/models/{name}`); NotFoundError if not loaded. */
  info(key: string): LoadedModelInfo;
  has(key: string): boolean;
  predictImages(key: string, images: Uint8Array[], opts?: PredictOptions): Promise<PredictImagesResult>;
  inferTensors(key: string, inputs: TensorInput[], opts?: InferOptions): Promise<InferTensorsResult>;
  /** Stops the workers; pending requests fail. */
  close(): Promise<void>;
}

export interface ModelLoadSpec {
  /** Caller-chosen identity, e.g. `${model}:${version}`. */
  key: string;
  /** Path to model.onnx on local disk. */
  modelPath: string;
  descriptor: ModelDescriptor;
  /** Dynamic batching for this model; off when absent. */
  batching?: BatchingOptions;
}

export interface BatchingOptions {
  /** Most items (images, or batch rows of tensor requests) in one inference. */
  maxBatchSize: number;
  /** Longest a queued request waits for others before its batch runs anyway. */
  maxDelayMs: number;
}

/** Open Inference Protocol tensor datatypes that the runner accepts and returns. */
export type Datatype =
  | "BOOL"
  | "UINT8"
  | "UINT16"
  | "UINT32"
  | "UINT64"
  | "INT8"
  | "INT16"
  | "INT32"
  | "INT64"
  | "FP16"
  | "FP32"
  | "FP64";

export type TensorArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

export interface TensorInput {
  name: string;
  shape: number[];
  datatype: Datatype;
  /** Flat, row-major. A typed array of the datatype's element type, or plain JSON numbers/booleans. */
  data: TensorArray | ArrayLike<number> | ArrayLike<boolean>;
}

export interface TensorOutput {
  name: string;
  shape: number[];
  datatype: Datatype;
  /** INT64/UINT64 come as BigInt64Array/BigUint64Array, BOOL as Uint8Array (0/1), FP16 as raw Uint16Array bits. */
  data: TensorArray;
}

export interface TensorMetadata {
  name: string;
  datatype: Datatype;
  /** -1 marks a dynamic dimension (as OIP model metadata does). */
  shape: number[];
}

export interface LoadedModelInfo {
  key: string;
  task: ModelDescriptor["task"];
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
  /** Whether dimension 0 of every input and output is dynamic, i.e. requests can be batched. */
  dynamicBatch: boolean;
  batching?: BatchingOptions;
  /** Per-worker load + warm-up time. */
  loadMs: number;
  /** A warm one-row inference, measured at load. */
  runMs: number;
  /** Small tensor requests run on the calling thread (the model is cheaper than a hop to a worker). */
  inline: boolean;
}

export interface PredictOptions {
  /** Classification: how many labels per image, best first (default 5, capped at the class count). */
  topK?: number;
}

export interface InferOptions {
  /** Only these outputs (OIP `outputs`); default all. */
  outputs?: string[];
}

export interface ClassificationPrediction {
  task: "classification";
  width: number;
  height: number;
  labels: { label: string; index: number; score: number }[];
}

/** Box corners normalized to 0..1 of the image's width/height. */
export interface DetectedBox {
  label: string;
  index: number;
  score: number;
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

export interface DetectionPrediction {
  task: "detection";
  width: number;
  height: number;
  boxes: DetectedBox[];
}

export type ImagePrediction = ClassificationPrediction | DetectionPrediction;

/** Where the time of one call went, in milliseconds; for metrics and logs. */
export interface RunTimings {
  /** Waiting for a worker (and, with batching, for the batch to fill). */
  queueMs: number;
  /** Decode + resize + normalize, for the whole batch this call ran in. */
  preprocessMs: number;
  /** onnxruntime `run` for the whole batch. */
  inferMs: number;
  postprocessMs: number;
  /** From the call to its answer. */
  totalMs: number;
  /** Items in the inference this call's items ran in (> own items when batched with others). */
  batchItems: number;
}

export interface PredictImagesResult {
  predictions: ImagePrediction[];
  timings: RunTimings;
}

export interface InferTensorsResult {
  outputs: TensorOutput[];
  timings: RunTimings;
}
