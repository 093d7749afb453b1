/**
 * Deterministic synthetic vision data set: PNG images of shapes in ImageFolder layout
 * (`outDir/<class>/<id>.png`) plus `outDir/labels.json` with one record per image (class and boxes in pixels).
 * The same options give byte-identical files: every image draws from its own generator seeded by
 * (seed, distribution, index), and PNG encoding uses fixed settings without metadata.
 */
import { mkdir, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import sharp from "sharp";
import { InputError } from "../errors.js";
import { createRng, hashSeed } from "./prng.js";
import { sampleScene } from "./scene-sampler.js";
import { DEFAULT_CLASSES } from "./synthetic-classes.js";
import { type PixelBox, renderScene, SHAPE_KINDS, type ShapeKind, shapeBox } from "./shape-raster.js";

export { DEFAULT_CLASSES } from "./synthetic-classes.js";

export interface SyntheticDatasetOptions {
  outDir: string;
  count: number;
  seed?: number;
  /** Draw from the shifted distribution (other backgrounds, colors, sizes). */
  shift?: boolean;
  imageSize?: number;
  classes?: readonly string[];
  onProgress?: (done: number, total: number) => void;
}

export interface LabelRecord {
  file: string;
  class: string;
  width: number;
  height: number;
  boxes: Array<PixelBox & { class: string }>;
}

export interface SyntheticDatasetResult {
  outDir: string;
  count: number;
  classes: string[];
  imageSize: number;
  seed: number;
  shift: boolean;
  perClass: Record<string, number>;
}

export interface SyntheticImage {
  pixels: Uint8Array;
  label: LabelRecord;
}

interface ImageSpec {
  seed: number;
  shift: boolean;
  imageSize: number;
  classes: readonly ShapeKind[];
}

function validate(options: SyntheticDatasetOptions): ImageSpec {
  const { count, seed = 1, shift = false, imageSize = 32, classes = DEFAULT_CLASSES } = options;
  if (!Number.isInteger(count) || count < 1 || count > 1_000_000) {
    throw new InputError(`count must be an integer between 1 and 1000000, got ${count}`);
  }
  if (!Number.isInteger(seed)) throw new InputError(`seed must be an integer, got ${seed}`);
  if (!Number.isInteger(imageSize) || imageSize < 16 || imageSize > 256) {
    throw new InputError(
      `imageSize must be an integer between 16 and 256 (32 or 64 recommended), got ${imageSize}`,
    );
  }
  if (classes.length < 2 || new Set(classes).size !== classes.length) {
    throw new InputError("classes must name at least two distinct shapes");
  }
  const known: readonly string[] = SHAPE_KINDS;
  const unknown = classes.filter((c) => !known.includes(c));
  if (unknown.length > 0) {
    throw new InputError(`unknown shape class(es) ${unknown.join(", ")}; known: ${SHAPE_KINDS.join(", ")}`);
  }
  return { seed, shift, imageSize, classes: classes as readonly ShapeKind[] };
}

/** One image of the data set, drawn in memory (also used to simulate traffic without touching disk). */
export function synthesizeImage(spec: ImageSpec, index: number): SyntheticImage {
  const kind = spec.classes[index % spec.classes.length];
  const rng = createRng(hashSeed(spec.seed, spec.shift ? 1 : 0, index));
  const scene = sampleScene(rng, kind, spec.imageSize, spec.shift ? "shift" : "base");
  const pixels = renderScene(scene, rng);
  const boxes = scene.shapes.map((shape) => ({ ...shapeBox(shape, spec.imageSize), class: shape.kind }));
  const file = `${kind}/${String(index).padStart(6, "0")}.png`;
  return {
    pixels,
    label: { file, class: kind, width: spec.imageSize, height: spec.imageSize, boxes },
  };
}

export async function encodePng(pixels: Uint8Array, size: number): Promise<Buffer> {
  // Fixed settings and no metadata, so the bytes depend on the pixels only.
  return sharp(pixels, { raw: { width: size, height: size, channels: 3 } })
    .png({ compressionLevel: 6, adaptiveFiltering: false, palette: false })
    .toBuffer();
}

async function ensureEmptyDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const entries = await readdir(dir);
  if (entries.length > 0) {
    throw new InputError(`output directory ${dir} is not empty; choose a new directory`);
  }
}

// Images are encoded by libvips on its own threads; a few in flight keep both cores busy.
const CONCURRENCY = 8;

export async function generateSyntheticDataset(
  options: SyntheticDatasetOptions,
): Promise<SyntheticDatasetResult> {
  const spec = validate(options);
  const outDir = path.resolve(options.outDir);
  await ensureEmptyDir(outDir);
  for (const kind of spec.classes) await mkdir(path.join(outDir, kind), { recursive: true });

  const labels: LabelRecord[] = new Array(options.count);
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < options.count) {
      const index = next++;
      const image = synthesizeImage(spec, index);
      await writeFile(path.join(outDir, image.label.file), await encodePng(image.pixels, spec.imageSize));
      labels[index] = image.label;
      done++;
      options.onProgress?.(done, options.count);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, options.count) }, worker));
  await writeFile(path.join(outDir, "labels.json"), `${JSON.stringify(labels, null, 1)}\n`);

  const perClass: Record<string, number> = {};
  for (const kind of spec.classes) perClass[kind] = 0;
  for (const label of labels) perClass[label.class]++;
  return {
    outDir,
    count: options.count,
    classes: [...spec.classes],
    imageSize: spec.imageSize,
    seed: spec.seed,
    shift: spec.shift,
    perClass,
  };
}
