import sharp, { type OutputInfo } from "sharp";
import { InputError } from "../../errors.js";
import type { ModelDescriptor } from "../../registry/model-descriptor.js";

export interface PreprocessedImage {
  /** One image's input tensor without the batch dimension, in the descriptor's layout. */
  tensor: Float32Array;
  /** The decoded image's own size, before resizing. */
  width: number;
  height: number;
}

/** Images bigger than this many pixels are refused before decoding (decompression bombs). */
const MAX_INPUT_PIXELS = 100_000_000;

/**
 * Decode (png/jpeg/webp/...), resize to the model input (fill: aspect ratio not kept, as torchvision's
 * `Resize((h, w))`), drop alpha, convert to RGB/BGR/GRAY, then `(pixel * scale - mean[c]) / std[c]`
 * in NCHW or NHWC. EXIF orientation is not applied, so widths and heights are the stored ones.
 */
export async function preprocessImage(
  image: Uint8Array,
  descriptor: ModelDescriptor,
): Promise<PreprocessedImage> {
  const p = descriptor.preprocessing;
  const [channels, height, width] = descriptor.inputShape;
  let pixels: Buffer;
  let info: OutputInfo;
  let original: { width: number; height: number };
  try {
    const pipeline = sharp(image, { limitInputPixels: MAX_INPUT_PIXELS });
    const meta = await pipeline.metadata();
    original = { width: meta.width ?? 0, height: meta.height ?? 0 };
    const resized = pipeline.resize(width, height, { fit: "fill" }).removeAlpha();
    const colored = p.colorSpace === "GRAY" ? resized.toColourspace("b-w") : resized.toColourspace("srgb");
    ({ data: pixels, info } = await colored.raw().toBuffer({ resolveWithObject: true }));
  } catch (err) {
    throw new InputError(`cannot decode image: ${(err as Error).message}`);
  }
  if (info.channels !== channels || info.width !== width || info.height !== height) {
    throw new InputError(
      `image decoded to ${info.width}x${info.height}x${info.channels}, expected ${width}x${height}x${channels}`,
    );
  }
  return { tensor: normalize(pixels, descriptor), width: original.width, height: original.height };
}

/** HWC uint8 pixels (RGB order, or one gray channel) -> normalized float32 in the model's layout. */
export function normalize(pixels: Uint8Array, descriptor: ModelDescriptor): Float32Array {
  const p = descriptor.preprocessing;
  const [channels, height, width] = descriptor.inputShape;
  const plane = height * width;
  const out = new Float32Array(channels * plane);
  const bgr = p.colorSpace === "BGR";
  for (let c = 0; c < channels; c++) {
    const src = bgr ? channels - 1 - c : c;
    // (x * scale - mean) / std == x * a + b, computed once per channel.
    const a = p.scale / p.std[c];
    const b = -p.mean[c] / p.std[c];
    if (p.layout === "NCHW") {
      const base = c * plane;
      for (let i = 0; i < plane; i++) out[base + i] = pixels[i * channels + src] * a + b;
    } else {
      for (let i = 0; i < plane; i++) out[i * channels + c] = pixels[i * channels + src] * a + b;
    }
  }
  return out;
}
