import { randomBytes } from "node:crypto";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConflictError, InputError } from "../src/errors.js";
import type { Store } from "../src/store/open-store.js";
import { SqlTrackingStore } from "../src/store/repositories/tracking.js";
import type { RunInfo } from "../src/tracking/model.js";
import { createMigratedStore, describeEachDatabase } from "./support/databases.js";

const PROJECT = "p1";

function runInfo(experimentId: string, overrides: Partial<RunInfo> = {}): RunInfo {
  const runId = randomBytes(16).toString("hex");
  return {
    runId,
    experimentId,
    projectId: PROJECT,
    runName: "r",
    status: "RUNNING",
    startTime: Date.now(),
    endTime: null,
    lifecycleStage: "active",
    userId: "alice",
    artifactUri: `mlflow-artifacts:/${experimentId}/${runId}/artifacts`,
    ...overrides,
  };
}

describeEachDatabase("tracking store", (kind) => {
  let store: Store;
  let cleanup: () => Promise<void>;
  let tracking: SqlTrackingStore;
  let experimentId: string;

  beforeAll(async () => {
    ({ store, cleanup } = await createMigratedStore(kind));
    await store.db
      .insertInto("users")
      .values({ id: "u1", name: "alice", role: "admin", created_at: 1 })
      .execute();
    await store.db
      .insertInto("projects")
      .values({ id: PROJECT, name: "one", description: "", created_at: 1, created_by: "u1", quotas: "{}" })
      .execute();
    tracking = new SqlTrackingStore(store);
    const base = {
      projectId: PROJECT,
      artifactLocation: "mlflow-artifacts:/{id}",
      createdBy: "alice",
      at: 5,
      tags: [],
    };
    await tracking.insertExperiment({ ...base, id: "0", name: "Default" });
    experimentId = (
      await tracking.insertExperiment({ ...base, name: "exp", tags: [{ key: "a", value: "b" }] })
    ).id;
  });
  afterAll(async () => cleanup?.());

  it("numbers experiments as digit strings after the fixed experiment 0, names unique per project", async () => {
    expect(experimentId).toBe("1");
    const exp = await tracking.findExperiment(experimentId);
    expect(exp).toMatchObject({ name: "exp", artifactLocation: "mlflow-artifacts:/1", tags: { a: "b" } });
    await expect(
      tracking.insertExperiment({
        projectId: PROJECT,
        name: "exp",
        artifactLocation: "",
        createdBy: "x",
        at: 1,
        tags: [],
      }),
    ).rejects.toBeInstanceOf(ConflictError);
    expect(await tracking.findExperiment("nope")).toBeUndefined();
  });

  it("stores a 1000-metric batch in step order and keeps the greatest (step, timestamp) as latest", async () => {
    const info = runInfo(experimentId);
    await tracking.insertRun(info, [{ key: "mlflow.runName", value: "r" }]);
    const metrics = Array.from({ length: 1000 }, (_, i) => ({
      key: "loss",
      value: 1 / (i + 1),
      timestamp: 1000 + i,
      step: 999 - i,
    }));
    await tracking.logBatch(info.runId, {
      metrics,
      params: [{ key: "lr", value: "0.01" }],
      tags: [{ key: "t", value: "1" }],
    });
    // Re-sending identical points is a no-op, not an error.
    await tracking.logBatch(info.runId, { metrics: metrics.slice(0, 10), params: [], tags: [] });
    const history = await tracking.metricHistory(info.runId, "loss", 0, 5000);
    expect(history).toHaveLength(1000);
    expect(history.map((p) => p.step)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    const run = await tracking.getRun(info.runId);
    expect(run?.metrics).toEqual([{ key: "loss", value: 1, timestamp: 1000, step: 999 }]);
    expect(run?.params).toEqual({ lr: "0.01" });
    expect(run?.tags).toMatchObject({ t: "1", "mlflow.runName": "r" });
    // An older step does not replace the latest value.
    await tracking.logBatch(info.runId, {
      metrics: [{ key: "loss", value: 7, timestamp: 5, step: 1 }],
      params: [],
      tags: [],
    });
    expect((await tracking.getRun(info.runId))?.metrics[0].value).toBe(1);
  });

  it("refuses a changed param and keeps nothing of that batch", async () => {
    const info = runInfo(experimentId);
    await tracking.insertRun(info, []);
    await tracking.logBatch(info.runId, { metrics: [], params: [{ key: "lr", value: "0.01" }], tags: [] });
    await tracking.logBatch(info.runId, { metrics: [], params: [{ key: "lr", value: "0.01" }], tags: [] });
    await expect(
      tracking.logBatch(info.runId, {
        metrics: [{ key: "acc", value: 0.5, timestamp: 1, step: 0 }],
        params: [{ key: "lr", value: "0.02" }],
        tags: [{ key: "x", value: "y" }],
      }),
    ).rejects.toBeInstanceOf(InputError);
    const run = await tracking.getRun(info.runId);
    expect(run?.params).toEqual({ lr: "0.01" });
    expect(run?.metrics).toEqual([]);
    expect(run?.tags).toEqual({});
  });

  it("keeps NaN and infinities", async () => {
    const info = runInfo(experimentId);
    await tracking.insertRun(info, []);
    await tracking.logBatch(info.runId, {
      metrics: [
        { key: "m", value: Number.NaN, timestamp: 1, step: 0 },
        { key: "m", value: Number.POSITIVE_INFINITY, timestamp: 1, step: 1 },
      ],
      params: [],
      tags: [],
    });
    const values = (await tracking.metricHistory(info.runId, "m", 0, 10)).map((p) => p.value);
    expect(values[0]).toBeNaN();
    expect(values[1]).toBe(Number.POSITIVE_INFINITY);
  });

  it("lists a run's artifacts below a prefix without matching look-alike names", async () => {
    const info = runInfo(experimentId);
    await tracking.insertRun(info, []);
    for (const path of ["model/model.onnx", "model/model.json", "model2/x", "model", "a.txt"]) {
      await tracking.putRunArtifact(info.runId, { path, sha256: "a".repeat(64), size: 3, createdAt: 1 });
    }
    expect((await tracking.listRunArtifacts(info.runId, "model")).map((a) => a.path)).toEqual([
      "model",
      "model/model.json",
      "model/model.onnx",
    ]);
    expect(await tracking.listRunArtifacts(info.runId, "")).toHaveLength(5);
  });

  describe("a series of 1,000,000 points", () => {
    let runId: string;
    beforeAll(async () => {
      const info = runInfo(experimentId);
      runId = info.runId;
      await tracking.insertRun(info, []);
      const db = store.db;
      if (kind === "postgres") {
        await sql`INSERT INTO metrics (run_id, key, step, timestamp, value, is_nan)
          SELECT ${runId}, 'loss', g, 1700000000000 + g, sin(g / 1000.0) + g / 1000000.0, 0
          FROM generate_series(0, 999999) AS g`.execute(db);
        // What autovacuum does after a bulk load: statistics and the visibility map (index-only scans).
        await sql`VACUUM ANALYZE metrics`.execute(db);
      } else {
        await sql`WITH RECURSIVE c(g) AS (SELECT 0 UNION ALL SELECT g + 1 FROM c WHERE g < 999999)
          INSERT INTO metrics (run_id, key, step, timestamp, value, is_nan)
          SELECT ${runId}, 'loss', g, 1700000000000 + g, (g % 1000) / 1000.0 + g / 1000000.0, 0 FROM c`.execute(
          db,
        );
      }
    }, 120_000);

    // The bound is loose on purpose: tests share 2 cores; `npm run bench` measures, this guards against full scans.
    it("finds bounds, an evenly spaced sample and exact buckets of a 50k range without scanning the series", async () => {
      const timed = async <T>(work: () => Promise<T>): Promise<[T, number]> => {
        const started = performance.now();
        const result = await work();
        return [result, performance.now() - started];
      };
      const [bounds, boundsMs] = await timed(() => tracking.seriesBounds(runId, "loss", 50_000));
      expect(bounds).toEqual({
        countUpTo: 50_001,
        first: { step: 0, timestamp: 1700000000000 },
        last: { step: 999999, timestamp: 1700000999999 },
      });
      const [sample, sampleMs] = await timed(() =>
        tracking.sampleSeries(runId, "loss", { axis: "step", origin: 0, stride: 125, count: 8_000 }),
      );
      expect(sample).toHaveLength(8_000);
      expect(sample[1].step).toBe(125);
      expect(sample[7_999].step).toBe(999_875);
      const [buckets, bucketsMs] = await timed(() =>
        tracking.bucketedHistory(runId, "loss", { axis: "step", origin: 0, width: 100, count: 500 }),
      );
      expect(buckets).toHaveLength(500);
      expect(buckets.reduce((n, b) => n + b.count, 0)).toBe(50_000);
      expect(buckets[1].step).toBe(100);
      expect(buckets[0].min).toBeLessThanOrEqual(buckets[0].value);
      expect(buckets[0].max).toBeGreaterThanOrEqual(buckets[0].value);
      expect(boundsMs + sampleMs + bucketsMs).toBeLessThan(3000);
    });
  });
});
