import { describe, expect, it } from "vitest";
import { type BatchPrediction, canTransition, chunkCountOf, chunkRange, progressOf } from "./batch.js";

describe("batch model", () => {
  it("splits positions into chunks, the last one short", () => {
    expect(chunkCountOf(2000, 256)).toBe(8);
    expect(chunkRange({ chunkSize: 256, total: 2000 }, 0)).toEqual({ start: 0, end: 256 });
    expect(chunkRange({ chunkSize: 256, total: 2000 }, 7)).toEqual({ start: 1792, end: 2000 });
  });

  it("allows resuming failed and cancelled batches, never a succeeded one", () => {
    expect(canTransition("failed", "queued")).toBe(true);
    expect(canTransition("cancelled", "queued")).toBe(true);
    expect(canTransition("running", "running")).toBe(true);
    expect(canTransition("succeeded", "queued")).toBe(false);
    expect(canTransition("succeeded", "running")).toBe(false);
  });

  it("measures images/s from the attempt's first stored chunk to its last", () => {
    const base = { imagesDone: 1000, total: 2000, chunksDone: 4, chunkCount: 8 } as BatchPrediction;
    expect(
      progressOf({ ...base, rateSince: 10_000, rateImagesSince: 250, lastChunkAt: 10_500 }).imagesPerSecond,
    ).toBe(1500);
    expect(
      progressOf({ ...base, rateSince: null, rateImagesSince: 0, lastChunkAt: null }).imagesPerSecond,
    ).toBeNull();
    expect(
      progressOf({ ...base, rateSince: 10_000, rateImagesSince: 1000, lastChunkAt: 10_000 }).fraction,
    ).toBe(0.5);
  });
});
