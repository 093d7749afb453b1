import { describe, expect, it } from "vitest";
import { InputError } from "../../errors.js";
import { classify, decodeDetections, softmax, topKIndices } from "./postprocess.js";
import { toInputArrays } from "./tensors.js";

describe("softmax and top-k", () => {
  it("softmax sums to 1, keeps order, and survives huge logits", () => {
    const p = softmax([1, 2, 3]);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    const e = [Math.exp(1), Math.exp(2), Math.exp(3)];
    const s = e[0] + e[1] + e[2];
    expect(Array.from(p)).toEqual(e.map((v) => expect.closeTo(v / s, 12)));
    const big = softmax([1000, 1001]);
    expect(Number.isFinite(big[0])).toBe(true);
    expect(big[1]).toBeCloseTo(1 / (1 + Math.exp(-1)), 12);
  });

  it("top-k returns the best first, ties by index, capped at the length", () => {
    expect(topKIndices([0.1, 0.7, 0.2], 2)).toEqual([1, 2]);
    expect(topKIndices([0.5, 0.5, 0.1], 3)).toEqual([0, 1, 2]);
    expect(topKIndices([0.5, 0.2], 10)).toEqual([0, 1]);
  });

  it("classify applies softmax only to logits", () => {
    const fromLogits = classify([0, Math.log(3)], ["a", "b"], { kind: "logits" }, 2);
    expect(fromLogits).toEqual([
      { label: "b", index: 1, score: expect.closeTo(0.75, 12) },
      { label: "a", index: 0, score: expect.closeTo(0.25, 12) },
    ]);
    const fromProbs = classify([0.2, 0.8], ["a", "b"], { kind: "probabilities" }, 1);
    expect(fromProbs).toEqual([{ label: "b", index: 1, score: 0.8 }]);
  });
});

describe("decodeDetections", () => {
  it("drops padding and low scores, orders corners, clamps, sorts by score", () => {
    const boxes = [0.1, 0.2, 0.3, 0.4, 0.9, 0.8, 0.5, 0.6, 0, 0, 1, 1, -0.2, 0.5, 1.3, 0.7];
    const scores = [0.5, 0.9, 0, 0.35];
    const labels = new BigInt64Array([0n, 1n, 2n, 1n]);
    const found = decodeDetections(boxes, scores, labels, ["cat", "dog", "cow"], {
      kind: "detection",
      scoreThreshold: 0.4,
    });
    expect(found).toEqual([
      { label: "dog", index: 1, score: 0.9, x1: 0.5, y1: 0.6, x2: 0.9, y2: 0.8 },
      { label: "cat", index: 0, score: 0.5, x1: 0.1, y1: 0.2, x2: 0.3, y2: 0.4 },
    ]);
    const lower = decodeDetections(boxes, scores, labels, ["cat", "dog", "cow"], {
      kind: "detection",
      scoreThreshold: 0.3,
    });
    expect(lower.map((b) => b.score)).toEqual([0.9, 0.5, 0.35]);
    expect(lower[2]).toMatchObject({ x1: 0, x2: 1, y1: 0.5, y2: 0.7 });
  });
});

describe("toInputArrays", () => {
  const metas = [{ name: "input", datatype: "FP32" as const, shape: [-1, 2, 2] }];

  it("converts JSON numbers and checks every dimension", () => {
    const [arr] = toInputArrays(
      [{ name: "input", shape: [1, 2, 2], datatype: "FP32", data: [1, 2, 3, 4] }],
      metas,
    );
    expect(arr).toBeInstanceOf(Float32Array);
    expect(Array.from(arr as Float32Array)).toEqual([1, 2, 3, 4]);
    const [ids] = toInputArrays(
      [{ name: "ids", shape: [2], datatype: "INT64", data: [7, -1] }],
      [{ name: "ids", datatype: "INT64", shape: [2] }],
    );
    expect(Array.from(ids as BigInt64Array)).toEqual([7n, -1n]);
  });

  it("rejects mismatches with precise InputErrors", () => {
    const bad =
      (shape: number[], datatype: string, data: ArrayLike<number>, name = "input") =>
      () =>
        toInputArrays([{ name, shape, datatype: datatype as "FP32", data }], metas);
    expect(bad([1, 2, 3], "FP32", new Array(6).fill(0))).toThrow(/dimension 2/);
    expect(bad([1, 4], "FP32", [1, 2, 3, 4])).toThrow(/rank 2/);
    expect(bad([1, 2, 2], "INT32", [1, 2, 3, 4])).toThrow(/datatype INT32 does not match the model's FP32/);
    expect(bad([1, 2, 2], "FP32", [1, 2, 3])).toThrow(/needs 4 values, got 3/);
    expect(bad([1, 2, 2], "FP32", [1, 2, 3, 4], "x")).toThrow(/unknown input "x"/);
    expect(bad([1, 2, 2], "STRING", [1, 2, 3, 4])).toThrow(InputError);
    expect(bad([1, 2, 2], "FP32", new Float64Array(4))).toThrow(/must be a Float32Array/);
    expect(() => toInputArrays([], metas)).toThrow(/missing input "input"/);
  });
});
