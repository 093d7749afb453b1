import { createHash, randomUUID } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { chmod, mkdir, open, readdir, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { InputError, NotFoundError, PayloadTooLargeError } from "../errors.js";
import {
  type ArtifactStore,
  type BlobInfo,
  type ByteRange,
  type PutOptions,
  type PutResult,
  parseSha256,
  resolveByteRange,
} from "./artifact-store.js";

export interface LocalArtifactStoreOptions {
  /** The platform data dir; blobs live under `<dataDir>/artifacts/`. */
  dataDir: string;
  /**
   * fsync each blob before publishing it, so that a crash right after `put` resolves cannot leave a
   * published but truncated blob. Default true; tests of unrelated code may turn it off for speed.
   */
  fsync?: boolean;
  /** Temp files older than this are removed by `create()` (leftovers of a crash). Default 1 hour. */
  staleTempMs?: number;
}

/**
 * ArtifactStore on the local filesystem:
 *   <dataDir>/artifacts/blobs/ab/cd/<sha256>   published blobs, read-only (0444)
 *   <dataDir>/artifacts/tmp/<uuid>.part        uploads in progress
 * tmp/ and blobs/ are on the same filesystem, so publishing is one atomic rename(2).
 */
export class LocalArtifactStore implements ArtifactStore {
  readonly root: string;
  private readonly blobsDir: string;
  private readonly tmpDir: string;
  private readonly fsync: boolean;

  private constructor(opts: LocalArtifactStoreOptions) {
    this.root = join(opts.dataDir, "artifacts");
    this.blobsDir = join(this.root, "blobs");
    this.tmpDir = join(this.root, "tmp");
    this.fsync = opts.fsync ?? true;
  }

  /** Creates the directories and sweeps stale temp files. */
  static async create(opts: LocalArtifactStoreOptions): Promise<LocalArtifactStore> {
    const store = new LocalArtifactStore(opts);
    await mkdir(store.blobsDir, { recursive: true });
    await mkdir(store.tmpDir, { recursive: true });
    await store.removeStaleTempFiles(opts.staleTempMs ?? 60 * 60 * 1000);
    return store;
  }

  async put(source: Readable | AsyncIterable<Uint8Array>, opts: PutOptions = {}): Promise<PutResult> {
    const expected = opts.expectedSha256 === undefined ? undefined : parseSha256(opts.expectedSha256);
    const maxBytes = opts.maxBytes ?? Number.POSITIVE_INFINITY;
    const hash = createHash("sha256");
    let size = 0;
    const tmpPath = join(this.tmpDir, `${randomUUID()}.part`);

    // The generator sits between source and file: pipeline() gives backpressure end to end, so memory
    // stays at a few chunks whatever the upload size, and an error anywhere destroys both ends.
    async function* hashAndLimit(chunks: AsyncIterable<Uint8Array | string>): AsyncGenerator<Uint8Array> {
      for await (const piece of chunks) {
        // Object-mode streams (Readable.from(["text"])) yield strings; hash and count their UTF-8 bytes.
        const chunk = typeof piece === "string" ? Buffer.from(piece, "utf8") : piece;
        size += chunk.byteLength;
        if (size > maxBytes) {
          throw new PayloadTooLargeError(`Upload exceeds the limit of ${maxBytes} bytes`, { maxBytes });
        }
        hash.update(chunk);
        yield chunk;
      }
    }

    try {
      await pipeline(source, hashAndLimit, createWriteStream(tmpPath, { flags: "wx", mode: 0o644 }));
      const sha256 = hash.digest("hex");
      if (expected !== undefined && expected !== sha256) {
        throw new InputError(`Content hash mismatch: expected sha256 ${expected}, received ${sha256}`, {
          expected,
          actual: sha256,
        });
      }
      const finalPath = this.blobPath(sha256);
      if (await exists(finalPath)) return { sha256, size, created: false };
      if (this.fsync) await fsyncFile(tmpPath);
      await chmod(tmpPath, 0o444);
      await mkdir(join(finalPath, ".."), { recursive: true });
      // Two concurrent uploads of the same content both reach here; rename(2) replaces atomically and
      // both files hold the same bytes, so either winner is correct.
      await rename(tmpPath, finalPath);
      return { sha256, size, created: true };
    } finally {
      await unlink(tmpPath).catch(() => undefined); // already renamed, or never created
    }
  }

  /** Convenience: put a local file. */
  async putFile(path: string, opts?: PutOptions): Promise<PutResult> {
    return this.put(createReadStream(path), opts);
  }

  async get(sha256: string, range?: ByteRange): Promise<Readable> {
    const path = this.blobPath(parseSha256(sha256));
    // Open first: the descriptor keeps the content readable even if the blob is deleted meanwhile,
    // and a missing blob surfaces here rather than as a stream error after headers were sent.
    const handle = await open(path, "r").catch((err: NodeJS.ErrnoException) => {
      throw err.code === "ENOENT" ? notFound(sha256) : err;
    });
    try {
      const size = (await handle.stat()).size;
      const r = range === undefined ? undefined : resolveByteRange(range, size);
      return handle.createReadStream({ start: r?.start, end: r?.end }); // closes the handle at end
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async stat(sha256: string): Promise<BlobInfo> {
    const canonical = parseSha256(sha256);
    try {
      const s = await stat(this.blobPath(canonical));
      return { sha256: canonical, size: s.size };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") throw notFound(sha256);
      throw err;
    }
  }

  async has(sha256: string): Promise<boolean> {
    return exists(this.blobPath(parseSha256(sha256)));
  }

  async delete(sha256: string): Promise<boolean> {
    try {
      await unlink(this.blobPath(parseSha256(sha256)));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw err;
    }
  }

  /** The blob's file (read-only). NotFoundError if missing. See ArtifactStore.localPath. */
  async localPath(sha256: string): Promise<string> {
    const path = this.blobPath(parseSha256(sha256));
    if (!(await exists(path))) throw notFound(sha256);
    return path;
  }

  /** Removes temp files older than `olderThanMs` (uploads cut off by a crash). Returns how many. */
  async removeStaleTempFiles(olderThanMs: number): Promise<number> {
    const cutoff = Date.now() - olderThanMs;
    let removed = 0;
    for (const name of await readdir(this.tmpDir)) {
      const path = join(this.tmpDir, name);
      const s = await stat(path).catch(() => undefined);
      if (s?.isFile() && s.mtimeMs < cutoff) {
        await unlink(path).catch(() => undefined);
        removed++;
      }
    }
    return removed;
  }

  /** Number of uploads in progress (temp files present); for tests and metrics. */
  async tempFileCount(): Promise<number> {
    return (await readdir(this.tmpDir)).length;
  }

  private blobPath(canonicalSha256: string): string {
    return join(this.blobsDir, canonicalSha256.slice(0, 2), canonicalSha256.slice(2, 4), canonicalSha256);
  }
}

function notFound(sha256: string): NotFoundError {
  return new NotFoundError(`Artifact blob ${sha256} not found`);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}

async function fsyncFile(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
