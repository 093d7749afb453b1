/** What an import format yields, before anything is uploaded: local files (or URLs) with raw labels. */
export interface ImportRecord {
  /** Absolute path of a local image, or null for a URL item. */
  file: string | null;
  url: string | null;
  /** Path relative to the images directory (`cat/001.png`): lets Label Studio tasks find the item. */
  sourceName: string;
  /** Label in our format ({class} or {boxes} normalized 0..1), or null for an unlabeled image. */
  label: unknown;
}

export interface ImportSource {
  format: "image-folder" | "label-studio" | "coco";
  /** Class names found in the source, in the order to add them to the dataset. */
  classes: string[];
  records: ImportRecord[];
  /** Entries that could not be imported, with the reason (reported, not fatal). */
  skipped: Array<{ entry: string; reason: string }>;
}

export const IMAGE_EXTENSIONS = new Set([".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff"]);
