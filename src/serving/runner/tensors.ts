import { InputError } from "../../errors.js";
import type { Datatype, TensorArray, TensorInput, TensorMetadata } from "./model-runner.js";

/** onnxruntime's element type names, for the datatypes the runner handles. */
export type OrtType =
  | "bool"
  | "uint8"
  | "uint16"
  | "uint32"
  | "uint64"
  | "int8"
  | "int16"
  | "int32"
  | "int64"
  | "float16"
  | "float32"
  | "float64";

const ORT_BY_DATATYPE: Record<Datatype, OrtType> = {
  BOOL: "bool",
  UINT8: "uint8",
  UINT16: "uint16",
  UINT32: "uint32",
  UINT64: "uint64",
  INT8: "int8",
  INT16: "int16",
  INT32: "int32",
  INT64: "int64",
  FP16: "float16",
  FP32: "float32",
  FP64: "float64",
};

const DATATYPE_BY_ORT = Object.fromEntries(Object.entries(ORT_BY_DATATYPE).map(([d, o]) => [o, d])) as Record<
  OrtType,
  Datatype
>;

type ArrayCtor = { new (n: number): TensorArray; name: string; BYTES_PER_ELEMENT: number };

const ARRAY_BY_DATATYPE: Record<Datatype, ArrayCtor> = {
  BOOL: Uint8Array,
  UINT8: Uint8Array,
  UINT16: Uint16Array,
  UINT32: Uint32Array,
  UINT64: BigUint64Array,
  INT8: Int8Array,
  INT16: Int16Array,
  INT32: Int32Array,
  INT64: BigInt64Array,
  // FP16 travels as its raw 16-bit patterns, as onnxruntime-node takes and returns it.
  FP16: Uint16Array,
  FP32: Float32Array,
  FP64: Float64Array,
};

/** A zero-filled array for `count` elements of an onnxruntime element type. */
export function newOrtArray(type: OrtType, count: number): TensorArray {
  return new ARRAY_BY_DATATYPE[DATATYPE_BY_ORT[type]](count);
}

export function ortTypeOf(datatype: Datatype): OrtType {
  return ORT_BY_DATATYPE[datatype];
}

/** The OIP datatype of an onnxruntime element type; undefined for types the runner does not serve (string, int4). */
export function datatypeOfOrt(type: string): Datatype | undefined {
  return (DATATYPE_BY_ORT as Record<string, Datatype | undefined>)[type];
}

export function isDatatype(value: string): value is Datatype {
  return Object.hasOwn(ORT_BY_DATATYPE, value);
}

export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * Checks one request tensor against the model's input metadata and returns its data as a fresh typed
 * array of the right element type (fresh, so it can be transferred to a worker without detaching the
 * caller's buffer). Every mismatch is an InputError that names the tensor and what was expected.
 */
export function toInputArray(input: TensorInput, meta: TensorMetadata): TensorArray {
  const where = `input "${input.name}"`;
  if (input.datatype !== meta.datatype) {
    throw new InputError(`${where}: datatype ${input.datatype} does not match the model's ${meta.datatype}`);
  }
  const shape = input.shape;
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new InputError(`${where}: shape must be a list of non-negative integers`);
  }
  if (shape.length !== meta.shape.length) {
    throw new InputError(
      `${where}: shape [${shape.join(",")}] has rank ${shape.length}, the model expects rank ${meta.shape.length} ` +
        `[${meta.shape.join(",")}]`,
    );
  }
  meta.shape.forEach((want, i) => {
    if (want >= 0 && shape[i] !== want) {
      throw new InputError(
        `${where}: shape [${shape.join(",")}] does not match the model's [${meta.shape.join(",")}] at dimension ${i}`,
      );
    }
  });
  const count = elementCount(shape);
  if (input.data.length !== count) {
    throw new InputError(
      `${where}: shape [${shape.join(",")}] needs ${count} values, got ${input.data.length}`,
    );
  }
  return copyAs(input, count);
}

/**
 * The values of a request tensor as a fresh typed array of its datatype's element type (no check against
 * a model): JSON numbers are converted once, here, so later steps (hash, copy to the worker) see bytes.
 */
export function toTypedArray(input: TensorInput): TensorArray {
  return copyAs(input, input.data.length);
}

/** Bytes per element of a datatype as the binary tensor extension carries it (BOOL: one byte). */
export function bytesPerElement(datatype: Datatype): number {
  return ARRAY_BY_DATATYPE[datatype].BYTES_PER_ELEMENT;
}

/** A zero-filled typed array of a datatype's element type. */
export function newTypedArray(datatype: Datatype, count: number): TensorArray {
  return new ARRAY_BY_DATATYPE[datatype](count);
}

function copyAs(input: TensorInput, count: number): TensorArray {
  const ctor = ARRAY_BY_DATATYPE[input.datatype];
  const out = new ctor(count);
  const data = input.data;
  if (ArrayBuffer.isView(data)) {
    if (data.constructor !== ctor) {
      throw new InputError(
        `input "${input.name}": ${input.datatype} data must be a ${ctor.name}, got ${data.constructor.name}`,
      );
    }
    (out as Uint8Array).set(data as Uint8Array);
    return out;
  }
  if (input.datatype === "FP16") {
    throw new InputError(`input "${input.name}": FP16 data must be given as raw 16-bit values (Uint16Array)`);
  }
  if (out instanceof BigInt64Array || out instanceof BigUint64Array) {
    for (let i = 0; i < count; i++) {
      const v = data[i];
      if (typeof v !== "number" || !Number.isSafeInteger(v)) {
        throw new InputError(`input "${input.name}": element ${i} is not an integer`);
      }
      out[i] = BigInt(v);
    }
    return out;
  }
  const numeric = out as Float64Array;
  const integral = input.datatype !== "FP32" && input.datatype !== "FP64";
  for (let i = 0; i < count; i++) {
    const v = data[i];
    const n = typeof v === "boolean" && input.datatype === "BOOL" ? Number(v) : v;
    if (typeof n !== "number" || (integral && !Number.isInteger(n))) {
      throw new InputError(`input "${input.name}": element ${i} is not a valid ${input.datatype} value`);
    }
    numeric[i] = n;
  }
  return out;
}

/** Checks a whole request: every model input given exactly once, no unknown names. */
export function toInputArrays(inputs: TensorInput[], metas: TensorMetadata[]): TensorArray[] {
  const byName = new Map(inputs.map((t) => [t.name, t]));
  if (byName.size !== inputs.length) throw new InputError("an input name appears more than once");
  for (const t of inputs) {
    if (!metas.some((m) => m.name === t.name)) {
      throw new InputError(
        `unknown input "${t.name}"; the model's inputs are: ${metas.map((m) => m.name).join(", ")}`,
      );
    }
  }
  return metas.map((meta) => {
    const t = byName.get(meta.name);
    if (!t) throw new InputError(`missing input "${meta.name}"`);
    if (typeof t.datatype !== "string" || !isDatatype(t.datatype)) {
      throw new InputError(`input "${t.name}": unsupported datatype ${String(t.datatype)}`);
    }
    return toInputArray(t, meta);
  });
}
