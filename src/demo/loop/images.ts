import { DEFAULT_CLASSES, encodePng, synthesizeImage } from "../synthetic-data.js";
import type { NewImage } from "./platform-client.js";

/**
 * Synthetic shape images in memory (the same generator as `mlops demo data`). Keys are stable
 * (`base-1-17`), so an image lands in the same split on every run; `truth` is the class a labeler would pick.
 */
export async function generateImages(
  count: number,
  options: { seed: number; shift: boolean; labeled: boolean; offset?: number },
): Promise<Array<NewImage & { truth: string }>> {
  const spec = { seed: options.seed, shift: options.shift, imageSize: 32, classes: DEFAULT_CLASSES };
  const out: Array<NewImage & { truth: string }> = new Array(count);
  let next = 0;
  // sharp encodes on libuv's threads: a few in flight keep both cores busy.
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const index = (options.offset ?? 0) + i;
      const image = synthesizeImage(spec, index);
      const key = `${options.shift ? "shift" : "base"}-${options.seed}-${index}`;
      out[i] = {
        bytes: await encodePng(image.pixels, spec.imageSize),
        key,
        sourceName: `${image.label.class}/${key}.png`,
        label: options.labeled ? image.label.class : null,
        truth: image.label.class,
      };
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return out;
}
