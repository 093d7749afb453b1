import { Readable } from "node:stream";
import { InputError } from "../errors.js";

/**
 * The artifact store: immutable blobs addressed by the lowercase hex sha256 of their content.
 *
 * It knows nothing about runs, paths or models: a run's artifact `model/model.onnx` is a row
 * (run, path) -> sha256 kept by the tracking store; this store only keeps bytes. Two uploads of the same
 * content are one blob. Implementations: `LocalArtifactStore` (files under the data dir); an S3 store can
 * implement the same interface (put = multipart upload to a temp key + server-side copy, or keyed by
 * hash after verification).
 *
 * Errors: `InputError` (malformed hash, hash mismatch, bad range), `PayloadTooLargeError` (over
 * `maxBytes`), `NotFoundError` (no such blob).
 */
export interface ArtifactStore {
  /**
   * Streams `source` into the store. Never buffers the whole content: it hashes while writing to a
   * temporary location and publishes atomically, so a reader never sees a partial blob.
   * - `expectedSha256`: verified after the last byte; a mismatch throws InputError and stores nothing.
   * - `maxBytes`: more bytes than this throws PayloadTooLargeError (as soon as the limit is passed) and
   *   stores nothing.
   * If the blob already exists the upload is still read to the end (to verify it) and then dropped;
   * `created` tells which happened. On any error no temporary data is left behind.
   */
  put(source: Readable | AsyncIterable<Uint8Array>, opts?: PutOptions): Promise<PutResult>;

  /**
   * Opens a blob for reading. Resolves only once the blob is known to exist (NotFoundError otherwise),
   * so an HTTP handler can pick 404 before it sends headers. `range` is inclusive on both ends, as in
   * HTTP `Range: bytes=start-end`; `end` defaults to the last byte. A range outside the blob throws
   * InputError (the HTTP layer may map it to 416 after checking `stat` itself).
   */
  get(sha256: string, range?: ByteRange): Promise<Readable>;

  /** Size of a blob; NotFoundError if missing. */
  stat(sha256: string): Promise<BlobInfo>;

  has(sha256: string): Promise<boolean>;

  /**
   * Removes a blob; resolves false when there was none. The caller must know that nothing references
   * it any more (blobs are shared by content). Readers that already opened it finish reading.
   */
  delete(sha256: string): Promise<boolean>;

  /**
   * Optional capability, present only where blobs are plain local files (LocalArtifactStore): the
   * absolute path of a blob, for consumers that need a file path (onnxruntime loads a model file).
   * Consumers must treat the file as read-only and call this only through the optional method
   * (`store.localPath ? ... : download to a temp file`) so that a remote store keeps working;
   * `materializeBlob()` in `materialize.ts` does exactly that.
   */
  localPath?(sha256: string): Promise<string>;
}

export interface PutOptions {
  /** Lowercase or uppercase hex sha256 the content must hash to. */
  expectedSha256?: string;
  /** Largest accepted size in bytes. */
  maxBytes?: number;
}

export interface BlobInfo {
  sha256: string;
  size: number;
}

export interface PutResult extends BlobInfo {
  /** false when the blob already existed and this upload was deduplicated. */
  created: boolean;
}

/** Inclusive byte range, as in HTTP `Range: bytes=start-end`. */
export interface ByteRange {
  start: number;
  end?: number;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

export function isSha256Hex(value: string): boolean {
  return SHA256_HEX.test(value);
}

/**
 * Returns the canonical (lowercase) form of a sha256 hex digest, or throws InputError. Every store
 * method runs its argument through this, which also keeps hostile strings out of file paths.
 */
export function parseSha256(value: string): string {
  const lower = typeof value === "string" ? value.toLowerCase() : "";
  if (!SHA256_HEX.test(lower)) {
    throw new InputError(`Invalid sha256 '${String(value).slice(0, 80)}': expected 64 hex characters`);
  }
  return lower;
}

/** Checks a range against a blob size and returns it with `end` filled in. */
export function resolveByteRange(range: ByteRange, size: number): Required<ByteRange> {
  const end = range.end ?? size - 1;
  const valid =
    Number.isSafeInteger(range.start) &&
    Number.isSafeInteger(end) &&
    range.start >= 0 &&
    end >= range.start &&
    end < size;
  if (!valid) {
    throw new InputError(
      `Range ${range.start}-${range.end ?? ""} is not satisfiable for a blob of ${size} bytes`,
    );
  }
  return { start: range.start, end };
}

/** Convenience for small in-memory content (a `model.json`, a log chunk). */
export function putBytes(
  store: ArtifactStore,
  data: Uint8Array | string,
  opts?: PutOptions,
): Promise<PutResult> {
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  return store.put(Readable.from([bytes]), opts);
}
