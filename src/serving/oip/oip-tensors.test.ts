import { describe, expect, it } from "vitest";
import { InputError } from "../../errors.js";
import { decodeInferRequest, encodeInferResponse, splitInferBody } from "./oip-tensors.js";

const enc = new TextEncoder();

/** A request body as a binary-extension client builds it: JSON head, then the raw tensor bytes. */
function binaryBody(
  head: unknown,
  ...tensors: ArrayBufferView[]
): { body: Uint8Array; headerLength: string } {
  const json = enc.encode(JSON.stringify(head));
  const parts = [json, ...tensors.map((t) => new Uint8Array(t.buffer, t.byteOffset, t.byteLength))];
  const body = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    body.set(p, at);
    at += p.length;
  }
  return { body, headerLength: String(json.length) };
}

function decodeBinary(head: unknown, ...tensors: ArrayBufferView[]) {
  const { body, headerLength } = binaryBody(head, ...tensors);
  const split = splitInferBody(body, headerLength);
  return decodeInferRequest(JSON.parse(new TextDecoder().decode(split.json)), split.binary);
}

describe("OIP request decoding", () => {
  it("turns JSON data (flat or nested) into typed arrays of the datatype", () => {
    const d = decodeInferRequest({
      id: "r1",
      inputs: [
        {
          name: "x",
          shape: [2, 2],
          datatype: "FP32",
          data: [
            [0.5, 1],
            [2, 3],
          ],
        },
        { name: "k", shape: [2], datatype: "INT64", data: [1, -2] },
        { name: "m", shape: [2], datatype: "BOOL", data: [true, false] },
      ],
    });
    expect(d.id).toBe("r1");
    expect(d.inputs[0].data).toEqual(Float32Array.from([0.5, 1, 2, 3]));
    expect(d.inputs[1].data).toEqual(BigInt64Array.from([1n, -2n]));
    expect(d.inputs[2].data).toEqual(Uint8Array.from([1, 0]));
    expect(d.outputs).toBeUndefined();
    expect(d.binaryOutput("y")).toBe(false);
  });

  it("reads binary inputs from the bytes after the JSON head, in input order, exactly as JSON would give them", () => {
    const x = Float32Array.from([0.25, -1.5, 3, 4e-8]);
    const k = BigInt64Array.from([7n, -9n]);
    const d = decodeBinary(
      {
        inputs: [
          { name: "x", shape: [1, 4], datatype: "FP32", parameters: { binary_data_size: 16 } },
          { name: "j", shape: [1], datatype: "INT32", data: [5] },
          { name: "k", shape: [2], datatype: "INT64", parameters: { binary_data_size: 16 } },
        ],
        outputs: [{ name: "y", parameters: { binary_data: true } }, { name: "z" }],
      },
      x,
      k,
    );
    expect(d.inputs.map((t) => t.data)).toEqual([x, Int32Array.from([5]), k]);
    expect(d.outputs).toEqual(["y", "z"]);
    expect(d.binaryOutput("y")).toBe(true);
    expect(d.binaryOutput("z")).toBe(false);
    const same = decodeInferRequest({
      inputs: [{ name: "x", shape: [1, 4], datatype: "FP32", data: Array.from(x) }],
    });
    expect(same.inputs[0].data).toEqual(d.inputs[0].data);
  });

  it("copies binary tensors into aligned arrays of their own (odd JSON head lengths, FP16 as raw bits)", () => {
    const bits = Uint16Array.from([0x3c00, 0xc000, 0x7bff]);
    const d = decodeBinary(
      {
        inputs: [{ name: "h", shape: [3], datatype: "FP16", parameters: { binary_data_size: 6 } }],
        id: "odd",
      },
      bits,
    );
    expect(d.inputs[0].data).toBeInstanceOf(Uint16Array);
    expect(Array.from(d.inputs[0].data as Uint16Array)).toEqual([0x3c00, 0xc000, 0x7bff]);
    expect((d.inputs[0].data as Uint16Array).byteOffset).toBe(0);
  });

  it("applies the request-level binary_data_output unless an output says otherwise", () => {
    const d = decodeInferRequest({
      parameters: { binary_data_output: true },
      inputs: [{ name: "x", shape: [1], datatype: "FP32", data: [1] }],
      outputs: [{ name: "a" }, { name: "b", parameters: { binary_data: false } }],
    });
    expect(d.binaryOutput("a")).toBe(true);
    expect(d.binaryOutput("b")).toBe(false);
  });

  it("refuses sizes that do not add up, with messages that say which numbers differ", () => {
    const head = (size: number) => ({
      inputs: [{ name: "x", shape: [1, 4], datatype: "FP32", parameters: { binary_data_size: size } }],
    });
    const four = Float32Array.from([1, 2, 3, 4]);
    expect(() => decodeBinary(head(12), four)).toThrow(
      /binary_data_size is 12 bytes, but shape \[1,4\] of FP32 needs 16/,
    );
    expect(() => decodeBinary(head(16), four.subarray(0, 3))).toThrow(
      /runs past the end of the binary section/,
    );
    expect(() => decodeBinary(head(16), four, Float32Array.from([5]))).toThrow(
      /holds 20 bytes, but the inputs' binary_data_size add up to 16/,
    );
    const { body } = binaryBody(head(16), four);
    expect(() => splitInferBody(body, String(body.length + 1))).toThrow(
      new InputError(
        `Inference-Header-Content-Length is ${body.length + 1} but the body has only ${body.length} bytes`,
      ),
    );
    expect(() => splitInferBody(body, "12abc")).toThrow(/must be a byte count/);
    expect(() => decodeInferRequest(head(16))).toThrow(/needs the Inference-Header-Content-Length header/);
  });

  it("refuses malformed requests before anything runs", () => {
    const x = { name: "x", shape: [1], datatype: "FP32", data: [1] };
    const cases: Array<[unknown, RegExp]> = [
      [[], /must be a JSON object/],
      [{ inputs: [] }, /non-empty list/],
      [{ inputs: [{ ...x, datatype: "BYTES" }] }, /unsupported datatype "BYTES"/],
      [{ inputs: [{ ...x, shape: [-1] }] }, /shape must be a list of non-negative integers/],
      [{ inputs: [{ ...x, data: ["a"] }] }, /element 0 is not a valid FP32 value/],
      [{ inputs: [{ ...x, datatype: "FP16" }] }, /FP16 has no JSON form/],
      [{ inputs: [{ ...x, parameters: { binary_data_size: 4 } }] }, /either data or binary_data_size/],
      [
        { inputs: [x], outputs: [{ name: "y", parameters: { binary_data: "yes" } }] },
        /binary_data must be a boolean/,
      ],
      [{ inputs: [x], id: 5 }, /id must be a string/],
    ];
    for (const [body, message] of cases)
      expect(() => decodeInferRequest(body), JSON.stringify(body)).toThrow(message);
    expect(() =>
      decodeBinary(
        { inputs: [{ name: "m", shape: [2], datatype: "BOOL", parameters: { binary_data_size: 2 } }] },
        Uint8Array.from([1, 2]),
      ),
    ).toThrow(/BOOL bytes must be 0 or 1/);
  });
});

describe("OIP response encoding", () => {
  const outputs = [
    { name: "logits", shape: [1, 2], datatype: "FP32" as const, data: Float32Array.from([0.5, -2]) },
    { name: "ids", shape: [1], datatype: "INT64" as const, data: BigInt64Array.from([3n]) },
  ];
  const head = { model_name: "m", model_version: "1", id: "r", parameters: { prediction_id: "p" } };

  it("answers plain JSON when no output is binary", () => {
    const r = encodeInferResponse(head, outputs, () => false);
    expect(r.binary).toEqual([]);
    expect(JSON.parse(r.json).outputs).toEqual([
      { name: "logits", shape: [1, 2], datatype: "FP32", data: [0.5, -2] },
      { name: "ids", shape: [1], datatype: "INT64", data: [3] },
    ]);
  });

  it("puts binary outputs after the head, announced by binary_data_size, in the head's order", () => {
    const r = encodeInferResponse(head, outputs, (name) => name === "logits");
    const parsed = JSON.parse(r.json);
    expect(parsed.outputs[0]).toEqual({
      name: "logits",
      shape: [1, 2],
      datatype: "FP32",
      parameters: { binary_data_size: 8 },
    });
    expect(parsed.outputs[1].data).toEqual([3]);
    expect(r.binary).toHaveLength(1);
    expect(new Float32Array(r.binary[0].slice().buffer)).toEqual(Float32Array.from([0.5, -2]));
  });
});
