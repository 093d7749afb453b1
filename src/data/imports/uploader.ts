import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import type { ItemInput } from "../items.js";
import type { ImportSource } from "./import-source.js";

/** The calls an import makes; the CLI implements them over HTTP. */
export interface ImportApi {
  addClasses(classes: string[]): Promise<void>;
  /** Which of these sha256s still need uploading. */
  missing(sha256s: string[]): Promise<string[]>;
  /** Streams one file; the server verifies the hash. */
  upload(file: string, sha256: string): Promise<void>;
  addItems(items: ItemInput[]): Promise<{ created: number; labelsStored: number }>;
  /**
   * An import session: opened before the first batch, told of each batch, finished at the end (also after a
   * failure), so the retrain trigger never snapshots a partial import. Optional for callers without one.
   */
  session?: {
    open(source: string): Promise<void>;
    batch(items: number): Promise<void>;
    finish(): Promise<void>;
  };
}

export interface ImportProgress {
  done: number;
  total: number;
  uploaded: number;
}

export interface ImportSummary {
  format: ImportSource["format"];
  items: number;
  created: number;
  uploaded: number;
  labelsStored: number;
  skipped: ImportSource["skipped"];
}

/**
 * Imports in batches: hash the batch's files, ask which images the server lacks, upload those (a few at a
 * time, streamed), then add the batch's items with labels. Every step is idempotent, so a re-run (or a
 * run after a crash) uploads nothing twice and stores no label twice.
 */
export async function runImport(
  source: ImportSource,
  api: ImportApi,
  options: { batchSize?: number; concurrency?: number; onProgress?: (p: ImportProgress) => void } = {},
): Promise<ImportSummary> {
  const batchSize = options.batchSize ?? 100;
  await api.session?.open(`${source.format} import of ${source.records.length} images`);
  try {
    return await importBatches(source, api, { ...options, batchSize });
  } finally {
    await api.session?.finish();
  }
}

async function importBatches(
  source: ImportSource,
  api: ImportApi,
  options: { batchSize: number; concurrency?: number; onProgress?: (p: ImportProgress) => void },
): Promise<ImportSummary> {
  const { batchSize } = options;
  const concurrency = options.concurrency ?? 4;
  if (source.classes.length > 0) await api.addClasses(source.classes);
  const summary: ImportSummary = {
    format: source.format,
    items: 0,
    created: 0,
    uploaded: 0,
    labelsStored: 0,
    skipped: source.skipped,
  };
  const total = source.records.length;
  options.onProgress?.({ done: 0, total, uploaded: 0 });
  for (let start = 0; start < total; start += batchSize) {
    const batch = source.records.slice(start, start + batchSize);
    const hashes = await mapLimit(batch, concurrency, (r) =>
      r.file ? hashFile(r.file) : Promise.resolve(null),
    );
    const local = [...new Set(hashes.filter((h): h is string => h !== null))];
    const missing = new Set(local.length > 0 ? await api.missing(local) : []);
    const toUpload = batch.flatMap((r, i) => {
      const sha = hashes[i];
      if (!r.file || !sha || !missing.has(sha)) return [];
      missing.delete(sha); // the same image twice in a batch: upload once
      return [{ file: r.file, sha }];
    });
    await mapLimit(toUpload, concurrency, (u) => api.upload(u.file, u.sha));
    summary.uploaded += toUpload.length;
    const items: ItemInput[] = batch.map((r, i) => ({
      ...(hashes[i] ? { sha256: hashes[i] as string } : { url: r.url as string }),
      sourceName: r.sourceName,
      ...(r.label ? { label: r.label } : {}),
    }));
    const added = await api.addItems(items);
    await api.session?.batch(batch.length);
    summary.items += batch.length;
    summary.created += added.created;
    summary.labelsStored += added.labelsStored;
    options.onProgress?.({ done: Math.min(start + batchSize, total), total, uploaded: summary.uploaded });
  }
  return summary;
}

export function hashFile(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    createReadStream(file)
      .on("data", (chunk) => hash.update(chunk))
      .on("error", reject)
      .on("end", () => resolve(hash.digest("hex")));
  });
}

async function mapLimit<T, R>(values: T[], limit: number, fn: (value: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(values.length);
  let next = 0;
  const worker = async () => {
    while (next < values.length) {
      const i = next++;
      out[i] = await fn(values[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, values.length) }, worker));
  return out;
}
