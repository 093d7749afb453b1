import { createHash } from "node:crypto";
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InputError, NotFoundError, PayloadTooLargeError } from "../errors.js";
import { type ArtifactStore, putBytes } from "./artifact-store.js";
import { LocalArtifactStore } from "./local-artifact-store.js";
import { materializeBlob } from "./materialize.js";

const sha = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");

let dataDir: string;
let store: LocalArtifactStore;

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "artifact-store-"));
  store = await LocalArtifactStore.create({ dataDir });
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

/** A stream that yields `chunks` and then fails, like a client that disconnects mid-upload. */
function failingStream(chunks: string[], error: Error): Readable {
  return Readable.from(
    (async function* () {
      for (const c of chunks) yield Buffer.from(c);
      throw error;
    })(),
  );
}

describe("LocalArtifactStore.put", () => {
  it("stores content under blobs/ab/cd/<sha256>, read-only, and reports size and hash", async () => {
    const content = "hello artifacts\n";
    const result = await store.put(Readable.from([Buffer.from("hello "), Buffer.from("artifacts\n")]));
    expect(result).toEqual({ sha256: sha(content), size: content.length, created: true });
    const expectedPath = join(
      dataDir,
      "artifacts",
      "blobs",
      sha(content).slice(0, 2),
      sha(content).slice(2, 4),
      sha(content),
    );
    expect(await readFile(expectedPath, "utf8")).toBe(content);
    expect((await stat(expectedPath)).mode & 0o777).toBe(0o444);
    expect(await store.localPath(sha(content))).toBe(expectedPath);
    expect(await store.tempFileCount()).toBe(0);
  });

  it("accepts object-mode streams of strings", async () => {
    const result = await store.put(Readable.from(["h\u00e9llo ", "world"]));
    expect(result).toMatchObject({ sha256: sha("h\u00e9llo world"), size: 12 });
  });

  it("deduplicates identical content", async () => {
    const first = await putBytes(store, "same bytes");
    const second = await putBytes(store, "same bytes");
    expect(first.created).toBe(true);
    expect(second).toEqual({ sha256: first.sha256, size: 10, created: false });
    expect(await store.tempFileCount()).toBe(0);
  });

  it("stores the empty blob", async () => {
    const result = await putBytes(store, "");
    expect(result.sha256).toBe(sha(""));
    expect(await text(await store.get(result.sha256))).toBe("");
  });

  it("accepts a matching expected hash in either case", async () => {
    const result = await putBytes(store, "verified", { expectedSha256: sha("verified").toUpperCase() });
    expect(result.sha256).toBe(sha("verified"));
  });

  it("refuses a hash mismatch with InputError and leaves nothing behind", async () => {
    const wrong = sha("something else");
    await expect(putBytes(store, "actual", { expectedSha256: wrong })).rejects.toThrow(InputError);
    await expect(putBytes(store, "actual", { expectedSha256: wrong })).rejects.toThrow(/hash mismatch/);
    expect(await store.has(sha("actual"))).toBe(false);
    expect(await store.has(wrong)).toBe(false);
    expect(await store.tempFileCount()).toBe(0);
  });

  it("refuses a malformed expected hash before reading", async () => {
    await expect(putBytes(store, "x", { expectedSha256: "../../etc/passwd" })).rejects.toThrow(InputError);
  });

  it("refuses uploads past maxBytes with PayloadTooLargeError and leaves nothing behind", async () => {
    const chunks = Array.from({ length: 10 }, () => Buffer.alloc(1000, 7));
    await expect(store.put(Readable.from(chunks), { maxBytes: 9999 })).rejects.toThrow(PayloadTooLargeError);
    expect(await store.tempFileCount()).toBe(0);
    expect(await readdir(join(dataDir, "artifacts", "blobs"))).toEqual([]);
    // Exactly at the limit is fine.
    const ok = await store.put(Readable.from(chunks), { maxBytes: 10000 });
    expect(ok.size).toBe(10000);
  });

  it("cleans up when the source fails mid-stream", async () => {
    await expect(
      store.put(failingStream(["part one", "part two"], new Error("client went away"))),
    ).rejects.toThrow("client went away");
    expect(await store.tempFileCount()).toBe(0);
  });

  it("handles concurrent uploads of the same and of different content", async () => {
    const results = await Promise.all([
      ...Array.from({ length: 5 }, () => putBytes(store, "shared")),
      ...Array.from({ length: 5 }, (_, i) => putBytes(store, `distinct ${i}`)),
    ]);
    expect(new Set(results.map((r) => r.sha256)).size).toBe(6);
    expect(await text(await store.get(sha("shared")))).toBe("shared");
    expect(await store.tempFileCount()).toBe(0);
  });

  it("putFile stores a local file", async () => {
    const file = join(dataDir, "model.onnx");
    await writeFile(file, Buffer.alloc(3000, 1));
    const result = await store.putFile(file);
    expect(result).toEqual({ sha256: sha(Buffer.alloc(3000, 1)), size: 3000, created: true });
  });
});

describe("LocalArtifactStore reads", () => {
  it("get streams the whole blob or an inclusive byte range", async () => {
    const { sha256 } = await putBytes(store, "0123456789");
    expect(await text(await store.get(sha256))).toBe("0123456789");
    expect(await text(await store.get(sha256, { start: 2, end: 5 }))).toBe("2345");
    expect(await text(await store.get(sha256, { start: 7 }))).toBe("789");
    expect(await text(await store.get(sha256, { start: 9, end: 9 }))).toBe("9");
    await expect(store.get(sha256, { start: 5, end: 10 })).rejects.toThrow(InputError);
    await expect(store.get(sha256, { start: 6, end: 5 })).rejects.toThrow(InputError);
    await expect(store.get(sha256, { start: -1 })).rejects.toThrow(InputError);
  });

  it("get, stat and localPath throw NotFoundError for a missing blob; has is false", async () => {
    const missing = sha("never stored");
    await expect(store.get(missing)).rejects.toThrow(NotFoundError);
    await expect(store.stat(missing)).rejects.toThrow(NotFoundError);
    await expect(store.localPath(missing)).rejects.toThrow(NotFoundError);
    expect(await store.has(missing)).toBe(false);
  });

  it("rejects malformed hashes everywhere (no path tricks reach the filesystem)", async () => {
    for (const bad of ["../../../etc/passwd", "abc", `${"a".repeat(63)}g`, ""]) {
      await expect(store.get(bad)).rejects.toThrow(InputError);
      await expect(store.stat(bad)).rejects.toThrow(InputError);
      await expect(store.has(bad)).rejects.toThrow(InputError);
      await expect(store.delete(bad)).rejects.toThrow(InputError);
    }
  });

  it("stat reports the size; delete removes once; an open reader survives the delete", async () => {
    const { sha256 } = await putBytes(store, "abc".repeat(1000));
    expect(await store.stat(sha256)).toEqual({ sha256, size: 3000 });
    const reader = await store.get(sha256);
    expect(await store.delete(sha256)).toBe(true);
    expect(await store.delete(sha256)).toBe(false);
    expect(await store.has(sha256)).toBe(false);
    expect(await text(reader)).toBe("abc".repeat(1000));
  });
});

describe("LocalArtifactStore maintenance and materializeBlob", () => {
  it("create() sweeps stale temp files only", async () => {
    const tmp = join(dataDir, "artifacts", "tmp");
    await writeFile(join(tmp, "old.part"), "x");
    const { utimes } = await import("node:fs/promises");
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    await utimes(join(tmp, "old.part"), twoHoursAgo, twoHoursAgo);
    await writeFile(join(tmp, "fresh.part"), "y");
    await LocalArtifactStore.create({ dataDir });
    expect(await readdir(tmp)).toEqual(["fresh.part"]);
  });

  it("materializeBlob uses the store's file when it has one, else downloads once into the cache dir", async () => {
    const { sha256 } = await putBytes(store, "onnx bytes");
    const local = await materializeBlob(store, sha256, join(dataDir, "cache"));
    expect(local).toEqual({ path: await store.localPath(sha256), copied: false });

    // The same store seen through the interface only, without the optional capability (as S3 would be).
    const remoteLike: ArtifactStore = {
      put: (s, o) => store.put(s, o),
      get: (h, r) => store.get(h, r),
      stat: (h) => store.stat(h),
      has: (h) => store.has(h),
      delete: (h) => store.delete(h),
    };
    const copy = await materializeBlob(remoteLike, sha256, join(dataDir, "cache"));
    expect(copy).toEqual({ path: join(dataDir, "cache", sha256), copied: true });
    expect(await readFile(copy.path, "utf8")).toBe("onnx bytes");
    expect(await readdir(join(dataDir, "cache"))).toEqual([sha256]);
    await expect(materializeBlob(remoteLike, sha("missing"), join(dataDir, "cache"))).rejects.toThrow(
      NotFoundError,
    );
    expect(await readdir(join(dataDir, "cache"))).toEqual([sha256]);
  });
});
