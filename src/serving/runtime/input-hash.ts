import { createHash } from "node:crypto";
import type { TensorInput } from "../runner/model-runner.js";

/** The prediction log's input reference: sha256 of the image bytes. */
export function hashImage(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/**
 * Names, datatypes, shapes and values: typed arrays by their bytes, JSON numbers as float64 (so the same
 * JSON request always hashes the same, whatever its formatting or nesting).
 */
export function hashTensors(inputs: TensorInput[]): string {
  const h = createHash("sha256");
  for (const t of inputs) {
    h.update(JSON.stringify([t.name, t.datatype, t.shape]));
    const data = t.data as ArrayLike<number | boolean | bigint>;
    if (ArrayBuffer.isView(data)) h.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    else h.update(asFloat64Bytes(data as ArrayLike<number | boolean>));
  }
  return h.digest("hex");
}

/** JSON values as float64 bytes; a plain loop (this runs on every request over thousands of numbers). */
function asFloat64Bytes(data: ArrayLike<number | boolean>): Uint8Array {
  const out = new Float64Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = Number(data[i]);
  return new Uint8Array(out.buffer);
}
