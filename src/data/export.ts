import { createWriteStream } from "node:fs";
import { mkdir, open, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ManifestItem, SnapshotManifest } from "./manifest.js";
import { SPLITS } from "./model.js";

export type ExportFormat = "imagefolder" | "manifest";

export interface ExportResult {
  outDir: string;
  images: number;
  /** URL items are listed in manifest.json but not downloaded. */
  urlItems: number;
}

/**
 * Writes a snapshot to a directory. Always `manifest.json` (the exact manifest). `imagefolder` adds the
 * images: classification `<split>/<class>/<item id><ext>` (every class folder exists in every split, so
 * torchvision's ImageFolder gives the same class indices everywhere); detection `<split>/<item id><ext>`
 * plus `<split>/annotations.json` ({file, boxes}).
 */
export async function exportSnapshot(args: {
  manifest: SnapshotManifest;
  manifestBytes: Uint8Array;
  openBlob: (sha256: string) => Promise<Readable | AsyncIterable<Uint8Array>>;
  outDir: string;
  format: ExportFormat;
  onProgress?: (done: number, total: number) => void;
}): Promise<ExportResult> {
  const { manifest, outDir } = args;
  await mkdir(outDir, { recursive: true });
  await writeFile(path.join(outDir, "manifest.json"), args.manifestBytes);
  const result: ExportResult = { outDir, images: 0, urlItems: 0 };
  if (args.format === "manifest") return result;
  const classification = manifest.dataset.task === "classification";
  for (const split of SPLITS) {
    if (classification) {
      for (const cls of manifest.dataset.classes)
        await mkdir(path.join(outDir, split, safeName(cls)), { recursive: true });
    } else await mkdir(path.join(outDir, split), { recursive: true });
  }
  const annotations: Record<string, Array<{ file: string; boxes: unknown }>> = {
    train: [],
    val: [],
    holdout: [],
  };
  const total = manifest.items.length;
  let done = 0;
  for (const item of manifest.items) {
    done++;
    if (!item.sha256) {
      result.urlItems++;
      continue;
    }
    const dir =
      classification && "class" in item.label
        ? path.join(outDir, item.split, safeName(item.label.class))
        : path.join(outDir, item.split);
    const tmp = path.join(dir, `${item.id}.part`);
    await pipeline(await args.openBlob(item.sha256), createWriteStream(tmp));
    const file = `${item.id}${extensionOf(item) ?? (await sniffExtension(tmp))}`;
    await rename(tmp, path.join(dir, file));
    if (!classification && "boxes" in item.label)
      annotations[item.split].push({ file, boxes: item.label.boxes });
    result.images++;
    args.onProgress?.(done, total);
  }
  if (!classification) {
    for (const split of SPLITS) {
      await writeFile(
        path.join(outDir, split, "annotations.json"),
        `${JSON.stringify(annotations[split], null, 1)}\n`,
      );
    }
  }
  return result;
}

function safeName(name: string): string {
  return name.replace(/[/\\\0]/g, "_").replace(/^\.+$/, "_");
}

function extensionOf(item: ManifestItem): string | undefined {
  const ext = item.fileName ? path.extname(item.fileName).toLowerCase() : "";
  return /^\.[a-z0-9]{1,5}$/.test(ext) ? ext : undefined;
}

async function sniffExtension(file: string): Promise<string> {
  const handle = await open(file, "r");
  try {
    const { buffer } = await handle.read(Buffer.alloc(12), 0, 12, 0);
    if (buffer.subarray(0, 4).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47]))) return ".png";
    if (buffer[0] === 0xff && buffer[1] === 0xd8) return ".jpg";
    if (buffer.subarray(0, 3).toString("latin1") === "GIF") return ".gif";
    if (buffer.subarray(8, 12).toString("latin1") === "WEBP") return ".webp";
    if (buffer.subarray(0, 2).toString("latin1") === "BM") return ".bmp";
    return ".bin";
  } finally {
    await handle.close();
  }
}
