import { createWriteStream } from "node:fs";
import { randomUUID } from "node:crypto";
import { access, mkdir, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { type ArtifactStore, parseSha256 } from "./artifact-store.js";

export interface MaterializedBlob {
  /** A local file with the blob's content. Read-only by contract: it may be the store's own file. */
  path: string;
  /** true when `path` is a copy in `cacheDir` (the caller may delete it), false for the store's file. */
  copied: boolean;
}

/**
 * Gives a consumer that needs a file path (onnxruntime loads a model from a file) a local file for a
 * blob, whatever the store: the store's own file where it has one (`localPath`), otherwise a copy
 * downloaded once into `cacheDir/<sha256>` and reused afterwards (atomically, so concurrent callers never see half a file).
 */
export async function materializeBlob(
  store: ArtifactStore,
  sha256: string,
  cacheDir: string,
): Promise<MaterializedBlob> {
  const canonical = parseSha256(sha256);
  if (store.localPath) return { path: await store.localPath(canonical), copied: false };

  await mkdir(cacheDir, { recursive: true });
  const target = join(cacheDir, canonical);
  // Content-addressed: a file already at `target` can only hold these bytes (it was renamed in whole).
  if (
    await access(target).then(
      () => true,
      () => false,
    )
  )
    return { path: target, copied: true };
  const partial = `${target}.${randomUUID()}.part`;
  try {
    await pipeline(await store.get(canonical), createWriteStream(partial, { flags: "wx" }));
    await rename(partial, target);
  } finally {
    await unlink(partial).catch(() => undefined);
  }
  return { path: target, copied: true };
}
