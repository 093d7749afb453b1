import { afterAll, beforeAll, expect, it } from "vitest";
import type { Store } from "../src/store/open-store.js";
import { SqlTrackingStore } from "../src/store/repositories/tracking.js";
import { createMigratedStore, describeEachDatabase } from "./support/databases.js";

/**
 * SqlTrackingStore.logBatch: multi-row inserts chunked under the parameter limits, one latest-metric
 * upsert per key that keeps MLflow's latest (greatest step, then timestamp, then value), param
 * immutability failing the whole batch, tags upserted.
 */
describeEachDatabase("log-batch in the store", (kind) => {
  let store: Store;
  let cleanup: () => Promise<void>;
  let tracking: SqlTrackingStore;
  let n = 0;

  beforeAll(async () => {
    ({ store, cleanup } = await createMigratedStore(kind));
    await store.db.insertInto("users").values({ id: "u", name: "t", role: "admin", created_at: 1 }).execute();
    await store.db
      .insertInto("projects")
      .values({ id: "p", name: "t", description: "", created_at: 1, created_by: "u", quotas: "{}" })
      .execute();
    tracking = new SqlTrackingStore(store);
  });
  afterAll(async () => cleanup?.());

  async function newRun(): Promise<string> {
    const exp = await tracking.insertExperiment({
      projectId: "p",
      name: `e${n++}`,
      artifactLocation: "x",
      createdBy: "u",
      at: 1,
      tags: [],
    });
    const runId = `${n}`.padStart(32, "a");
    await tracking.insertRun(
      {
        runId,
        experimentId: exp.id,
        projectId: "p",
        runName: "r",
        status: "RUNNING",
        startTime: 1,
        endTime: null,
        lifecycleStage: "active",
        userId: "u",
        artifactUri: "x",
      },
      [],
    );
    return runId;
  }

  async function latest(runId: string): Promise<Record<string, [number, number, number]>> {
    const run = await tracking.getRun(runId);
    return Object.fromEntries(run!.metrics.map((m) => [m.key, [m.step, m.timestamp, m.value]]));
  }

  it("stores 3,000 distinct keys in one batch and keeps one latest row per key", async () => {
    const runId = await newRun();
    const metrics = Array.from({ length: 3000 }, (_, i) => ({
      key: `k${i}`,
      value: i,
      timestamp: 5,
      step: 1,
    }));
    await tracking.logBatch(runId, { metrics, params: [], tags: [] });
    const got = await latest(runId);
    expect(Object.keys(got)).toHaveLength(3000);
    expect(got.k2999).toEqual([1, 5, 2999]);
    expect(await tracking.metricHistory(runId, "k1234", 0, 10)).toEqual([
      { key: "k1234", value: 1234, timestamp: 5, step: 1 },
    ]);
  });

  it("keeps the greatest (step, timestamp, value) across and within batches, whatever the order", async () => {
    const runId = await newRun();
    const point = (key: string, step: number, timestamp: number, value: number) => ({
      key,
      step,
      timestamp,
      value,
    });
    await tracking.logBatch(runId, {
      metrics: [point("a", 5, 1, 1), point("b", 2, 9, 1), point("c", 3, 3, 7), point("d", 1, 1, 1)],
      params: [],
      tags: [],
    });
    await tracking.logBatch(runId, {
      metrics: [
        point("a", 4, 99, 99), // older step: stays 5
        point("b", 2, 10, 0), // same step, newer timestamp: wins
        point("c", 3, 3, 8), // same step and timestamp, greater value: wins
        point("c", 3, 3, 2),
        point("d", 7, 1, 3), // newer step within the batch beats the later, older one
        point("d", 6, 1, 4),
      ],
      params: [],
      tags: [],
    });
    expect(await latest(runId)).toEqual({ a: [5, 1, 1], b: [2, 10, 0], c: [3, 3, 8], d: [7, 1, 3] });
    expect(await tracking.metricHistory(runId, "c", 0, 10)).toHaveLength(3);
  });

  it("ignores a point logged twice and stores NaN", async () => {
    const runId = await newRun();
    const batch = { metrics: [{ key: "x", value: Number.NaN, timestamp: 1, step: 0 }], params: [], tags: [] };
    await tracking.logBatch(runId, batch);
    await tracking.logBatch(runId, batch);
    const history = await tracking.metricHistory(runId, "x", 0, 10);
    expect(history).toHaveLength(1);
    expect(Number.isNaN(history[0].value)).toBe(true);
  });

  it("refuses a changed param and keeps nothing of that batch; upserts tags", async () => {
    const runId = await newRun();
    await tracking.logBatch(runId, {
      metrics: [],
      params: [{ key: "lr", value: "0.1" }],
      tags: [{ key: "t", value: "1" }],
    });
    await expect(
      tracking.logBatch(runId, {
        metrics: [{ key: "m", value: 1, timestamp: 1, step: 0 }],
        params: [{ key: "lr", value: "0.2" }],
        tags: [{ key: "t", value: "2" }],
      }),
    ).rejects.toThrow(/Changing param values is not allowed/);
    let run = await tracking.getRun(runId);
    expect(run!.metrics).toEqual([]);
    expect(run!.tags).toEqual({ t: "1" });
    await tracking.logBatch(runId, {
      metrics: [],
      params: [{ key: "lr", value: "0.1" }],
      tags: [{ key: "t", value: "3" }],
    });
    run = await tracking.getRun(runId);
    expect(run!.params).toEqual({ lr: "0.1" });
    expect(run!.tags).toEqual({ t: "3" });
  });
});
