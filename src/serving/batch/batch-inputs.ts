import type { Principal } from "../../auth/principal.js";
import { normalizeArtifactPath } from "../../artifacts/artifact-path.js";
import { InputError } from "../../errors.js";
import type { BatchInput } from "./batch.js";
import type { BatchDatasets } from "./batch-ports.js";

/** Most images one batch may hold (the input list is frozen in the database at creation). */
export const MAX_BATCH_IMAGES = 1_000_000;
const PAGE = 1000;

/** Every item of the dataset, in the dataset's own order (by id), frozen as positions 0..n-1. */
export async function datasetInputs(
  datasets: BatchDatasets,
  principal: Principal,
  ref: { project?: string; dataset: string },
): Promise<BatchInput[]> {
  const inputs: BatchInput[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await datasets.listItems(principal, ref, { after, limit: PAGE });
    for (const { item } of page.items) {
      inputs.push({
        position: inputs.length,
        key: item.key,
        itemId: item.id,
        sha256: item.sha256,
        url: item.url,
      });
    }
    if (inputs.length > MAX_BATCH_IMAGES)
      throw new InputError(`a batch holds at most ${MAX_BATCH_IMAGES} images`);
    if (!page.nextCursor) return inputs;
    after = page.nextCursor;
  }
}

const IMAGE_EXTENSIONS = /\.(png|jpe?g|webp|gif|tiff?|avif|bmp)$/i;

export function isImagePath(file: string): boolean {
  return IMAGE_EXTENSIONS.test(file);
}

/** The image files of an uploaded directory, as relative paths: validated, de-duplicated, sorted. */
export function fileInputs(files: unknown): BatchInput[] {
  if (!Array.isArray(files) || files.length === 0)
    throw new InputError("files must list at least one image path");
  if (files.length > MAX_BATCH_IMAGES)
    throw new InputError(`a batch holds at most ${MAX_BATCH_IMAGES} images`);
  const unique = new Set<string>();
  for (const f of files) {
    if (typeof f !== "string")
      throw new InputError("files must be strings (paths relative to the input directory)");
    unique.add(normalizeArtifactPath(f));
  }
  return [...unique]
    .sort()
    .map((key, position) => ({ position, key, itemId: null, sha256: null, url: null }));
}
