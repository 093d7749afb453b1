import { InputError } from "../../errors.js";
import type { Datatype, TensorInput, TensorOutput } from "../runner/model-runner.js";
import { isDatatype } from "../runner/tensors.js";

/** An Open Inference Protocol (V2, REST) request tensor as JSON carries it. */
export interface OipTensor {
  name: string;
  shape: number[];
  datatype: string;
  /** Flat row-major, or nested to the tensor's shape. */
  data: unknown[];
  parameters?: Record<string, unknown>;
}

export interface OipRequest {
  id?: string;
  parameters?: Record<string, unknown>;
  inputs: OipTensor[];
  outputs?: Array<{ name: string; parameters?: Record<string, unknown> }>;
}

export interface OipOutputTensor {
  name: string;
  shape: number[];
  datatype: Datatype;
  data: Array<number | boolean>;
}

/**
 * Request tensors for the runner: datatype names checked, `data` flattened when nested (the protocol
 * allows both). Shape, count and element types are checked by the runner against the model's inputs,
 * with messages that name the tensor.
 */
export function decodeInputs(request: OipRequest): TensorInput[] {
  if (!Array.isArray(request.inputs) || request.inputs.length === 0)
    throw new InputError("inputs must be a non-empty list");
  return request.inputs.map((t, i) => {
    const where = `input ${typeof t?.name === "string" ? `"${t.name}"` : i}`;
    if (typeof t?.name !== "string" || t.name === "") throw new InputError(`input ${i}: name is required`);
    if (typeof t.datatype !== "string" || !isDatatype(t.datatype)) {
      throw new InputError(
        `${where}: unsupported datatype ${JSON.stringify(t.datatype)} (BYTES is not supported)`,
      );
    }
    if (!Array.isArray(t.shape) || t.shape.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new InputError(`${where}: shape must be a list of non-negative integers`);
    }
    if (!Array.isArray(t.data)) throw new InputError(`${where}: data must be a list`);
    // Element types are checked by the runner while it copies the values into a typed array.
    const flat = flatten(t.data, where);
    return { name: t.name, shape: t.shape, datatype: t.datatype, data: flat as number[] | boolean[] };
  });
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

/** Output tensors as JSON: flat row-major numbers; INT64/UINT64 as numbers (exact up to 2^53), BOOL as booleans. */
export function encodeOutputs(outputs: TensorOutput[]): OipOutputTensor[] {
  return outputs.map((o) => {
    let data: Array<number | boolean>;
    if (o.data instanceof BigInt64Array || o.data instanceof BigUint64Array)
      data = Array.from(o.data, Number);
    else if (o.datatype === "BOOL") data = Array.from(o.data as Uint8Array, (v) => v !== 0);
    else data = Array.from(o.data as ArrayLike<number>);
    return { name: o.name, shape: o.shape, datatype: o.datatype, data };
  });
}
