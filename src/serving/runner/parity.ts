import type { ArtifactStore } from "../../artifacts/artifact-store.js";
import { InputError, UnprocessableError } from "../../errors.js";
import { type ModelDescriptor, parseModelDescriptorText } from "../../registry/model-descriptor.js";
import { preprocessImage } from "./preprocess.js";

/**
 * Training/serving parity (docs/serving-model-format.md, "Parity samples"): a model version may carry
 * `parity/<name>.<png|jpg|...>` images, each with `parity/<name>.f32`, the tensor the training code's own
 * preprocessing made of it (float32 little-endian, one image, the model's layout). Serving's preprocessing
 * must reproduce every one within one 8-bit pixel level.
 */
export const PARITY_DIR = "parity/";
export const MAX_PARITY_SAMPLES = 8;
export const MAX_PARITY_IMAGE_BYTES = 1024 * 1024;
const IMAGE_EXTENSIONS = new Set(["png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff"]);
/** Pixel levels allowed: JPEG decoders (libjpeg builds) may differ by one level; resizing does not. */
const TOLERANCE_LEVELS = 1;

export interface ParityFile {
  path: string;
  sha256: string;
  size: number;
}

export interface ParitySample {
  name: string;
  image: ParityFile;
  tensor: ParityFile;
}

export interface ParityReport {
  samples: number;
  /** Worst difference over all samples, in pixel levels (value difference x std / scale). */
  maxLevels: number;
  /** The first sample out of tolerance, said plainly; undefined when all match. */
  failure?: string;
  /** Said when there is nothing to compare (no samples). */
  warning?: string;
}

/** Pairs `parity/<name>.<image>` with `parity/<name>.f32`; refuses orphans, extras and oversize files. */
export function paritySamples(files: ParityFile[]): ParitySample[] {
  const inDir = files.filter((f) => f.path.startsWith(PARITY_DIR));
  const byName = new Map<string, { image?: ParityFile; tensor?: ParityFile }>();
  for (const f of inDir) {
    const base = f.path.slice(PARITY_DIR.length);
    const dot = base.lastIndexOf(".");
    const name = dot > 0 ? base.slice(0, dot) : base;
    const ext = dot > 0 ? base.slice(dot + 1).toLowerCase() : "";
    const entry = byName.get(name) ?? {};
    if (ext === "f32") entry.tensor = f;
    else if (IMAGE_EXTENSIONS.has(ext) && entry.image)
      throw new InputError(`parity sample ${name} has two images (${entry.image.path}, ${f.path})`);
    else if (IMAGE_EXTENSIONS.has(ext)) entry.image = f;
    else
      throw new InputError(`${f.path}: unexpected file in ${PARITY_DIR} (want <name>.<image> + <name>.f32)`);
    byName.set(name, entry);
  }
  const samples: ParitySample[] = [];
  for (const [name, { image, tensor }] of [...byName].sort(([a], [b]) => a.localeCompare(b))) {
    if (!image || !tensor) {
      const missing = image ? `${PARITY_DIR}${name}.f32` : `an image ${PARITY_DIR}${name}.<png|jpg|...>`;
      throw new InputError(`parity sample ${name} needs ${missing}`);
    }
    if (image.size > MAX_PARITY_IMAGE_BYTES)
      throw new InputError(`${image.path} is larger than ${MAX_PARITY_IMAGE_BYTES} bytes`);
    samples.push({ name, image, tensor });
  }
  if (samples.length > MAX_PARITY_SAMPLES)
    throw new InputError(`at most ${MAX_PARITY_SAMPLES} parity samples (found ${samples.length})`);
  return samples;
}

/** Runs serving's preprocessing on every sample and compares with the training tensors. */
export async function checkParity(
  samples: ParitySample[],
  descriptor: ModelDescriptor,
  read: (sha256: string) => Promise<Buffer>,
): Promise<ParityReport> {
  if (samples.length === 0) {
    return {
      samples: 0,
      maxLevels: 0,
      warning: `no parity samples (${PARITY_DIR}<name>.<image> + .f32): training/serving preprocessing parity unchecked`,
    };
  }
  const [channels, height, width] = descriptor.inputShape;
  const expectedBytes = channels * height * width * 4;
  const { scale, std, layout } = descriptor.preprocessing;
  const levelOf = (i: number) =>
    scale / std[layout === "NCHW" ? Math.floor(i / (height * width)) : i % channels];
  let maxLevels = 0;
  for (const s of samples) {
    if (s.tensor.size !== expectedBytes) {
      return failed(
        samples.length,
        maxLevels,
        `${s.tensor.path} has ${s.tensor.size} bytes; ` +
          `inputShape [${descriptor.inputShape.join(", ")}] as float32 is ${expectedBytes}`,
      );
    }
    const raw = await read(s.tensor.sha256);
    const expected = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    let actual: Float32Array;
    try {
      actual = (await preprocessImage(await read(s.image.sha256), descriptor)).tensor;
    } catch (err) {
      return failed(samples.length, maxLevels, `${s.image.path}: ${(err as Error).message}`);
    }
    let worst = { levels: 0, diff: 0, index: 0 };
    for (let i = 0; i < actual.length; i++) {
      const diff = Math.abs(actual[i] - expected[i]);
      const levels = Number.isNaN(diff) ? Number.POSITIVE_INFINITY : diff / levelOf(i);
      if (levels > worst.levels) worst = { levels, diff, index: i };
    }
    maxLevels = Math.max(maxLevels, worst.levels);
    // A float32 rounding hair over one level is still one level.
    if (worst.levels > TOLERANCE_LEVELS + 1e-3) {
      return failed(
        samples.length,
        maxLevels,
        `${s.image.path}: serving's preprocessing differs from the training tensor ${s.tensor.path} by ` +
          `${worst.diff.toFixed(4)} (${worst.levels.toFixed(1)} pixel levels) at index ${worst.index}; ` +
          `tolerance ${TOLERANCE_LEVELS} level. Check model.json's preprocessing (resize, interpolation, crop, ` +
          "colorSpace, scale, mean, std, layout) against the training code",
      );
    }
  }
  return { samples: samples.length, maxLevels };
}

function failed(samples: number, maxLevels: number, failure: string): ParityReport {
  return { samples, maxLevels, failure: `preprocessing parity: ${failure}` };
}

/** One line for the version's `mlops.preprocessing_parity` tag. */
export function paritySummary(r: ParityReport): string {
  if (r.warning) return `unchecked: ${r.warning}`;
  if (r.failure) return `failed: ${r.failure}`;
  return `passed: ${r.samples} sample(s), max ${r.maxLevels.toFixed(2)} pixel levels`;
}

/** The check on a stored version's files (model.json + parity/), reading blobs from the artifact store. */
export async function checkVersionParity(
  artifacts: ArtifactStore,
  files: ParityFile[],
): Promise<ParityReport> {
  const json = files.find((f) => f.path === "model.json");
  if (!json) return { samples: 0, maxLevels: 0, warning: "no model.json" };
  const read = (sha256: string) => readBlob(artifacts, sha256);
  const descriptor = parseModelDescriptorText((await read(json.sha256)).toString("utf8"));
  return checkParity(paritySamples(files), descriptor, read);
}

async function readBlob(artifacts: ArtifactStore, sha256: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await artifacts.get(sha256)) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/** The registry's `parity` hook: checks a new version's files and says how it went in one line. */
export function registrationParityCheck(artifacts: ArtifactStore) {
  return async (files: ParityFile[]): Promise<{ failure?: string; summary: string }> => {
    const report = await checkVersionParity(artifacts, files);
    return { failure: report.failure, summary: paritySummary(report) };
  };
}

/** The deployment's check: a version whose samples serving does not reproduce is not served (422). */
export function deploymentParityCheck(artifacts: ArtifactStore) {
  return async (version: { version: number; files: ParityFile[] }): Promise<void> => {
    const report = await checkVersionParity(artifacts, version.files);
    if (report.failure) throw new UnprocessableError(`version ${version.version}: ${report.failure}`);
  };
}
