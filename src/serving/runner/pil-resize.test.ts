import { describe, expect, it } from "vitest";
import { centerCropLikeTorchvision, type RawImage, resizeLikePil } from "./pil-resize.js";

// Exactness against real PIL/torchvision on many images: test/serving-parity.test.ts. These pin the rules.
function gray(width: number, height: number, values: number[]): RawImage {
  return { data: Uint8Array.from(values), width, height, channels: 1 };
}

describe("resizeLikePil", () => {
  it("downscales bilinear with a support stretched by the scale (antialiasing, as Pillow)", () => {
    // 4 -> 2: support 2 input pixels; output 0 weighs inputs 0, 1, 2 by 0.75, 0.75, 0.25 (normalized).
    const out = resizeLikePil(gray(4, 1, [0, 70, 140, 210]), 2, 1, "bilinear");
    expect(Array.from(out.data)).toEqual([50, 160]);
    // A plain 2-tap bilinear (OpenCV, no antialiasing) would give 35 and 175.
  });

  it("keeps a same-size image untouched and a constant image constant, whatever the filter", () => {
    const src = gray(3, 2, [1, 2, 3, 4, 5, 6]);
    expect(resizeLikePil(src, 3, 2, "bicubic")).toBe(src);
    for (const f of ["nearest", "bilinear", "bicubic"] as const) {
      const flat = resizeLikePil(gray(5, 7, new Array(35).fill(200)), 11, 3, f);
      expect(new Set(flat.data)).toEqual(new Set([200]));
      expect({ w: flat.width, h: flat.height }).toEqual({ w: 11, h: 3 });
    }
  });

  it("clips bicubic overshoot to 0..255", () => {
    const out = resizeLikePil(gray(4, 1, [0, 0, 255, 255]), 9, 1, "bicubic");
    expect(Math.min(...out.data)).toBe(0);
    expect(Math.max(...out.data)).toBe(255);
  });

  it("picks nearest pixels at the centre of each output cell", () => {
    expect(Array.from(resizeLikePil(gray(4, 1, [10, 20, 30, 40]), 2, 1, "nearest").data)).toEqual([20, 40]);
    expect(Array.from(resizeLikePil(gray(2, 1, [10, 20]), 4, 1, "nearest").data)).toEqual([10, 10, 20, 20]);
  });

  it("resizes every channel of interleaved RGB alike", () => {
    const rgb: RawImage = {
      data: Uint8Array.from([0, 100, 200, 70, 100, 130]),
      width: 2,
      height: 1,
      channels: 3,
    };
    const out = resizeLikePil(rgb, 1, 1, "bilinear");
    expect(Array.from(out.data)).toEqual([35, 100, 165]);
  });
});

describe("centerCropLikeTorchvision", () => {
  it("rounds an odd margin as Python's round() does (half to even)", () => {
    const row = gray(5, 1, [1, 2, 3, 4, 5]);
    // (5 - 2) / 2 = 1.5 -> 2; (5 - 4) / 2 = 0.5 -> 0.
    expect(Array.from(centerCropLikeTorchvision(row, 2, 1).data)).toEqual([3, 4]);
    expect(Array.from(centerCropLikeTorchvision(row, 4, 1).data)).toEqual([1, 2, 3, 4]);
    const col = gray(1, 5, [1, 2, 3, 4, 5]);
    expect(Array.from(centerCropLikeTorchvision(col, 1, 3).data)).toEqual([2, 3, 4]);
  });
});
