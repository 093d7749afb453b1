import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { InputError } from "../../errors.js";
import { imagePathOf } from "../label-studio/receiver.js";
import { labelFromLabelStudioResult } from "../label-studio/results.js";
import type { DatasetTask, Label } from "../model.js";
import type { ImportRecord, ImportSource } from "./import-source.js";

const LS_UPLOAD_PREFIX = /^[0-9a-f]{8}-(.+)$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Label Studio's JSON export: an array of tasks `{id, data: {image}, annotations: [{result, was_cancelled,
 * updated_at}]}`. The latest non-cancelled annotation is the label; images are looked up in `imagesDir` by
 * the path in `data.image` (its tail), by file name, and by file name without Label Studio's upload prefix;
 * http(s) images not found locally become URL items.
 */
export async function readLabelStudioExport(
  file: string,
  imagesDir: string,
  task: DatasetTask,
): Promise<ImportSource> {
  let tasks: unknown;
  try {
    tasks = JSON.parse(await readFile(file, "utf8"));
  } catch (err) {
    throw new InputError(`cannot read Label Studio export ${file}: ${(err as Error).message}`);
  }
  if (!Array.isArray(tasks))
    throw new InputError(`${file} is not a Label Studio JSON export (an array of tasks)`);
  const source: ImportSource = { format: "label-studio", classes: [], records: [], skipped: [] };
  const classes = new Set<string>();
  const files = await indexFiles(imagesDir);
  for (const [index, t] of tasks.entries()) {
    const entry = `task ${isObject(t) && t.id !== undefined ? String(t.id) : `#${index}`}`;
    if (!isObject(t) || !isObject(t.data)) {
      source.skipped.push({ entry, reason: "no data object" });
      continue;
    }
    const image = imageOf(t.data);
    if (!image) {
      source.skipped.push({ entry, reason: "no data.image" });
      continue;
    }
    let label: Label | null;
    try {
      label = latestLabel(t.annotations, task);
    } catch (err) {
      source.skipped.push({ entry, reason: (err as Error).message });
      continue;
    }
    for (const c of classesOf(label)) classes.add(c);
    const record = await resolveImage(image, files, label);
    if (record) source.records.push(record);
    else source.skipped.push({ entry, reason: `image ${image} not found under ${imagesDir}` });
  }
  source.classes = [...classes].sort();
  return source;
}

function imageOf(data: Record<string, unknown>): string | null {
  if (typeof data.image === "string") return data.image;
  const strings = Object.values(data).filter((v): v is string => typeof v === "string");
  return strings.length === 1 ? strings[0] : null;
}

function latestLabel(annotations: unknown, task: DatasetTask): Label | null {
  if (!Array.isArray(annotations)) return null;
  const usable = annotations.filter(
    (a) => isObject(a) && a.was_cancelled !== true && Array.isArray(a.result),
  );
  if (usable.length === 0) return null;
  const latest = usable.reduce((a, b) => (String(b.updated_at ?? "") >= String(a.updated_at ?? "") ? b : a));
  return labelFromLabelStudioResult(task, latest.result);
}

export function classesOf(label: Label | null): string[] {
  if (!label) return [];
  return "class" in label ? [label.class] : label.boxes.map((b) => b.label);
}

async function resolveImage(
  image: string,
  files: FileIndex,
  label: Label | null,
): Promise<ImportRecord | null> {
  const urlPath = imagePathOf(image.replace(/^[a-z0-9+.-]+:\/\/[^/?#]*/i, ""));
  const segments = urlPath.split("/").filter((s) => s && s !== "." && s !== "..");
  // The longest tail of the URL path that exists under the images directory...
  for (let i = 0; i < segments.length; i++) {
    const rel = segments.slice(i).join("/");
    if (files.paths.has(rel)) return { file: path.join(files.root, rel), url: null, sourceName: rel, label };
  }
  // ...else a unique file of that name anywhere below it (with or without Label Studio's upload prefix).
  const base = segments.at(-1);
  for (const name of [base, base ? LS_UPLOAD_PREFIX.exec(base)?.[1] : undefined]) {
    const found = name ? files.byName.get(name) : undefined;
    if (found?.length === 1)
      return { file: path.join(files.root, found[0]), url: null, sourceName: found[0], label };
  }
  if (/^https?:\/\//i.test(image)) return { file: null, url: image, sourceName: base ?? image, label };
  return null;
}

interface FileIndex {
  root: string;
  /** Relative paths, `/`-separated. */
  paths: Set<string>;
  byName: Map<string, string[]>;
}

async function indexFiles(dir: string): Promise<FileIndex> {
  const root = path.resolve(dir);
  let entries: string[];
  try {
    entries = await readdir(root, { recursive: true });
  } catch (err) {
    throw new InputError(`cannot read images directory ${dir}: ${(err as Error).message}`);
  }
  const index: FileIndex = { root, paths: new Set(), byName: new Map() };
  for (const entry of entries) {
    const rel = entry.split(path.sep).join("/");
    if (!(await isFile(path.join(root, rel)))) continue;
    index.paths.add(rel);
    const name = path.basename(rel);
    index.byName.set(name, [...(index.byName.get(name) ?? []), rel]);
  }
  return index;
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}
