import { sql } from "kysely";
import type { HistoryBucket, MetricPoint } from "../../tracking/model.js";
import type { Bucketing, SeriesBounds } from "../../tracking/tracking-store.js";
import { chunked, toMetricPoint } from "./tracking-rows.js";
import type { Db } from "./tracking.js";

/** Downsampling queries over one metric series (run, key): bounds, index-seek sampling, bucket aggregates. */

export async function seriesBounds(
  db: Db,
  runId: string,
  key: string,
  countCap: number,
): Promise<SeriesBounds | undefined> {
  const base = db
    .selectFrom("metrics")
    .select(["step", "timestamp"])
    .where("run_id", "=", runId)
    .where("key", "=", key);
  const first = await base.orderBy("step").orderBy("timestamp").limit(1).executeTakeFirst();
  if (!first) return undefined;
  const last = await base
    .orderBy("step", "desc")
    .orderBy("timestamp", "desc")
    .limit(1)
    .executeTakeFirstOrThrow();
  const counted = await db
    .selectFrom((eb) =>
      eb
        .selectFrom("metrics")
        .select("step")
        .where("run_id", "=", runId)
        .where("key", "=", key)
        .limit(countCap + 1)
        .as("capped"),
    )
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .executeTakeFirstOrThrow();
  const point = (r: { step: number; timestamp: number }) => ({
    step: Number(r.step),
    timestamp: Number(r.timestamp),
  });
  return { countUpTo: Number(counted.n), first: point(first), last: point(last) };
}

export async function sampleSeries(
  db: Db,
  runId: string,
  key: string,
  seek: { axis: "step" | "timestamp"; step?: number; origin: number; stride: number; count: number },
): Promise<MetricPoint[]> {
  // A recursive CTE numbers the seek positions; each correlated subquery is one index seek on
  // (run_id, key, step, timestamp). The casts keep PostgreSQL from typing the positions as int4.
  const origin = sql`cast(${seek.origin} as bigint)`;
  const stride = sql`cast(${seek.stride} as bigint)`;
  const rows =
    seek.axis === "step"
      ? await sql<{ key: string; step: number; timestamp: number; value: number; is_nan: number }>`
        WITH RECURSIVE pos(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM pos WHERE i + 1 < ${seek.count}),
        hits AS (SELECT DISTINCT (SELECT m.step FROM metrics m WHERE m.run_id = ${runId} AND m.key = ${key}
            AND m.step >= ${origin} + pos.i * ${stride} ORDER BY m.step LIMIT 1) AS s FROM pos)
        SELECT m.key, m.step, m.timestamp, m.value, m.is_nan FROM hits
        JOIN metrics m ON m.run_id = ${runId} AND m.key = ${key} AND m.step = hits.s
        ORDER BY m.step, m.timestamp`.execute(db)
      : await sql<{ key: string; step: number; timestamp: number; value: number; is_nan: number }>`
        WITH RECURSIVE pos(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM pos WHERE i + 1 < ${seek.count}),
        hits AS (SELECT DISTINCT (SELECT m.timestamp FROM metrics m WHERE m.run_id = ${runId} AND m.key = ${key}
            AND m.step = ${seek.step ?? 0} AND m.timestamp >= ${origin} + pos.i * ${stride}
            ORDER BY m.timestamp LIMIT 1) AS t FROM pos)
        SELECT m.key, m.step, m.timestamp, m.value, m.is_nan FROM hits
        JOIN metrics m ON m.run_id = ${runId} AND m.key = ${key} AND m.step = ${seek.step ?? 0} AND m.timestamp = hits.t
        ORDER BY m.timestamp`.execute(db);
  return rows.rows.map(toMetricPoint);
}

export async function bucketedHistory(
  db: Db,
  runId: string,
  key: string,
  b: Bucketing,
): Promise<HistoryBucket[]> {
  // One aggregate per bucket over an index range, glued with UNION ALL: a GROUP BY on a computed bucket
  // would sort the whole series (about twice as slow at 1e6 points). SQLite allows 500 compound terms.
  const bucketQuery = (i: number) => {
    const lo = b.origin + i * b.width;
    return db
      .selectFrom("metrics")
      .select((eb) => [
        sql.lit(i).as("bucket"),
        eb.fn.min("step").as("step"),
        eb.fn.max("timestamp").as("timestamp"),
        eb.fn.avg<number>("value").as("mean"),
        eb.fn.min("value").as("lo"),
        eb.fn.max("value").as("hi"),
        eb.fn.countAll<number>().as("n"),
      ])
      .where("run_id", "=", runId)
      .where("key", "=", key)
      .where(b.axis, ">=", lo)
      .where(b.axis, "<", lo + b.width)
      .where("is_nan", "=", 0);
  };
  const statements = chunked(
    Array.from({ length: b.count }, (_, i) => i),
    250,
  ).map((indexes) => {
    let query = bucketQuery(indexes[0]);
    for (const i of indexes.slice(1)) query = query.unionAll(bucketQuery(i));
    return query.execute();
  });
  const rows = (await Promise.all(statements)).flat();
  return rows
    .filter((r) => Number(r.n) > 0)
    .sort((x, y) => Number(x.bucket) - Number(y.bucket))
    .map((r) => ({
      step: Number(r.step),
      timestamp: Number(r.timestamp),
      value: Number(r.mean),
      min: Number(r.lo),
      max: Number(r.hi),
      count: Number(r.n),
    }));
}

export async function metricHistory(
  db: Db,
  runId: string,
  key: string,
  offset: number,
  limit: number,
): Promise<MetricPoint[]> {
  const rows = await db
    .selectFrom("metrics")
    .select(["key", "step", "timestamp", "value", "is_nan"])
    .where("run_id", "=", runId)
    .where("key", "=", key)
    .orderBy("step")
    .orderBy("timestamp")
    .orderBy("value")
    .limit(limit)
    .offset(offset)
    .execute();
  return rows.map(toMetricPoint);
}

export async function metricHistoryForRuns(
  db: Db,
  runIds: string[],
  key: string,
  range: { startStep?: number; endStep?: number },
  limit: number,
): Promise<Array<MetricPoint & { runId: string }>> {
  if (runIds.length === 0) return [];
  let q = db
    .selectFrom("metrics")
    .select(["run_id", "key", "step", "timestamp", "value", "is_nan"])
    .where("run_id", "in", runIds)
    .where("key", "=", key);
  if (range.startStep !== undefined) q = q.where("step", ">=", range.startStep);
  if (range.endStep !== undefined) q = q.where("step", "<=", range.endStep);
  const rows = await q.orderBy("run_id").orderBy("step").orderBy("timestamp").limit(limit).execute();
  return rows.map((r) => ({ ...toMetricPoint(r), runId: r.run_id }));
}
