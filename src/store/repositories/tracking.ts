import { CompiledQuery, type Kysely, sql, type Transaction } from "kysely";
import { ConflictError, InputError } from "../../errors.js";
import type {
  Experiment,
  HistoryBucket,
  KeyValue,
  LogBatch,
  MetricPoint,
  Run,
  RunArtifact,
  RunInfo,
} from "../../tracking/model.js";
import type {
  Bucketing,
  ExperimentQuery,
  NewExperiment,
  RunQuery,
  RunSearch,
  SeriesBounds,
  TrackingStore,
} from "../../tracking/tracking-store.js";
import type { Store } from "../open-store.js";
import type { Database } from "../schema.js";
import type { MetricsTable } from "../tables/tracking.js";
import {
  byKeyStepTime,
  chunked,
  dedupe,
  latestPerKey,
  metricRow,
  powerOfTwoChunks,
  toExperiment,
  toMetricPoint,
  toRunInfo,
} from "./tracking-rows.js";
import {
  bucketedHistory,
  metricHistory,
  metricHistoryForRuns,
  sampleSeries,
  seriesBounds,
} from "./tracking-history.js";
import { searchRunIds } from "./tracking-search.js";

/** Rows per multi-row INSERT: 6 columns x 1024 = 6144 variables, under SQLite's 32766 and PostgreSQL's 65535. */
const MAX_ROWS_PER_INSERT = 1024;
/** Ids per `IN (...)` list. */
const IN_CHUNK = 500;
const METRIC_COLUMNS = ["run_id", "key", "step", "timestamp", "value", "is_nan"] as const;

export type Db = Kysely<Database> | Transaction<Database>;

export class SqlTrackingStore implements TrackingStore {
  /** Compiled multi-row INSERT text by kind and row count: log-batch skips Kysely's per-row node building. */
  private readonly insertSql = new Map<string, string>();

  constructor(private readonly store: Store) {}

  private get db() {
    return this.store.db;
  }

  async insertExperiment(input: NewExperiment): Promise<Experiment> {
    try {
      return await this.db.transaction().execute(async (trx) => {
        const base = {
          project_id: input.projectId,
          name: input.name,
          artifact_location: "",
          lifecycle_stage: "active",
          creation_time: input.at,
          last_update_time: input.at,
          created_by: input.createdBy,
        };
        const inserted = await trx
          .insertInto("experiments")
          .values(input.id === undefined ? base : { ...base, id: Number(input.id) })
          .returning("id")
          .executeTakeFirstOrThrow();
        const id = String(inserted.id);
        const location = input.artifactLocation.replace("{id}", id);
        await trx
          .updateTable("experiments")
          .set({ artifact_location: location })
          .where("id", "=", Number(id))
          .execute();
        for (const tag of dedupe(input.tags)) {
          await trx
            .insertInto("experiment_tags")
            .values({ experiment_id: Number(id), ...tag })
            .execute();
        }
        const tags = Object.fromEntries(input.tags.map((t) => [t.key, t.value]));
        return toExperiment({ ...base, id: Number(id), artifact_location: location }, tags);
      });
    } catch (err) {
      if (this.store.dialect.isUniqueViolation(err)) {
        throw new ConflictError(`Experiment(name=${input.name}) already exists`);
      }
      throw err;
    }
  }

  async findExperiment(id: string): Promise<Experiment | undefined> {
    if (!/^\d{1,15}$/.test(id)) return undefined;
    const row = await this.db
      .selectFrom("experiments")
      .selectAll()
      .where("id", "=", Number(id))
      .executeTakeFirst();
    return row ? toExperiment(row, await this.experimentTags(row.id)) : undefined;
  }

  async findExperimentByName(projectId: string, name: string): Promise<Experiment | undefined> {
    const row = await this.db
      .selectFrom("experiments")
      .selectAll()
      .where("project_id", "=", projectId)
      .where("name", "=", name)
      .executeTakeFirst();
    return row ? toExperiment(row, await this.experimentTags(row.id)) : undefined;
  }

  async listExperiments(query: ExperimentQuery): Promise<Experiment[]> {
    let q = this.db.selectFrom("experiments").selectAll().where("project_id", "=", query.projectId);
    if (query.lifecycle !== "all") q = q.where("lifecycle_stage", "=", query.lifecycle);
    const rows = await q.orderBy("id").execute();
    const tags = new Map<number, Record<string, string>>();
    for (const ids of chunked(
      rows.map((r) => r.id),
      IN_CHUNK,
    )) {
      const tagRows = await this.db
        .selectFrom("experiment_tags")
        .selectAll()
        .where("experiment_id", "in", ids)
        .execute();
      for (const t of tagRows) {
        const id = Number(t.experiment_id);
        tags.set(id, { ...(tags.get(id) ?? {}), [t.key]: t.value });
      }
    }
    return rows.map((r) => toExperiment(r, tags.get(Number(r.id)) ?? {}));
  }

  async updateExperiment(
    id: string,
    patch: { name?: string; lifecycleStage?: "active" | "deleted"; at: number },
  ): Promise<void> {
    try {
      await this.db
        .updateTable("experiments")
        .set({
          last_update_time: patch.at,
          ...(patch.name !== undefined ? { name: patch.name } : {}),
          ...(patch.lifecycleStage !== undefined ? { lifecycle_stage: patch.lifecycleStage } : {}),
        })
        .where("id", "=", Number(id))
        .execute();
    } catch (err) {
      if (this.store.dialect.isUniqueViolation(err)) {
        throw new ConflictError(`Experiment(name=${patch.name}) already exists`);
      }
      throw err;
    }
  }

  async setExperimentTag(id: string, key: string, value: string): Promise<void> {
    await this.db
      .insertInto("experiment_tags")
      .values({ experiment_id: Number(id), key, value })
      .onConflict((oc) => oc.columns(["experiment_id", "key"]).doUpdateSet({ value }))
      .execute();
  }

  async deleteExperimentTag(id: string, key: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom("experiment_tags")
      .where("experiment_id", "=", Number(id))
      .where("key", "=", key)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async insertRun(info: RunInfo, tags: KeyValue[]): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto("runs")
        .values({
          id: info.runId,
          experiment_id: Number(info.experimentId),
          project_id: info.projectId,
          name: info.runName,
          status: info.status,
          start_time: info.startTime,
          end_time: info.endTime,
          lifecycle_stage: info.lifecycleStage,
          deleted_time: null,
          user_id: info.userId,
          artifact_uri: info.artifactUri,
        })
        .execute();
      const unique = dedupe(tags);
      if (unique.length > 0) {
        await trx
          .insertInto("run_tags")
          .values(unique.map((t) => ({ run_id: info.runId, ...t })))
          .execute();
      }
    });
  }

  async findRunInfo(runId: string): Promise<RunInfo | undefined> {
    const row = await this.db.selectFrom("runs").selectAll().where("id", "=", runId).executeTakeFirst();
    return row ? toRunInfo(row) : undefined;
  }

  async getRun(runId: string): Promise<Run | undefined> {
    return (await this.getRuns([runId]))[0];
  }

  async getRuns(runIds: string[]): Promise<Run[]> {
    const rows = [];
    for (const ids of chunked(runIds, IN_CHUNK)) {
      rows.push(...(await this.db.selectFrom("runs").selectAll().where("id", "in", ids).execute()));
    }
    const byId = new Map(rows.map((r) => [r.id, r]));
    const ordered = runIds.flatMap((id) => {
      const row = byId.get(id);
      return row ? [row] : [];
    });
    return this.withData(ordered.map(toRunInfo));
  }

  async listRuns(query: RunQuery): Promise<Run[]> {
    const ids = query.experimentIds.filter((id) => /^\d{1,15}$/.test(id)).map(Number);
    if (ids.length === 0) return [];
    let q = this.db.selectFrom("runs").selectAll().where("experiment_id", "in", ids);
    if (query.lifecycle !== "all") q = q.where("lifecycle_stage", "=", query.lifecycle);
    const rows = await q.execute();
    return this.withData(rows.map(toRunInfo));
  }

  async searchRuns(query: RunSearch): Promise<{ runs: Run[]; hasMore: boolean }> {
    const { ids, hasMore } = await searchRunIds(this.db, this.store.dialect, query);
    return { runs: await this.getRuns(ids), hasMore };
  }

  /** Loads params, tags and latest metrics for runs, a few queries per 500 runs. */
  private async withData(infos: RunInfo[]): Promise<Run[]> {
    const runs = new Map<string, Run>(
      infos.map((info) => [info.runId, { info, metrics: [], params: {}, tags: {} }]),
    );
    for (const ids of chunked([...runs.keys()], IN_CHUNK)) {
      const [params, tags, metrics] = await Promise.all([
        this.db.selectFrom("run_params").selectAll().where("run_id", "in", ids).execute(),
        this.db.selectFrom("run_tags").selectAll().where("run_id", "in", ids).execute(),
        this.db.selectFrom("latest_metrics").selectAll().where("run_id", "in", ids).orderBy("key").execute(),
      ]);
      for (const p of params) runs.get(p.run_id)!.params[p.key] = p.value;
      for (const t of tags) runs.get(t.run_id)!.tags[t.key] = t.value;
      for (const m of metrics) runs.get(m.run_id)!.metrics.push(toMetricPoint(m));
    }
    return [...runs.values()];
  }

  async updateRun(
    runId: string,
    patch: {
      status?: string;
      endTime?: number | null;
      runName?: string;
      lifecycleStage?: "active" | "deleted";
      deletedTime?: number | null;
    },
  ): Promise<void> {
    const set = {
      ...(patch.status !== undefined ? { status: patch.status } : {}),
      ...(patch.endTime !== undefined ? { end_time: patch.endTime } : {}),
      ...(patch.runName !== undefined ? { name: patch.runName } : {}),
      ...(patch.lifecycleStage !== undefined ? { lifecycle_stage: patch.lifecycleStage } : {}),
      ...(patch.deletedTime !== undefined ? { deleted_time: patch.deletedTime } : {}),
    };
    if (Object.keys(set).length === 0) return;
    await this.db.updateTable("runs").set(set).where("id", "=", runId).execute();
  }

  async logBatch(runId: string, batch: LogBatch): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      if (batch.params.length > 0) await this.insertParams(trx, runId, batch.params);
      if (batch.metrics.length > 0) {
        // In primary-key order, the rows land in the b-tree as a few sequential runs instead of scattered.
        const rows = batch.metrics.map((m) => metricRow(runId, m)).sort(byKeyStepTime);
        for (const chunk of powerOfTwoChunks(rows, MAX_ROWS_PER_INSERT)) {
          await trx.executeQuery(
            CompiledQuery.raw(this.metricInsertSql("metrics", chunk.length), flatten(chunk)),
          );
        }
        const latest = latestPerKey(rows);
        for (const chunk of powerOfTwoChunks(latest, MAX_ROWS_PER_INSERT)) {
          await trx.executeQuery(
            CompiledQuery.raw(this.metricInsertSql("latest", chunk.length), flatten(chunk)),
          );
        }
      }
      const tags = dedupe(batch.tags);
      for (const chunk of chunked(tags, 300)) {
        await trx
          .insertInto("run_tags")
          .values(chunk.map((t) => ({ run_id: runId, ...t })))
          .onConflict((oc) =>
            oc.columns(["run_id", "key"]).doUpdateSet({ value: (eb) => eb.ref("excluded.value") }),
          )
          .execute();
      }
    });
  }

  /** Params are immutable: re-logging a value is fine, a different one fails the whole batch. */
  private async insertParams(trx: Db, runId: string, params: KeyValue[]): Promise<void> {
    const check = async () => {
      const existing = await trx
        .selectFrom("run_params")
        .select(["key", "value"])
        .where("run_id", "=", runId)
        .where(
          "key",
          "in",
          params.map((p) => p.key),
        )
        .execute();
      const stored = new Map(existing.map((r) => [r.key, r.value]));
      for (const p of params) {
        const old = stored.get(p.key);
        if (old !== undefined && old !== p.value) {
          throw new InputError(
            `Changing param values is not allowed. Param with key='${p.key}' was already logged with ` +
              `value='${old}' for run ID='${runId}'. Attempted logging new value '${p.value}'.`,
            { mlflowErrorCode: "INVALID_PARAMETER_VALUE" },
          );
        }
      }
      return stored;
    };
    const stored = await check();
    const fresh = params.filter((p) => !stored.has(p.key));
    if (fresh.length === 0) return;
    await trx
      .insertInto("run_params")
      .values(fresh.map((p) => ({ run_id: runId, ...p })))
      .onConflict((oc) => oc.columns(["run_id", "key"]).doNothing())
      .execute();
    // A concurrent writer may have set one of them between check and insert (PostgreSQL): check again.
    await check();
  }

  private metricInsertSql(kind: "metrics" | "latest", rows: number): string {
    const cacheKey = `${kind}:${rows}`;
    let text = this.insertSql.get(cacheKey);
    if (text) return text;
    const dummy: MetricsTable[] = Array.from({ length: rows }, () => ({
      run_id: "",
      key: "",
      step: 0,
      timestamp: 0,
      value: 0,
      is_nan: 0,
    }));
    const compiled =
      kind === "metrics"
        ? this.db
            .insertInto("metrics")
            .values(dummy)
            .onConflict((oc) => oc.doNothing())
            .compile()
        : this.db
            .insertInto("latest_metrics")
            .values(dummy)
            .onConflict((oc) =>
              oc
                .columns(["run_id", "key"])
                .doUpdateSet({
                  step: (eb) => eb.ref("excluded.step"),
                  timestamp: (eb) => eb.ref("excluded.timestamp"),
                  value: (eb) => eb.ref("excluded.value"),
                  is_nan: (eb) => eb.ref("excluded.is_nan"),
                })
                // MLflow's "latest": the greatest (step, timestamp, value).
                .where(
                  sql<boolean>`(excluded.step, excluded.timestamp, excluded.value) > (latest_metrics.step, latest_metrics.timestamp, latest_metrics.value)`,
                ),
            )
            .compile();
    text = compiled.sql;
    this.insertSql.set(cacheKey, text);
    return text;
  }

  async deleteTag(runId: string, key: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom("run_tags")
      .where("run_id", "=", runId)
      .where("key", "=", key)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  metricHistory(runId: string, key: string, offset: number, limit: number): Promise<MetricPoint[]> {
    return metricHistory(this.db, runId, key, offset, limit);
  }

  metricHistoryForRuns(
    runIds: string[],
    key: string,
    range: { startStep?: number; endStep?: number },
    limit: number,
  ): Promise<Array<MetricPoint & { runId: string }>> {
    return metricHistoryForRuns(this.db, runIds, key, range, limit);
  }

  seriesBounds(runId: string, key: string, countCap: number): Promise<SeriesBounds | undefined> {
    return seriesBounds(this.db, runId, key, countCap);
  }

  sampleSeries(
    runId: string,
    key: string,
    seek: { axis: "step" | "timestamp"; step?: number; origin: number; stride: number; count: number },
  ): Promise<MetricPoint[]> {
    return sampleSeries(this.db, runId, key, seek);
  }

  bucketedHistory(runId: string, key: string, b: Bucketing): Promise<HistoryBucket[]> {
    return bucketedHistory(this.db, runId, key, b);
  }

  async metricKeys(runId: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom("latest_metrics")
      .select("key")
      .where("run_id", "=", runId)
      .orderBy("key")
      .execute();
    return rows.map((r) => r.key);
  }

  async putRunArtifact(runId: string, a: RunArtifact): Promise<void> {
    await this.db
      .insertInto("run_artifacts")
      .values({ run_id: runId, path: a.path, sha256: a.sha256, size: a.size, created_at: a.createdAt })
      .onConflict((oc) =>
        oc
          .columns(["run_id", "path"])
          .doUpdateSet({ sha256: a.sha256, size: a.size, created_at: a.createdAt }),
      )
      .execute();
  }

  async findRunArtifact(runId: string, path: string): Promise<RunArtifact | undefined> {
    const row = await this.db
      .selectFrom("run_artifacts")
      .selectAll()
      .where("run_id", "=", runId)
      .where("path", "=", path)
      .executeTakeFirst();
    return row
      ? { path: row.path, sha256: row.sha256, size: Number(row.size), createdAt: Number(row.created_at) }
      : undefined;
  }

  async listRunArtifacts(runId: string, prefix: string): Promise<RunArtifact[]> {
    let q = this.db.selectFrom("run_artifacts").selectAll().where("run_id", "=", runId);
    if (prefix !== "") {
      // Range on the primary key instead of LIKE: no escaping of % and _ in user paths.
      q = q.where((eb) =>
        eb.or([
          eb("path", "=", prefix),
          eb.and([eb("path", ">=", `${prefix}/`), eb("path", "<", `${prefix}0`)]),
        ]),
      );
    }
    const rows = await q.orderBy("path").execute();
    return rows.map((r) => ({
      path: r.path,
      sha256: r.sha256,
      size: Number(r.size),
      createdAt: Number(r.created_at),
    }));
  }

  private async experimentTags(id: number): Promise<Record<string, string>> {
    const rows = await this.db
      .selectFrom("experiment_tags")
      .select(["key", "value"])
      .where("experiment_id", "=", id)
      .execute();
    return Object.fromEntries(rows.map((r) => [r.key, r.value]));
  }
}

/** Last value wins for a repeated key (PostgreSQL refuses to upsert one row twice in a statement). */
function flatten(rows: MetricsTable[]): unknown[] {
  const out: unknown[] = new Array(rows.length * METRIC_COLUMNS.length);
  let i = 0;
  for (const r of rows) {
    out[i++] = r.run_id;
    out[i++] = r.key;
    out[i++] = r.step;
    out[i++] = r.timestamp;
    out[i++] = r.value;
    out[i++] = r.is_nan;
  }
  return out;
}
