import type { Selectable } from "kysely";
import type {
  Experiment,
  KeyValue,
  LifecycleStage,
  MetricPoint,
  RunInfo,
  RunStatus,
} from "../../tracking/model.js";
import type { ExperimentsTable, LatestMetricsTable, MetricsTable, RunsTable } from "../tables/tracking.js";

/** Row <-> domain conversions for the tracking tables. */

export function toExperiment(row: Selectable<ExperimentsTable>, tags: Record<string, string>): Experiment {
  return {
    id: String(row.id),
    projectId: row.project_id,
    name: row.name,
    artifactLocation: row.artifact_location,
    lifecycleStage: row.lifecycle_stage as LifecycleStage,
    creationTime: Number(row.creation_time),
    lastUpdateTime: Number(row.last_update_time),
    createdBy: row.created_by,
    tags,
  };
}

export function toRunInfo(row: Selectable<RunsTable>): RunInfo {
  return {
    runId: row.id,
    experimentId: String(row.experiment_id),
    projectId: row.project_id,
    runName: row.name,
    status: row.status as RunStatus,
    startTime: Number(row.start_time),
    endTime: row.end_time === null ? null : Number(row.end_time),
    lifecycleStage: row.lifecycle_stage as LifecycleStage,
    userId: row.user_id,
    artifactUri: row.artifact_uri,
  };
}

export function toMetricPoint(
  row: Pick<MetricsTable | LatestMetricsTable, "key" | "step" | "timestamp" | "value" | "is_nan">,
): MetricPoint {
  return {
    key: row.key,
    value: row.is_nan ? Number.NaN : Number(row.value),
    timestamp: Number(row.timestamp),
    step: Number(row.step),
  };
}

/** NaN cannot be stored in SQLite: it becomes value 0 with is_nan 1 (MLflow's own encoding). */
export function metricRow(runId: string, m: MetricPoint): MetricsTable {
  const nan = Number.isNaN(m.value);
  return {
    run_id: runId,
    key: m.key,
    step: m.step,
    timestamp: m.timestamp,
    value: nan ? 0 : m.value,
    is_nan: nan ? 1 : 0,
  };
}

/** Splits `items` into power-of-two sized chunks (at most `max`), so a few cached statements cover every size. */
export function powerOfTwoChunks<T>(items: readonly T[], max: number): T[][] {
  const chunks: T[][] = [];
  let i = 0;
  while (i < items.length) {
    let size = max;
    while (size > items.length - i) size >>= 1;
    chunks.push(items.slice(i, i + size));
    i += size;
  }
  return chunks;
}

export function chunked<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export function dedupe(items: KeyValue[]): KeyValue[] {
  return [...new Map(items.map((t) => [t.key, { key: t.key, value: t.value }])).values()];
}

/** The greatest (step, timestamp, value) per key of this batch: one upsert row per key. */
export function latestPerKey(rows: MetricsTable[]): MetricsTable[] {
  const best = new Map<string, MetricsTable>();
  for (const r of rows) {
    const cur = best.get(r.key);
    if (
      !cur ||
      r.step > cur.step ||
      (r.step === cur.step &&
        (r.timestamp > cur.timestamp || (r.timestamp === cur.timestamp && r.value > cur.value)))
    ) {
      best.set(r.key, r);
    }
  }
  return [...best.values()];
}

export function byKeyStepTime(a: MetricsTable, b: MetricsTable): number {
  if (a.key !== b.key) return a.key < b.key ? -1 : 1;
  return a.step - b.step || a.timestamp - b.timestamp;
}
