import sharp from "sharp";
import { InputError } from "../../errors.js";
import { DEFAULT_INTERPOLATION, finalSize, type ModelDescriptor } from "../../registry/model-descriptor.js";
import { centerCropLikeTorchvision, type RawImage, resizeLikePil } from "./pil-resize.js";

export interface PreprocessedImage {
  /** One image's input tensor without the batch dimension, in the descriptor's layout. */
  tensor: Float32Array;
  /** The decoded image's own size, before resizing. */
  width: number;
  height: number;
}

/**
 * Images bigger than this many pixels are refused before decoding (decompression bombs). The whole image is
 * decoded to raw pixels (PIL-exact resizing needs them), so this also bounds memory: 40 M pixels x 4 bytes.
 */
const MAX_INPUT_PIXELS = 40_000_000;

/**
 * What the training code does with PIL (docs/serving-model-format.md, "Preprocessing, exactly"):
 * decode, `convert("RGB")` (or `convert("L")` for GRAY), `resize((w, h), interpolation)` (fill: aspect ratio
 * not kept, as torchvision's `Resize((h, w))`), optional centre crop, then `(pixel * scale - mean[c]) / std[c]`
 * in NCHW or NHWC. sharp only decodes (no ICC transform, no EXIF rotation: PIL applies neither); the resize
 * is ours, bit-exact with Pillow's.
 */
export async function preprocessImage(
  image: Uint8Array,
  descriptor: ModelDescriptor,
): Promise<PreprocessedImage> {
  const p = descriptor.preprocessing;
  const [channels, height, width] = descriptor.inputShape;
  let decoded: RawImage;
  try {
    const { data, info } = await sharp(image, { limitInputPixels: MAX_INPUT_PIXELS, ignoreIcc: true })
      .raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true });
    decoded = { data, width: info.width, height: info.height, channels: info.channels };
  } catch (err) {
    throw new InputError(`cannot decode image: ${(err as Error).message}`);
  }
  const converted = convertLikePil(decoded, p.colorSpace === "GRAY" ? 1 : 3);
  const resized = resizeLikePil(
    converted,
    p.resize[1],
    p.resize[0],
    p.interpolation ?? DEFAULT_INTERPOLATION,
  );
  const [cropH, cropW] = finalSize(p);
  const pixels = centerCropLikeTorchvision(resized, cropW, cropH);
  if (pixels.channels !== channels || pixels.width !== width || pixels.height !== height) {
    throw new InputError(
      `image preprocessed to ${pixels.width}x${pixels.height}x${pixels.channels}, expected ${width}x${height}x${channels}`,
    );
  }
  return { tensor: normalize(pixels.data, descriptor), width: decoded.width, height: decoded.height };
}

/**
 * PIL's `convert("RGB")` / `convert("L")` from what sharp decoded (1: gray, 2: gray + alpha, 3: RGB,
 * 4: RGBA; palettes arrive expanded). Alpha is dropped, not composited, as PIL does; gray from colour is
 * ITU-R 601-2 luma in PIL's 16-bit fixed point.
 */
export function convertLikePil(src: RawImage, to: 1 | 3): RawImage {
  const { data, width, height, channels } = src;
  if (channels === to) return src;
  const n = width * height;
  const out = new Uint8Array(n * to);
  for (let i = 0; i < n; i++) {
    const p = i * channels;
    if (to === 1) {
      out[i] =
        channels < 3 ? data[p] : (data[p] * 19595 + data[p + 1] * 38470 + data[p + 2] * 7471 + 0x8000) >>> 16;
    } else if (channels < 3) {
      out[i * 3] = out[i * 3 + 1] = out[i * 3 + 2] = data[p];
    } else {
      out[i * 3] = data[p];
      out[i * 3 + 1] = data[p + 1];
      out[i * 3 + 2] = data[p + 2];
    }
  }
  return { data: out, width, height, channels: to };
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
