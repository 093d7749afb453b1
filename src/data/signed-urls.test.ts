import { describe, expect, it } from "vitest";
import { ImageUrlSigner } from "./signed-urls.js";

describe("signed image URLs", () => {
  const key = Buffer.alloc(32, 7);
  let now = 1_000_000;
  const signer = new ImageUrlSigner(key, () => now);

  it("verifies its own grant until it expires", () => {
    const { expires, sig } = signer.sign("d1", "i1", 60);
    expect(expires).toBe(1_000_060);
    expect(signer.verify({ datasetId: "d1", itemId: "i1", expires }, sig)).toBe(true);
    now = 1_000_061;
    expect(signer.verify({ datasetId: "d1", itemId: "i1", expires }, sig)).toBe(false);
    now = 1_000_000;
  });

  it("refuses a grant moved to another item or dataset, a longer expiry, or another key", () => {
    const { expires, sig } = signer.sign("d1", "i1", 60);
    expect(signer.verify({ datasetId: "d1", itemId: "i2", expires }, sig)).toBe(false);
    expect(signer.verify({ datasetId: "d2", itemId: "i1", expires }, sig)).toBe(false);
    expect(signer.verify({ datasetId: "d1", itemId: "i1", expires: expires + 3600 }, sig)).toBe(false);
    expect(signer.verify({ datasetId: "d1", itemId: "i1", expires }, `${sig.slice(0, -1)}A`)).toBe(false);
    const other = new ImageUrlSigner(Buffer.alloc(32, 8), () => now);
    expect(other.verify({ datasetId: "d1", itemId: "i1", expires }, sig)).toBe(false);
  });

  it("builds a path with the grant in the query", () => {
    expect(signer.path("d1", "i1", 10)).toMatch(
      /^\/api\/v1\/signed\/datasets\/d1\/items\/i1\/image\?expires=1000010&sig=[A-Za-z0-9_-]{43}$/,
    );
  });
});
