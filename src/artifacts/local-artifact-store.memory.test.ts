import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterEach, beforeEach, expect, it } from "vitest";
import { LocalArtifactStore } from "./local-artifact-store.js";

// The bar: a 1 GiB upload must not raise the server's memory by more than ~100 MB. The upload is
// generated on the fly (never held in memory): 1 MiB chunks whose content varies, hashed independently.
const TOTAL_BYTES = 1024 * 1024 * 1024;
const CHUNK_BYTES = 1024 * 1024;
const RSS_BUDGET_BYTES = 100 * 1024 * 1024;

let dataDir: string;
beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "artifact-memory-"));
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

function generatedUpload(expectedHash: ReturnType<typeof createHash>): Readable {
  let sent = 0;
  let counter = 0;
  return new Readable({
    highWaterMark: CHUNK_BYTES,
    read() {
      if (sent >= TOTAL_BYTES) {
        this.push(null);
        return;
      }
      // A fresh buffer per chunk (as a socket delivers), with a changing header so that every chunk differs.
      const chunk = Buffer.allocUnsafe(CHUNK_BYTES).fill(counter & 0xff);
      chunk.writeUInt32BE(counter++, 0);
      expectedHash.update(chunk);
      sent += chunk.length;
      this.push(chunk);
    },
  });
}

it("streams a 1 GiB upload through put() with RSS growth under 100 MB and the right sha256", async () => {
  // fsync off: this test is about memory; flushing 1 GiB to disk only adds seconds of I/O wait.
  const store = await LocalArtifactStore.create({ dataDir, fsync: false });
  const expected = createHash("sha256");
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  const started = performance.now();
  try {
    const result = await store.put(generatedUpload(expected), { maxBytes: TOTAL_BYTES });
    peak = Math.max(peak, process.memoryUsage().rss);
    const seconds = (performance.now() - started) / 1000;
    const growthMiB = (peak - before) / 1024 / 1024;
    console.log(
      `put 1 GiB: ${seconds.toFixed(1)} s (${(1024 / seconds).toFixed(0)} MiB/s), peak RSS growth ${growthMiB.toFixed(1)} MiB`,
    );
    expect(result.size).toBe(TOTAL_BYTES);
    expect(result.sha256).toBe(expected.digest("hex"));
    expect(peak - before).toBeLessThan(RSS_BUDGET_BYTES);
    expect((await store.stat(result.sha256)).size).toBe(TOTAL_BYTES);
  } finally {
    clearInterval(sampler);
  }
});
