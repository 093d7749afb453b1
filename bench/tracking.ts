import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { migrateToLatest } from "../src/store/migrate.js";
import { openStore } from "../src/store/open-store.js";
import { SqlTrackingStore } from "../src/store/repositories/tracking.js";
import type { MetricPoint } from "../src/tracking/model.js";
import { spawnServer } from "../test/support/processes.js";
import { searchBench, sqliteSearchOptions } from "./_tracking-search.js";

/**
 * Tracking: MLflow `runs/log-batch` with 1,000 metrics per request over HTTP with keep-alive, against a
 * real server process on SQLite, next to the baseline of the same rows inserted straight into the store
 * (SqlTrackingStore.logBatch: the same SQL, without HTTP, JSON, validation and auth).
 * Targets (docs/performance-targets.md): >= 200,000 points/s sustained, p99 < 20 ms per request.
 */
const METRICS_PER_REQUEST = 1000;
const DURATION_MS = 8000;
const WARMUP_REQUESTS = 30;

function batchOf(stepBase: number, keys: number): MetricPoint[] {
  // `keys` metric keys x (1000 / keys) steps: a training loop logging a few metrics per step.
  const steps = METRICS_PER_REQUEST / keys;
  const now = Date.now();
  return Array.from({ length: METRICS_PER_REQUEST }, (_, i) => ({
    key: `metric_${i % keys}`,
    value: Math.sin(i + stepBase),
    timestamp: now,
    step: stepBase + Math.floor(i / keys),
  })).slice(0, keys * steps);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function baseline(dir: string, keys: number): Promise<number> {
  const store = await openStore({ sqliteFile: path.join(dir, `baseline-${keys}.db`) });
  await migrateToLatest(store);
  await store.db
    .insertInto("users")
    .values({ id: "u", name: "bench", role: "admin", created_at: 1 })
    .execute();
  await store.db
    .insertInto("projects")
    .values({ id: "p", name: "bench", description: "", created_at: 1, created_by: "u", quotas: "{}" })
    .execute();
  const tracking = new SqlTrackingStore(store);
  const exp = await tracking.insertExperiment({
    projectId: "p",
    name: "b",
    artifactLocation: "x",
    createdBy: "u",
    at: 1,
    tags: [],
  });
  const runId = randomBytes(16).toString("hex");
  await tracking.insertRun(
    {
      runId,
      experimentId: exp.id,
      projectId: "p",
      runName: "b",
      status: "RUNNING",
      startTime: 1,
      endTime: null,
      lifecycleStage: "active",
      userId: "u",
      artifactUri: "x",
    },
    [],
  );
  let step = 0;
  for (let i = 0; i < WARMUP_REQUESTS; i++, step += METRICS_PER_REQUEST) {
    await tracking.logBatch(runId, { metrics: batchOf(step, keys), params: [], tags: [] });
  }
  let points = 0;
  const started = performance.now();
  while (performance.now() - started < DURATION_MS / 2) {
    const metrics = batchOf(step, keys);
    step += METRICS_PER_REQUEST;
    await tracking.logBatch(runId, { metrics, params: [], tags: [] });
    points += metrics.length;
  }
  const rate = points / ((performance.now() - started) / 1000);
  await store.close();
  return rate;
}

async function overHttp(url: string, token: string, concurrency: number, keys: number) {
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const call = async (endpoint: string, body: unknown) => {
    const response = await fetch(`${url}/api/2.0/mlflow/${endpoint}`, {
      method: "POST",
      headers,
      body: JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${endpoint}: ${response.status} ${text}`);
    return JSON.parse(text) as Record<string, unknown>;
  };
  const exp = await call("experiments/create", { name: `bench-${randomBytes(3).toString("hex")}` });
  const created = (await call("runs/create", { experiment_id: exp.experiment_id })) as {
    run: { info: { run_id: string } };
  };
  const runId = created.run.info.run_id;
  let step = 0;
  const nextBody = () => {
    const body = JSON.stringify({ run_id: runId, metrics: batchOf(step, keys) });
    step += METRICS_PER_REQUEST;
    return body;
  };
  const send = async (body: string) => {
    const response = await fetch(`${url}/api/2.0/mlflow/runs/log-batch`, { method: "POST", headers, body });
    await response.arrayBuffer();
    if (!response.ok) throw new Error(`log-batch: ${response.status}`);
  };
  for (let i = 0; i < WARMUP_REQUESTS; i++) await send(nextBody());
  const latencies: number[] = [];
  const started = performance.now();
  const worker = async () => {
    while (performance.now() - started < DURATION_MS) {
      const body = nextBody(); // built before the clock starts: client-side JSON is not server time
      const t0 = performance.now();
      await send(body);
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    pointsPerSecond: (latencies.length * METRICS_PER_REQUEST) / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "mlops-bench-tracking-"));
  const token = `mlops_bench-${randomBytes(12).toString("hex")}`;
  const server = await spawnServer({
    MLOPS_DATA_DIR: path.join(dir, "server"),
    MLOPS_ADMIN_TOKEN: token,
    MLOPS_BACKGROUND_LOOPS: "false",
  });
  try {
    const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
    for (const keys of [10, 1000]) {
      const base = await baseline(dir, keys);
      process.stdout.write(
        `\nlog-batch, ${METRICS_PER_REQUEST} metrics/request (${keys} keys x ${METRICS_PER_REQUEST / keys} steps), SQLite\n` +
          `  baseline: store.logBatch straight into SQLite   ${fmt(base)} points/s\n`,
      );
      for (const concurrency of [1, 4]) {
        const r = await overHttp(server.url, token, concurrency, keys);
        process.stdout.write(
          `  HTTP keep-alive, ${concurrency} in flight: ${fmt(r.pointsPerSecond)} points/s ` +
            `(${(r.pointsPerSecond / base).toFixed(2)}x baseline; target 200,000), ` +
            `p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms (target < 20 ms), ${r.requests} requests\n`,
        );
      }
    }
    await searchBench("SQLite", sqliteSearchOptions(dir));
    // PostgreSQL when a URL is given, in a schema of its own that is dropped afterwards.
    const postgresUrl = process.env.MLOPS_BENCH_POSTGRES_URL;
    if (postgresUrl) {
      await searchBench("PostgreSQL", { postgresUrl, schema: `bench_${randomBytes(4).toString("hex")}` });
    }
  } finally {
    await server.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}
