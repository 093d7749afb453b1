import { describe, expect, it } from "vitest";
import { PredictionLogWriter } from "./prediction-log-writer.js";
import type { PredictionRecord, PredictionStore } from "./prediction-record.js";

function record(id: string): PredictionRecord {
  return {
    id,
    deploymentId: "d",
    deployment: "d",
    modelVersionId: "v",
    modelVersion: "m:1",
    canary: false,
    createdAt: 0,
    inputSha256: "0".repeat(64),
    outcome: "success",
    topLabel: null,
    score: null,
    output: null,
    latencyMs: 1,
    routingKey: null,
    endpoint: "oip",
    error: null,
  };
}

/** An in-memory store whose writes can be made to fail: the writer's only dependency. */
function store(fail = { now: false }) {
  const batches: string[][] = [];
  const s = {
    batches,
    async insertMany(records: PredictionRecord[]) {
      if (fail.now) throw new Error("database down");
      batches.push(records.map((r) => r.id));
    },
  };
  return s as typeof s & PredictionStore;
}

describe("prediction log writer", () => {
  it("writes off the request path: nothing until a batch is full or the timer fires", async () => {
    const s = store();
    const w = new PredictionLogWriter(s, { maxBatch: 3, flushMs: 20 });
    w.record(record("a"));
    w.record(record("b"));
    expect(s.batches).toEqual([]);
    w.record(record("c"));
    await w.flush();
    expect(s.batches).toEqual([["a", "b", "c"]]);
    w.record(record("d"));
    await new Promise((r) => setTimeout(r, 60));
    expect(s.batches).toEqual([["a", "b", "c"], ["d"]]);
    await w.close();
  });

  it("keeps a failed batch for the next write and counts what no longer fits as dropped", async () => {
    const fail = { now: true };
    const s = store(fail);
    const drops: number[] = [];
    const w = new PredictionLogWriter(s, { maxBatch: 100, maxBuffered: 3, onDrop: (n) => drops.push(n) });
    for (const id of ["a", "b", "c", "d"]) w.record(record(id));
    expect(w.dropped).toBe(1);
    expect(drops).toEqual([1]);
    await w.flush();
    expect(w.pending).toBe(3);
    fail.now = false;
    await w.close();
    expect(s.batches).toEqual([["a", "b", "c"]]);
    expect(w.pending).toBe(0);
  });
});
