/**
 * The two distributions of the synthetic data set. `base`: one filled, saturated shape on a plain
 * background (light or dark). `shift`: textured backgrounds (gradients, stripes, checkerboards), muted
 * shapes (often only outlined), much smaller or larger, any rotation, and more noise - the same classes, but
 * a model trained on `base` alone loses much of its accuracy, so retraining on new labels pays off.
 */
import { pick, type Rng, uniform } from "./prng.js";
import type { Background, Rgb, Scene, ShapeKind, ShapeSpec } from "./shape-raster.js";

export type Distribution = "base" | "shift";

function hsv(h: number, s: number, v: number): Rgb {
  const f = (n: number) => {
    const k = (n + h / 60) % 6;
    return Math.round(255 * (v - v * s * Math.max(0, Math.min(k, 4 - k, 1))));
  };
  return [f(5), f(3), f(1)];
}

function tinted(rng: Rng, gray: number, spread: number): Rgb {
  const channel = (): number => Math.round(gray + uniform(rng, -spread, spread));
  return [channel(), channel(), channel()];
}

function twoColors(rng: Rng, dark: boolean): [Rgb, Rgb] {
  const hue = uniform(rng, 0, 360);
  const value = (): number => (dark ? uniform(rng, 0.12, 0.45) : uniform(rng, 0.6, 0.95));
  const a = hsv(hue, uniform(rng, 0.3, 0.8), value());
  const b = hsv((hue + uniform(rng, 40, 180)) % 360, uniform(rng, 0.3, 0.8), value());
  return [a, b];
}

function baseBackground(rng: Rng, dark: boolean): Background {
  const gray = dark ? uniform(rng, 20, 80) : uniform(rng, 170, 235);
  if (rng() < 0.7) return { kind: "solid", color: tinted(rng, gray, 12) };
  const [from, to] = twoColors(rng, dark);
  return { kind: "gradient", from, to, angle: uniform(rng, 0, 2 * Math.PI) };
}

// High-frequency textures: edges everywhere that a model trained on plain backgrounds never saw.
function shiftBackground(rng: Rng, size: number, dark: boolean): Background {
  const [a, b] = twoColors(rng, dark);
  const angle = uniform(rng, 0, Math.PI);
  const scale = size / 32;
  switch (pick(rng, ["stripes", "checker"] as const)) {
    case "stripes":
      return { kind: "stripes", a, b, angle, period: uniform(rng, 3, 8) * scale };
    case "checker":
      return { kind: "checker", a, b, cell: Math.round(uniform(rng, 2, 6) * scale) };
  }
}

// Per-kind scale so that the classes cover similar areas at the same sampled size (size is no class cue).
const RADIUS_SCALE: Record<ShapeKind, number> = { circle: 0.85, square: 1.05, triangle: 1.15, cross: 1.0 };

function placeShape(
  rng: Rng,
  kind: ShapeKind,
  size: number,
  relativeSize: number,
  rotation: number,
  color: Rgb,
  stroke?: number,
): ShapeSpec {
  const radius = Math.min(relativeSize * size * RADIUS_SCALE[kind], size / 2 - 1);
  // Keep the whole shape inside the image so its label and box are never ambiguous.
  const margin = radius + 1;
  const cx = uniform(rng, margin, size - margin);
  const cy = uniform(rng, margin, size - margin);
  return { kind, cx, cy, radius, rotation, color, ...(stroke === undefined ? {} : { stroke }) };
}

export function sampleScene(rng: Rng, kind: ShapeKind, size: number, distribution: Distribution): Scene {
  // Either polarity in both distributions (light shape on dark ground or the reverse), so what changes
  // with the shift is texture, color saturation, size and outlines - features a fine-tuned model can adapt.
  const dark = rng() < 0.5;
  if (distribution === "base") {
    const background = baseBackground(rng, dark);
    const value = dark ? uniform(rng, 0.65, 1) : uniform(rng, 0.35, 0.75);
    const color = hsv(uniform(rng, 0, 360), uniform(rng, 0.65, 1), value);
    const rotation = kind === "triangle" ? uniform(rng, -Math.PI, Math.PI) : uniform(rng, -0.3, 0.3);
    const stroke = rng() < 0.2 ? uniform(rng, 2, 3) * (size / 32) : undefined;
    const shape = placeShape(rng, kind, size, uniform(rng, 0.2, 0.38), rotation, color, stroke);
    return { size, background, noise: 6, shapes: [shape] };
  }
  const background = shiftBackground(rng, size, dark);
  const value = dark ? uniform(rng, 0.75, 1) : uniform(rng, 0.1, 0.4);
  const color = hsv(uniform(rng, 0, 360), uniform(rng, 0.1, 0.45), value);
  const relativeSize = rng() < 0.5 ? uniform(rng, 0.13, 0.2) : uniform(rng, 0.34, 0.42);
  const rotation = uniform(rng, -Math.PI, Math.PI);
  const stroke = rng() < 0.35 ? uniform(rng, 1.5, 3) * (size / 32) : undefined;
  const shape = placeShape(rng, kind, size, relativeSize, rotation, color, stroke);
  return { size, background, noise: 18, shapes: [shape] };
}
