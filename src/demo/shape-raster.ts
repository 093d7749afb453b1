/**
 * Pure drawing of synthetic scenes into raw RGB buffers (no image library): a background (solid, gradient,
 * stripes or checkerboard), shapes with anti-aliased edges (filled or hollow), then sensor-like noise.
 */
import type { Rng } from "./prng.js";

export type Rgb = readonly [number, number, number];
export const SHAPE_KINDS = ["circle", "square", "triangle", "cross"] as const;
export type ShapeKind = (typeof SHAPE_KINDS)[number];

export type Background =
  | { kind: "solid"; color: Rgb }
  | { kind: "gradient"; from: Rgb; to: Rgb; angle: number }
  | { kind: "stripes"; a: Rgb; b: Rgb; angle: number; period: number }
  | { kind: "checker"; a: Rgb; b: Rgb; cell: number };

export interface ShapeSpec {
  kind: ShapeKind;
  /** Centre in pixels. */
  cx: number;
  cy: number;
  /** Radius of the circle that encloses the shape, in pixels. */
  radius: number;
  rotation: number;
  color: Rgb;
  /** Outline width in pixels; absent = filled. */
  stroke?: number;
}

export interface Scene {
  size: number;
  background: Background;
  /** Amplitude of uniform per-channel noise, in 0..255 units. */
  noise: number;
  shapes: ShapeSpec[];
}

export interface PixelBox {
  x: number;
  y: number;
  w: number;
  h: number;
}

type Inside = (x: number, y: number) => boolean;

// Supersampling grid per pixel for anti-aliased edges: 3x3 keeps edges smooth at 32 px and stays cheap.
const SUBSAMPLES = 3;

/** The shape's outline points (vertices, or a bounding polygon for the circle), for its bounding box. */
function outlinePoints(shape: ShapeSpec): Array<[number, number]> {
  const { cx, cy, radius: r, rotation } = shape;
  if (shape.kind === "circle") {
    return [
      [cx - r, cy - r],
      [cx + r, cy + r],
    ];
  }
  const local = localOutline(shape.kind, r);
  const cos = Math.cos(rotation);
  const sin = Math.sin(rotation);
  return local.map(([u, v]) => [cx + u * cos - v * sin, cy + u * sin + v * cos]);
}

function localOutline(kind: Exclude<ShapeKind, "circle">, r: number): Array<[number, number]> {
  if (kind === "square") {
    const h = r / Math.SQRT2;
    return [
      [-h, -h],
      [h, -h],
      [h, h],
      [-h, h],
    ];
  }
  if (kind === "triangle") {
    return [0, 1, 2].map((i) => {
      const a = -Math.PI / 2 + (i * 2 * Math.PI) / 3;
      return [r * Math.cos(a), r * Math.sin(a)];
    });
  }
  // cross: the corners of its two bars
  const w = r * 0.3;
  const l = r * 0.95;
  return [
    [-l, -w],
    [l, -w],
    [l, w],
    [-l, w],
    [-w, -l],
    [w, -l],
    [w, l],
    [-w, l],
  ];
}

/** Point-in-shape test in shape-local coordinates (rotation already removed). */
function localInside(kind: ShapeKind, r: number): (u: number, v: number) => boolean {
  if (r <= 0) return () => false;
  switch (kind) {
    case "circle":
      return (u, v) => u * u + v * v <= r * r;
    case "square": {
      const h = r / Math.SQRT2;
      return (u, v) => Math.abs(u) <= h && Math.abs(v) <= h;
    }
    case "cross": {
      const w = r * 0.3;
      const l = r * 0.95;
      return (u, v) => (Math.abs(u) <= l && Math.abs(v) <= w) || (Math.abs(u) <= w && Math.abs(v) <= l);
    }
    case "triangle": {
      // Equilateral triangle pointing up: inside when on the inner side of its three edges (inradius r/2).
      const normals = [0, 1, 2].map((i) => Math.PI / 2 + (i * 2 * Math.PI) / 3);
      const n = normals.map((a) => [Math.cos(a), Math.sin(a)] as const);
      return (u, v) => n.every(([nx, ny]) => u * nx + v * ny <= r / 2);
    }
  }
}

function insideTest(shape: ShapeSpec): Inside {
  const cos = Math.cos(shape.rotation);
  const sin = Math.sin(shape.rotation);
  const outer = localInside(shape.kind, shape.radius);
  // Insetting a triangle's edges by t shrinks its circumradius by 2t; the other shapes shrink by ~t.
  const inset = shape.stroke === undefined ? undefined : shape.stroke * (shape.kind === "triangle" ? 2 : 1);
  const inner = inset === undefined ? undefined : localInside(shape.kind, shape.radius - inset);
  return (x, y) => {
    const dx = x - shape.cx;
    const dy = y - shape.cy;
    const u = dx * cos + dy * sin;
    const v = -dx * sin + dy * cos;
    return outer(u, v) && !(inner?.(u, v) ?? false);
  };
}

/** Bounding box in whole pixels, clipped to the image. */
export function shapeBox(shape: ShapeSpec, size: number): PixelBox {
  const points = outlinePoints(shape);
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const x0 = Math.max(0, Math.floor(Math.min(...xs)));
  const y0 = Math.max(0, Math.floor(Math.min(...ys)));
  const x1 = Math.min(size, Math.ceil(Math.max(...xs)));
  const y1 = Math.min(size, Math.ceil(Math.max(...ys)));
  return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
}

function backgroundAt(bg: Background, x: number, y: number, size: number): Rgb {
  switch (bg.kind) {
    case "solid":
      return bg.color;
    case "gradient": {
      const t = ((x - size / 2) * Math.cos(bg.angle) + (y - size / 2) * Math.sin(bg.angle)) / size + 0.5;
      const k = Math.min(1, Math.max(0, t));
      return [0, 1, 2].map((c) => bg.from[c] * (1 - k) + bg.to[c] * k) as unknown as Rgb;
    }
    case "stripes": {
      const d = x * Math.cos(bg.angle) + y * Math.sin(bg.angle);
      return Math.sin((2 * Math.PI * d) / bg.period) >= 0 ? bg.a : bg.b;
    }
    case "checker":
      return (Math.floor(x / bg.cell) + Math.floor(y / bg.cell)) % 2 === 0 ? bg.a : bg.b;
  }
}

/** Draws the scene; `rng` only feeds the noise, so the same scene and rng state give the same pixels. */
export function renderScene(scene: Scene, rng: Rng): Uint8Array {
  const { size } = scene;
  const rgb = new Float64Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const color = backgroundAt(scene.background, x + 0.5, y + 0.5, size);
      const o = (y * size + x) * 3;
      rgb[o] = color[0];
      rgb[o + 1] = color[1];
      rgb[o + 2] = color[2];
    }
  }
  for (const shape of scene.shapes) paintShape(rgb, size, shape);
  const out = new Uint8Array(rgb.length);
  for (let i = 0; i < rgb.length; i++) {
    const noisy = rgb[i] + (rng() * 2 - 1) * scene.noise;
    out[i] = Math.max(0, Math.min(255, Math.round(noisy)));
  }
  return out;
}

function paintShape(rgb: Float64Array, size: number, shape: ShapeSpec): void {
  const inside = insideTest(shape);
  const box = shapeBox(shape, size);
  const total = SUBSAMPLES * SUBSAMPLES;
  for (let y = box.y; y < box.y + box.h; y++) {
    for (let x = box.x; x < box.x + box.w; x++) {
      let hits = 0;
      for (let sy = 0; sy < SUBSAMPLES; sy++) {
        for (let sx = 0; sx < SUBSAMPLES; sx++) {
          if (inside(x + (sx + 0.5) / SUBSAMPLES, y + (sy + 0.5) / SUBSAMPLES)) hits++;
        }
      }
      if (hits === 0) continue;
      const k = hits / total;
      const o = (y * size + x) * 3;
      for (let c = 0; c < 3; c++) rgb[o + c] = rgb[o + c] * (1 - k) + shape.color[c] * k;
    }
  }
}
