import { afterEach, beforeEach, expect, it } from "vitest";
import type { BatchInput, BatchPrediction } from "../src/serving/batch/batch.js";
import type { CompletedChunk } from "../src/serving/batch/batch-store.js";
import type { Store } from "../src/store/open-store.js";
import { SqlBatchStore } from "../src/store/repositories/batch.js";
import { createMigratedStore, describeEachDatabase } from "./support/databases.js";

/** The batch store's exactly-once contract, on SQLite and PostgreSQL. */
describeEachDatabase("batch store", (kind) => {
  let store: Store;
  let cleanup: () => Promise<void>;
  let batches: SqlBatchStore;

  beforeEach(async () => {
    ({ store, cleanup } = await createMigratedStore(kind));
    batches = new SqlBatchStore(store);
    await store.db
      .insertInto("users")
      .values({ id: "u", name: "tester", role: "admin", created_at: 1 })
      .execute();
    await store.db
      .insertInto("projects")
      .values({ id: "p", name: "proj", description: "", created_at: 1, created_by: "u", quotas: "{}" })
      .execute();
  });
  afterEach(async () => {
    await cleanup();
  });

  const TOTAL = 10;
  const CHUNK = 4;

  function newBatch(id: string): BatchPrediction {
    return {
      id,
      projectId: "p",
      modelId: "m",
      modelName: "clf",
      modelVersion: 1,
      versionId: "v",
      task: "classification",
      classes: ["a", "b"],
      modelSha256: "0".repeat(64),
      descriptorText: "{}",
      source: { kind: "input", inputDigest: "1".repeat(64) },
      total: TOTAL,
      chunkSize: CHUNK,
      chunkCount: 3,
      workers: 1,
      state: "running",
      stateReason: "test",
      jobId: "job-1",
      jobsSubmitted: 1,
      chunksDone: 0,
      imagesDone: 0,
      rateSince: null,
      rateImagesSince: 0,
      lastChunkAt: null,
      createdAt: 1000,
      createdBy: "tester",
      startedAt: 1000,
      finishedAt: null,
      updatedAt: 1000,
    };
  }

  const inputs: BatchInput[] = Array.from({ length: TOTAL }, (_, position) => ({
    position,
    key: `img/${position}.png`,
    itemId: null,
    sha256: null,
    url: null,
  }));

  function chunk(index: number, at: number): CompletedChunk {
    const start = index * CHUNK;
    const end = Math.min(TOTAL, start + CHUNK);
    return {
      chunk: {
        chunkIndex: index,
        items: end - start,
        jobId: "job-1",
        attempt: 0,
        durationMs: 5,
        completedAt: at,
      },
      results: inputs.slice(start, end).map((input) => ({
        position: input.position,
        key: input.key,
        itemId: null,
        prediction: { task: "classification", width: 8, height: 8, labels: [{ label: "a", score: 0.9 }] },
        topLabel: "a",
        score: 0.9,
      })),
    };
  }

  it("stores a chunk once: a repeat, even concurrent, writes nothing", async () => {
    await batches.insertBatch(newBatch("b1"), inputs);
    expect(await batches.inputs("b1", 4, 8)).toHaveLength(4);
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => batches.completeChunk("b1", chunk(1, 2000))),
    );
    expect(answers.filter((a) => a.stored)).toHaveLength(1);
    expect(await batches.countResults("b1")).toEqual({ rows: 4, distinctPositions: 4 });
    expect(await batches.doneChunks("b1")).toEqual([1]);
    const batch = await batches.getBatch("b1");
    expect(batch).toMatchObject({
      chunksDone: 1,
      imagesDone: 4,
      state: "running",
      rateSince: 2000,
      rateImagesSince: 4,
    });
  });

  it("the last chunk's transaction marks the batch succeeded; images/s runs from the first chunk", async () => {
    await batches.insertBatch(newBatch("b2"), inputs);
    await batches.completeChunk("b2", chunk(0, 2000));
    await batches.completeChunk("b2", chunk(2, 3000));
    expect((await batches.getBatch("b2"))?.state).toBe("running");
    const last = await batches.completeChunk("b2", chunk(1, 4000));
    expect(last.stored).toBe(true);
    expect(last.batch).toMatchObject({
      state: "succeeded",
      chunksDone: 3,
      imagesDone: TOTAL,
      finishedAt: 4000,
    });
    // (10 - 4) images between the first chunk (t=2000) and the last (t=4000).
    expect(last.batch.rateImagesSince).toBe(4);
    expect(await batches.countResults("b2")).toEqual({ rows: TOTAL, distinctPositions: TOTAL });
    const results = await batches.results("b2", -1, 100);
    expect(results.map((r) => r.position)).toEqual([...Array(TOTAL).keys()]);
    expect(results[0].prediction).toEqual({
      task: "classification",
      width: 8,
      height: 8,
      labels: [{ label: "a", score: 0.9 }],
    });
    expect((await batches.chunks("b2")).map((c) => c.chunkIndex)).toEqual([0, 1, 2]);
  });

  it("changes state only from the expected states (compare-and-set)", async () => {
    await batches.insertBatch({ ...newBatch("b3"), state: "failed" }, inputs);
    const patch = { state: "queued" as const, stateReason: "resume", updatedAt: 5 };
    const results = await Promise.all([
      batches.updateState("b3", ["failed"], patch),
      batches.updateState("b3", ["failed"], patch),
    ]);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await batches.updateState("b3", ["failed"], patch)).toBe(false);
    expect((await batches.getBatch("b3"))?.state).toBe("queued");
    expect((await batches.listBatches(["p"], 10)).map((b) => b.id)).toEqual(["b3"]);
  });
});
