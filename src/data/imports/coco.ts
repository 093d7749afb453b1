import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { InputError } from "../../errors.js";
import { clamp01 } from "../labels.js";
import type { Box, DatasetTask } from "../model.js";
import type { ImportSource } from "./import-source.js";

interface CocoImage {
  id: number | string;
  file_name: string;
  width: number;
  height: number;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * COCO object detection JSON: `images[{id, file_name, width, height}]`, `annotations[{image_id,
 * category_id, bbox: [x, y, w, h] in pixels}]`, `categories[{id, name}]`. Boxes become fractions of the
 * image size. An image without annotations is labeled with no boxes. For a classification dataset, an
 * image is labeled with its annotations' category when they all agree (skipped otherwise).
 */
export async function readCoco(file: string, imagesDir: string, task: DatasetTask): Promise<ImportSource> {
  let doc: unknown;
  try {
    doc = JSON.parse(await readFile(file, "utf8"));
  } catch (err) {
    throw new InputError(`cannot read COCO file ${file}: ${(err as Error).message}`);
  }
  if (!isObject(doc) || !Array.isArray(doc.images) || !Array.isArray(doc.categories)) {
    throw new InputError(`${file} is not COCO JSON (needs images, annotations, categories)`);
  }
  const categories = new Map<string, string>();
  for (const c of doc.categories) {
    if (!isObject(c) || typeof c.name !== "string") throw new InputError("every COCO category needs a name");
    categories.set(String(c.id), c.name);
  }
  const byImage = new Map<string, Array<Record<string, unknown>>>();
  for (const a of Array.isArray(doc.annotations) ? doc.annotations : []) {
    if (!isObject(a)) continue;
    const key = String(a.image_id);
    byImage.set(key, [...(byImage.get(key) ?? []), a]);
  }
  const root = path.resolve(imagesDir);
  const source: ImportSource = {
    format: "coco",
    classes: [...new Set(categories.values())],
    records: [],
    skipped: [],
  };
  for (const raw of doc.images) {
    if (!isObject(raw) || typeof raw.file_name !== "string") {
      source.skipped.push({ entry: "image ?", reason: "no file_name" });
      continue;
    }
    const image = raw as unknown as CocoImage;
    const entry = `image ${String(image.id)} (${image.file_name})`;
    const full = path.resolve(root, image.file_name);
    if (!full.startsWith(root + path.sep) || !(await isFile(full))) {
      source.skipped.push({ entry, reason: `file not found under ${imagesDir}` });
      continue;
    }
    const annotations = byImage.get(String(image.id)) ?? [];
    try {
      const boxes = annotations.map((a) => toBox(a, image, categories));
      let label: unknown;
      if (task === "detection") label = { boxes };
      else {
        const names = [...new Set(boxes.map((b) => b.label))];
        if (names.length !== 1)
          throw new Error(`${names.length} categories; a classification label needs exactly one`);
        label = { class: names[0] };
      }
      source.records.push({
        file: full,
        url: null,
        sourceName: path.relative(root, full).split(path.sep).join("/"),
        label,
      });
    } catch (err) {
      source.skipped.push({ entry, reason: (err as Error).message });
    }
  }
  return source;
}

function toBox(a: Record<string, unknown>, image: CocoImage, categories: Map<string, string>): Box {
  const label = categories.get(String(a.category_id));
  if (!label) throw new Error(`unknown category_id ${String(a.category_id)}`);
  const bbox = a.bbox;
  if (
    !Array.isArray(bbox) ||
    bbox.length !== 4 ||
    !bbox.every((n) => typeof n === "number" && Number.isFinite(n))
  ) {
    throw new Error("bbox must be [x, y, width, height] in pixels");
  }
  if (!(image.width > 0 && image.height > 0)) throw new Error("the image needs width and height");
  const [x, y, w, h] = bbox as number[];
  const bx = clamp01(x / image.width);
  const by = clamp01(y / image.height);
  const bw = x >= 0 ? Math.min(w / image.width, 1 - bx) : clamp01((x + w) / image.width) - bx;
  const bh = y >= 0 ? Math.min(h / image.height, 1 - by) : clamp01((y + h) / image.height) - by;
  if (!(bw > 0 && bh > 0)) throw new Error("a bbox has no area inside the image");
  return { x: bx, y: by, w: bw, h: bh, label };
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}
