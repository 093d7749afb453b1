import type { Principal } from "../auth/principal.js";
import { InputError } from "../errors.js";
import { parseOrderByList } from "../mlflow/order-by.js";
import { decodePageToken, encodePageToken } from "../mlflow/page-token.js";
import { parseSearchFilter } from "../mlflow/search-filter.js";
import type { TrackingAccess } from "./access.js";
import type { HistoryBucket, MetricHistory, MetricPoint, Run, ViewType } from "./model.js";

export const SEARCH_MAX_RESULTS_DEFAULT = 1000;
export const SEARCH_MAX_RESULTS_LIMIT = 50_000;
export const HISTORY_MAX_RESULTS_DEFAULT = 25_000;
export const HISTORY_MAX_RESULTS_LIMIT = 25_000;
export const MAX_DOWNSAMPLED_POINTS = 10_000;
/** Longest series aggregated exactly for a chart request (about 0.1 s of SQL on SQLite, 2 cores). */
export const EXACT_POINTS_CAP = 50_000;
/** Sample size for longer series. */
export const SAMPLE_POINTS = 8_000;

function single(p: MetricPoint): HistoryBucket {
  return { step: p.step, timestamp: p.timestamp, value: p.value, min: p.value, max: p.value, count: 1 };
}

/** Mean, min and max per bucket of finite-or-infinite points (NaN left out), in bucket order. */
export function bucketize(points: MetricPoint[], bucketOf: (p: MetricPoint) => number): HistoryBucket[] {
  const buckets = new Map<number, HistoryBucket & { sum: number }>();
  for (const p of points) {
    if (Number.isNaN(p.value)) continue;
    const b = bucketOf(p);
    const cur = buckets.get(b);
    if (!cur) {
      buckets.set(b, { ...single(p), sum: p.value });
    } else {
      cur.count++;
      cur.sum += p.value;
      cur.min = Math.min(cur.min, p.value);
      cur.max = Math.max(cur.max, p.value);
      cur.timestamp = Math.max(cur.timestamp, p.timestamp);
    }
  }
  return [...buckets.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([, { sum, ...bucket }]) => ({ ...bucket, value: sum / bucket.count }));
}

export interface SearchRunsInput {
  experimentIds: string[];
  filter?: string;
  viewType?: ViewType;
  maxResults?: number;
  orderBy?: string[];
  pageToken?: string;
}

export interface CompareTable {
  runs: Array<{
    runId: string;
    runName: string;
    experimentId: string;
    status: string;
    params: Record<string, string | null>;
    metrics: Record<string, number | null>;
  }>;
  params: string[];
  metrics: string[];
}

function lifecycleOf(view: ViewType | undefined): "active" | "deleted" | "all" {
  return view === "DELETED_ONLY" ? "deleted" : view === "ALL" ? "all" : "active";
}

/** Reading runs: search, metric histories (raw and downsampled), comparison tables. */
export class RunQueries {
  constructor(private readonly access: TrackingAccess) {}

  /**
   * MLflow `runs/search`: filtered, ordered and paged in SQL by the store with MLflow's semantics (the
   * same as `matchesFilter` and `sortRuns`, which test/tracking-search-sql.test.ts checks).
   */
  async searchRuns(
    principal: Principal,
    input: SearchRunsInput,
  ): Promise<{ runs: Run[]; nextPageToken?: string }> {
    const maxResults = input.maxResults ?? SEARCH_MAX_RESULTS_DEFAULT;
    if (!Number.isInteger(maxResults) || maxResults < 1 || maxResults > SEARCH_MAX_RESULTS_LIMIT) {
      throw new InputError(
        `Invalid value ${maxResults} for parameter 'max_results' supplied. It must be at most ${SEARCH_MAX_RESULTS_LIMIT}, and at least 1.`,
      );
    }
    const filter = parseSearchFilter(input.filter);
    const orderBy = parseOrderByList(input.orderBy);
    const context = JSON.stringify([
      input.experimentIds,
      input.filter ?? "",
      input.orderBy ?? [],
      input.viewType ?? "",
    ]);
    const offset = decodePageToken(input.pageToken, { context }); // refuse a bad token before any work
    for (const id of input.experimentIds) await this.access.experiment(principal, id, "read");
    const page = await this.access.store.searchRuns({
      experimentIds: input.experimentIds,
      lifecycle: lifecycleOf(input.viewType),
      filter,
      orderBy,
      offset,
      limit: maxResults,
    });
    return {
      runs: page.runs,
      nextPageToken: page.hasMore ? encodePageToken(offset + maxResults, { context }) : undefined,
    };
  }

  /** MLflow `metrics/get-history`: every point in (step, timestamp) order, paged. */
  async metricHistory(
    principal: Principal,
    runId: string,
    key: string,
    opts: { maxResults?: number; pageToken?: string } = {},
  ): Promise<{ metrics: MetricPoint[]; nextPageToken?: string }> {
    const maxResults = opts.maxResults ?? HISTORY_MAX_RESULTS_DEFAULT;
    if (!Number.isInteger(maxResults) || maxResults < 1 || maxResults > HISTORY_MAX_RESULTS_LIMIT) {
      throw new InputError(`max_results must be between 1 and ${HISTORY_MAX_RESULTS_LIMIT}`);
    }
    const context = `history:${runId}:${key}`;
    const offset = decodePageToken(opts.pageToken, { context });
    await this.access.readRun(principal, runId);
    const points = await this.access.store.metricHistory(runId, key, offset, maxResults + 1);
    if (points.length <= maxResults) return { metrics: points };
    return {
      metrics: points.slice(0, maxResults),
      nextPageToken: encodePageToken(offset + maxResults, { context }),
    };
  }

  /** MLflow `metrics/get-history-bulk-interval`: points of several runs within a step range. */
  async metricHistoryBulk(
    principal: Principal,
    runIds: string[],
    key: string,
    range: { startStep?: number; endStep?: number; maxResults?: number },
  ): Promise<Array<MetricPoint & { runId: string }>> {
    if (runIds.length === 0 || runIds.length > 100) throw new InputError("run_ids must name 1 to 100 runs");
    for (const id of runIds) await this.access.readRun(principal, id);
    const limit = Math.min(range.maxResults ?? HISTORY_MAX_RESULTS_DEFAULT, HISTORY_MAX_RESULTS_LIMIT);
    return this.access.store.metricHistoryForRuns(runIds, key, range, limit);
  }

  /**
   * A chart-sized history: at most `maxPoints` points, each a bucket along the step axis (the timestamp
   * axis when every point has the same step, MLflow's default step 0) with its first step, mean, min and
   * max, so spikes stay visible. Work is bounded whatever the series length: up to EXACT_POINTS_CAP points
   * are aggregated exactly in SQL; a longer series is aggregated over an evenly spaced sample of about
   * SAMPLE_POINTS points found by index seeks (mode `sampled`).
   */
  async downsampledHistory(
    principal: Principal,
    runId: string,
    key: string,
    maxPoints: number,
  ): Promise<MetricHistory> {
    if (!Number.isInteger(maxPoints) || maxPoints < 2 || maxPoints > MAX_DOWNSAMPLED_POINTS) {
      throw new InputError(`maxPoints must be an integer between 2 and ${MAX_DOWNSAMPLED_POINTS}`);
    }
    await this.access.readRun(principal, runId);
    const store = this.access.store;
    const bounds = await store.seriesBounds(runId, key, EXACT_POINTS_CAP);
    if (!bounds || bounds.countUpTo <= maxPoints) {
      const points = bounds ? await store.metricHistory(runId, key, 0, maxPoints) : [];
      return { key, mode: "raw", covered: points.length, points: points.map(single) };
    }
    const byStep = bounds.last.step > bounds.first.step;
    const lo = byStep ? bounds.first.step : bounds.first.timestamp;
    const hi = byStep ? bounds.last.step : bounds.last.timestamp;
    // ceil(span / maxPoints) keeps the bucket count at or under maxPoints.
    const width = Math.max(1, Math.ceil((hi - lo + 1) / maxPoints));
    const count = Math.ceil((hi - lo + 1) / width);
    const axis = byStep ? "step" : "timestamp";
    if (bounds.countUpTo <= EXACT_POINTS_CAP) {
      const points = await store.bucketedHistory(runId, key, { axis, origin: lo, width, count });
      return { key, mode: "buckets", covered: points.reduce((n, p) => n + p.count, 0), points };
    }
    const stride = Math.max(1, Math.floor((hi - lo + 1) / SAMPLE_POINTS));
    const sample = await store.sampleSeries(runId, key, {
      axis,
      step: bounds.first.step,
      origin: lo,
      stride,
      count: Math.ceil((hi - lo + 1) / stride),
    });
    const points = bucketize(sample, (p) => Math.floor(((byStep ? p.step : p.timestamp) - lo) / width));
    return { key, mode: "sampled", covered: sample.length, points };
  }

  /** A table of chosen params and metrics (latest values) across runs; all keys when none are chosen. */
  async compare(
    principal: Principal,
    runIds: string[],
    chosen: { params?: string[]; metrics?: string[] } = {},
  ): Promise<CompareTable> {
    if (runIds.length === 0 || runIds.length > 100) throw new InputError("compare needs 1 to 100 run ids");
    for (const id of runIds) await this.access.readRun(principal, id);
    const runs = await this.access.store.getRuns(runIds);
    const paramKeys = chosen.params?.length
      ? chosen.params
      : [...new Set(runs.flatMap((r) => Object.keys(r.params)))].sort();
    const metricKeys = chosen.metrics?.length
      ? chosen.metrics
      : [...new Set(runs.flatMap((r) => r.metrics.map((m) => m.key)))].sort();
    return {
      params: paramKeys,
      metrics: metricKeys,
      runs: runs.map((r) => {
        const latest = new Map(r.metrics.map((m) => [m.key, m.value]));
        return {
          runId: r.info.runId,
          runName: r.info.runName,
          experimentId: r.info.experimentId,
          status: r.info.status,
          params: Object.fromEntries(paramKeys.map((k) => [k, r.params[k] ?? null])),
          metrics: Object.fromEntries(metricKeys.map((k) => [k, latest.get(k) ?? null])),
        };
      }),
    };
  }
}
