import type { OrderByClause } from "../mlflow/order-by.js";
import type { SearchFilter } from "../mlflow/search-filter.js";
import type {
  Experiment,
  HistoryBucket,
  KeyValue,
  LifecycleStage,
  LogBatch,
  MetricPoint,
  Run,
  RunArtifact,
  RunInfo,
  RunStatus,
} from "./model.js";

export interface NewExperiment {
  /** Set only for the fixed experiment "0"; otherwise the store assigns the next id. */
  id?: string;
  projectId: string;
  name: string;
  /** `{id}` is replaced by the assigned id. */
  artifactLocation: string;
  createdBy: string;
  at: number;
  tags: KeyValue[];
}

export interface ExperimentQuery {
  projectId: string;
  lifecycle: LifecycleStage | "all";
}

export interface RunQuery {
  experimentIds: string[];
  lifecycle: LifecycleStage | "all";
}

/** One page of MLflow `runs/search`: filtered, ordered and paged by the store (docs/mlflow.md). */
export interface RunSearch extends RunQuery {
  filter: SearchFilter;
  orderBy: readonly OrderByClause[];
  offset: number;
  limit: number;
}

/** How a series is reduced: `count` buckets of `width` along `axis`, starting at `origin`. */
export interface Bucketing {
  axis: "step" | "timestamp";
  origin: number;
  width: number;
  count: number;
}

/** First and last point in (step, timestamp) order, and the number of points up to a cap. */
export interface SeriesBounds {
  /** Exact when below the cap asked for, otherwise cap + 1. */
  countUpTo: number;
  first: { step: number; timestamp: number };
  last: { step: number; timestamp: number };
}

/** Persistence for experiments, runs, params, metrics, tags and run artifacts. */
export interface TrackingStore {
  /** ConflictError when the name is taken in the project. */
  insertExperiment(input: NewExperiment): Promise<Experiment>;
  findExperiment(id: string): Promise<Experiment | undefined>;
  findExperimentByName(projectId: string, name: string): Promise<Experiment | undefined>;
  listExperiments(query: ExperimentQuery): Promise<Experiment[]>;
  /** ConflictError when renaming onto a taken name. */
  updateExperiment(
    id: string,
    patch: { name?: string; lifecycleStage?: LifecycleStage; at: number },
  ): Promise<void>;
  setExperimentTag(id: string, key: string, value: string): Promise<void>;
  /** False when the experiment had no such tag. */
  deleteExperimentTag(id: string, key: string): Promise<boolean>;

  insertRun(info: RunInfo, tags: KeyValue[]): Promise<void>;
  findRunInfo(runId: string): Promise<RunInfo | undefined>;
  getRun(runId: string): Promise<Run | undefined>;
  /** Runs with metrics/params/tags, for search and compare (the caller filters and sorts). */
  listRuns(query: RunQuery): Promise<Run[]>;
  getRuns(runIds: string[]): Promise<Run[]>;
  /** The runs of one page in MLflow's order (`sortRuns`), matching `matchesFilter`, and whether more follow. */
  searchRuns(query: RunSearch): Promise<{ runs: Run[]; hasMore: boolean }>;
  updateRun(
    runId: string,
    patch: {
      status?: RunStatus;
      endTime?: number | null;
      runName?: string;
      lifecycleStage?: LifecycleStage;
      deletedTime?: number | null;
    },
  ): Promise<void>;

  /**
   * One transaction: metric points (identical points are ignored), latest-metric upsert, params (a key
   * already set to a different value throws InputError and nothing of the batch is kept), tags (upsert).
   */
  logBatch(runId: string, batch: LogBatch): Promise<void>;
  deleteTag(runId: string, key: string): Promise<boolean>;

  /** Points in (step, timestamp) order. */
  metricHistory(runId: string, key: string, offset: number, limit: number): Promise<MetricPoint[]>;
  /** Points of several runs with step in [startStep, endStep], (run, step, timestamp) order. */
  metricHistoryForRuns(
    runIds: string[],
    key: string,
    range: { startStep?: number; endStep?: number },
    limit: number,
  ): Promise<Array<MetricPoint & { runId: string }>>;
  /** Index seeks only: cheap whatever the series length. Undefined for an empty series. */
  seriesBounds(runId: string, key: string, countCap: number): Promise<SeriesBounds | undefined>;
  /**
   * Index seeks at `origin + i * stride` (i < count) along the axis (for the timestamp axis, within
   * `step`): the first point at or after each position, each point once, in axis order.
   */
  sampleSeries(
    runId: string,
    key: string,
    seek: { axis: "step" | "timestamp"; step?: number; origin: number; stride: number; count: number },
  ): Promise<MetricPoint[]>;
  /** Aggregates per non-empty bucket, in bucket order (one index range scan per bucket, no sort). */
  bucketedHistory(runId: string, key: string, bucketing: Bucketing): Promise<HistoryBucket[]>;
  metricKeys(runId: string): Promise<string[]>;

  putRunArtifact(runId: string, artifact: RunArtifact): Promise<void>;
  findRunArtifact(runId: string, path: string): Promise<RunArtifact | undefined>;
  /** Artifacts whose path is `prefix` or lies below it (`""` = all). */
  listRunArtifacts(runId: string, prefix: string): Promise<RunArtifact[]>;
}
