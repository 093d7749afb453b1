import { InputError } from "../../errors.js";
import type { Datatype, TensorArray, TensorInput, TensorOutput } from "../runner/model-runner.js";
import { bytesPerElement, elementCount, isDatatype, newTypedArray, toTypedArray } from "../runner/tensors.js";

/**
 * An Open Inference Protocol (V2, REST) inference request, decoded: every input's values as a typed array
 * of its datatype, whether they came as JSON `data` or as raw bytes of the binary tensor data extension
 * (docs/architecture/serving.md, binary tensors).
 */
export interface DecodedInferRequest {
  id?: string;
  inputs: TensorInput[];
  /** The outputs asked for by name; undefined: all of the model's. */
  outputs?: string[];
  /** Whether an output goes back as binary data (`binary_data` per output, else `binary_data_output`). */
  binaryOutput(name: string): boolean;
}

/** The JSON head of an inference response; `outputs` are added by `encodeInferResponse`. */
export interface InferResponseHead {
  model_name: string;
  model_version: string;
  id: string;
  parameters: Record<string, unknown>;
}

/** A response ready to send: JSON only, or a JSON head followed by the binary outputs' bytes. */
export interface EncodedInferResponse {
  json: string;
  /** Raw little-endian output bytes in the order of the JSON outputs that carry `binary_data_size`. */
  binary: Uint8Array[];
}

// The extension carries little-endian bytes; typed arrays use the host's order. Every platform Node.js
// and onnxruntime ship for is little-endian; refuse to serve wrong numbers anywhere else.
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Splits a request body by its `Inference-Header-Content-Length` header: the first N bytes are the JSON
 * head, the rest the binary section. Without the header the whole body is JSON.
 */
export function splitInferBody(
  body: Uint8Array,
  headerLength: string | string[] | undefined,
): { json: Uint8Array; binary?: Uint8Array } {
  if (headerLength === undefined) return { json: body };
  const raw = Array.isArray(headerLength) ? headerLength.join(",") : headerLength;
  if (!/^\d{1,15}$/.test(raw.trim()))
    throw new InputError(`Inference-Header-Content-Length must be a byte count, got "${raw.slice(0, 40)}"`);
  const n = Number(raw.trim());
  if (n > body.length) {
    throw new InputError(
      `Inference-Header-Content-Length is ${n} but the body has only ${body.length} bytes`,
    );
  }
  return { json: body.subarray(0, n), binary: body.subarray(n) };
}

/**
 * Checks the request's structure and turns every input into a typed array. `binary` is the body's binary
 * section (present only with `Inference-Header-Content-Length`); inputs with `parameters.binary_data_size`
 * take their bytes from it in order, and together they must use it exactly. Shapes, datatypes and names
 * are checked against the model by the runner, with messages that name the tensor.
 */
export function decodeInferRequest(body: unknown, binary?: Uint8Array): DecodedInferRequest {
  if (!isObject(body)) throw new InputError("the request body must be a JSON object");
  const { id, parameters, inputs, outputs } = body;
  if (id !== undefined && typeof id !== "string") throw new InputError("id must be a string");
  if (parameters !== undefined && !isObject(parameters)) throw new InputError("parameters must be an object");
  if (!Array.isArray(inputs) || inputs.length === 0) throw new InputError("inputs must be a non-empty list");
  let offset = 0;
  const decoded = inputs.map((t: unknown, i) => {
    const input = decodeInput(t, i, binary, offset);
    offset += input.bytes;
    return input.tensor;
  });
  const binaryLength = binary?.length ?? 0;
  if (offset !== binaryLength) {
    throw new InputError(
      `the binary section after the JSON head holds ${binaryLength} bytes, but the inputs' binary_data_size add up to ${offset}`,
    );
  }
  const requested = decodeOutputs(outputs);
  const allBinary = flag(parameters, "binary_data_output", "parameters");
  return {
    id,
    inputs: decoded,
    outputs: requested?.map((o) => o.name),
    binaryOutput: (name) => requested?.find((o) => o.name === name)?.binary ?? allBinary ?? false,
  };
}

function decodeInput(
  t: unknown,
  i: number,
  binary: Uint8Array | undefined,
  offset: number,
): { tensor: TensorInput; bytes: number } {
  if (!isObject(t)) throw new InputError(`input ${i} must be an object`);
  const where = `input ${typeof t.name === "string" ? `"${t.name}"` : i}`;
  if (typeof t.name !== "string" || t.name === "") throw new InputError(`input ${i}: name is required`);
  if (typeof t.datatype !== "string" || !isDatatype(t.datatype)) {
    throw new InputError(
      `${where}: unsupported datatype ${JSON.stringify(t.datatype)} (BYTES is not supported)`,
    );
  }
  const shape = t.shape;
  if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    throw new InputError(`${where}: shape must be a list of non-negative integers`);
  }
  if (t.parameters !== undefined && !isObject(t.parameters))
    throw new InputError(`${where}: parameters must be an object`);
  const datatype: Datatype = t.datatype;
  const size = t.parameters?.binary_data_size;
  if (size === undefined) {
    if (!Array.isArray(t.data)) throw new InputError(`${where}: data must be a list`);
    if (datatype === "FP16") {
      throw new InputError(`${where}: FP16 has no JSON form; send it with the binary tensor data extension`);
    }
    const data = toTypedArray({ name: t.name, shape, datatype, data: flatten(t.data, where) as number[] });
    return { tensor: { name: t.name, shape, datatype, data }, bytes: 0 };
  }
  if (t.data !== undefined) throw new InputError(`${where}: give either data or binary_data_size, not both`);
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0)
    throw new InputError(`${where}: binary_data_size must be a non-negative integer`);
  if (!binary) {
    throw new InputError(
      `${where}: binary_data_size needs the Inference-Header-Content-Length header (the JSON head's length)`,
    );
  }
  const want = elementCount(shape) * bytesPerElement(datatype);
  if (size !== want) {
    throw new InputError(
      `${where}: binary_data_size is ${size} bytes, but shape [${shape.join(",")}] of ${datatype} needs ${want}`,
    );
  }
  if (offset + size > binary.length) {
    throw new InputError(
      `${where}: binary_data_size ${size} runs past the end of the binary section (${binary.length - offset} bytes left)`,
    );
  }
  const data = fromBytes(datatype, binary.subarray(offset, offset + size), where);
  return { tensor: { name: t.name, shape, datatype, data }, bytes: size };
}

/** Little-endian bytes as a fresh (aligned, transferable) typed array. */
function fromBytes(datatype: Datatype, bytes: Uint8Array, where: string): TensorArray {
  if (!HOST_IS_LITTLE_ENDIAN) throw new Error("binary tensors need a little-endian host");
  const out = newTypedArray(datatype, bytes.length / bytesPerElement(datatype));
  new Uint8Array(out.buffer).set(bytes);
  if (datatype === "BOOL" && (out as Uint8Array).some((b) => b > 1))
    throw new InputError(`${where}: BOOL bytes must be 0 or 1`);
  return out;
}

function decodeOutputs(outputs: unknown): Array<{ name: string; binary?: boolean }> | undefined {
  if (outputs === undefined) return undefined;
  if (!Array.isArray(outputs)) throw new InputError("outputs must be a list");
  return outputs.map((o: unknown, i) => {
    if (!isObject(o) || typeof o.name !== "string") throw new InputError(`output ${i}: name is required`);
    if (o.parameters !== undefined && !isObject(o.parameters))
      throw new InputError(`output "${o.name}": parameters must be an object`);
    return { name: o.name, binary: flag(o.parameters, "binary_data", `output "${o.name}"`) };
  });
}

function flag(parameters: Record<string, unknown> | undefined, key: string, where: string) {
  const value = parameters?.[key];
  if (value !== undefined && typeof value !== "boolean")
    throw new InputError(`${where}: ${key} must be a boolean`);
  return value;
}

function flatten(data: unknown[], where: string): unknown[] {
  if (!data.some(Array.isArray)) return data;
  const out: unknown[] = [];
  const walk = (x: unknown, depth: number) => {
    if (depth > 16) throw new InputError(`${where}: data is nested too deeply`);
    if (Array.isArray(x)) for (const y of x) walk(y, depth + 1);
    else out.push(x);
  };
  walk(data, 0);
  return out;
}

/**
 * The response: outputs as JSON data (flat row-major numbers; INT64/UINT64 as numbers, exact up to 2^53;
 * BOOL as booleans; FP16 as its raw 16-bit patterns), or, where `binaryOutput` says so, as
 * `parameters.binary_data_size` in the JSON head and raw little-endian bytes after it.
 */
export function encodeInferResponse(
  head: InferResponseHead,
  outputs: TensorOutput[],
  binaryOutput: (name: string) => boolean,
): EncodedInferResponse {
  const binary: Uint8Array[] = [];
  const json = outputs.map((o) => {
    if (!binaryOutput(o.name))
      return { name: o.name, shape: o.shape, datatype: o.datatype, data: jsonData(o) };
    binary.push(new Uint8Array(o.data.buffer, o.data.byteOffset, o.data.byteLength));
    return {
      name: o.name,
      shape: o.shape,
      datatype: o.datatype,
      parameters: { binary_data_size: o.data.byteLength },
    };
  });
  return { json: JSON.stringify({ ...head, outputs: json }), binary };
}

function jsonData(o: TensorOutput): Array<number | boolean> {
  if (o.data instanceof BigInt64Array || o.data instanceof BigUint64Array) return Array.from(o.data, Number);
  if (o.datatype === "BOOL") return Array.from(o.data as Uint8Array, (v) => v !== 0);
  return Array.from(o.data as ArrayLike<number>);
}

function isObject(x: unknown): x is Record<string, unknown> & { parameters?: Record<string, unknown> } {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}
