import type { ModelDescriptor } from "../../registry/model-descriptor.js";
import type { ImagePrediction, TensorArray, TensorMetadata } from "./model-runner.js";
import type { OrtType } from "./tensors.js";

/** Messages between the pool (main thread) and an inference worker. Every request carries an id; the reply echoes it. */
export type WorkerRequest =
  | {
      type: "load";
      id: number;
      key: string;
      modelPath: string;
      descriptor: ModelDescriptor;
      intraOpNumThreads: number;
    }
  | { type: "unload"; id: number; key: string }
  | { type: "run"; id: number; key: string; items: WorkItem[] };

/** One caller's request; a run message holds several when they are batched (all of one kind). */
export type WorkItem =
  | { kind: "images"; images: Uint8Array[]; topK: number }
  | { kind: "tensors"; inputs: WireTensor[]; outputs?: string[] };

export interface WireTensor {
  name: string;
  type: OrtType;
  shape: number[];
  data: TensorArray;
}

export type ItemResult =
  | { ok: true; kind: "images"; predictions: ImagePrediction[] }
  | { ok: true; kind: "tensors"; outputs: WireTensor[] }
  | { ok: false; error: WireError };

export interface RunReply {
  items: ItemResult[];
  preprocessMs: number;
  inferMs: number;
  postprocessMs: number;
  batchItems: number;
}

export interface LoadReply {
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
  loadMs: number;
  /** One warm inference on zeros (one row), after the first: what a small request costs this model. */
  runMs: number;
}

/** Errors cross the thread boundary as plain data; `name` lets the pool rebuild InputError. */
export interface WireError {
  name: string;
  message: string;
}

export type WorkerReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: WireError };
