import path from "node:path";
import { sql } from "kysely";
import { parseOrderByList } from "../src/mlflow/order-by.js";
import { parseSearchFilter } from "../src/mlflow/search-filter.js";
import { migrateToLatest } from "../src/store/migrate.js";
import { openStore, type StoreOptions } from "../src/store/open-store.js";
import { SqlTrackingStore } from "../src/store/repositories/tracking.js";

/**
 * runs/search pushed into SQL over RUNS runs of one experiment (each with metrics acc and loss, param
 * lr, tag team), built by bulk INSERTs straight into the tables. Target (docs/performance-targets.md):
 * p50 < 50 ms for a metric filter with page size 100.
 */
const RUNS = 100_000;
const ROWS_PER_INSERT = 500;
const SEARCHES = 25;

async function fill(options: StoreOptions) {
  const store = await openStore(options);
  await migrateToLatest(store);
  await store.db.insertInto("users").values({ id: "u", name: "b", role: "admin", created_at: 1 }).execute();
  await store.db
    .insertInto("projects")
    .values({ id: "p", name: "b", description: "", created_at: 1, created_by: "u", quotas: "{}" })
    .execute();
  const tracking = new SqlTrackingStore(store);
  const exp = await tracking.insertExperiment({
    projectId: "p",
    name: "search",
    artifactLocation: "x",
    createdBy: "u",
    at: 1,
    tags: [],
  });
  for (let start = 0; start < RUNS; start += ROWS_PER_INSERT) {
    const ids = Array.from(
      { length: ROWS_PER_INSERT },
      (_, i) => `run${String(start + i).padStart(29, "0")}`,
    );
    await store.db.transaction().execute(async (trx) => {
      await trx
        .insertInto("runs")
        .values(
          ids.map((id, i) => ({
            id,
            experiment_id: Number(exp.id),
            project_id: "p",
            name: `run-${start + i}`,
            status: "FINISHED",
            start_time: start + i,
            end_time: start + i + 10,
            lifecycle_stage: "active",
            deleted_time: null,
            user_id: "u",
            artifact_uri: "x",
          })),
        )
        .execute();
      for (const key of ["acc", "loss"]) {
        await trx
          .insertInto("latest_metrics")
          .values(
            ids.map((id, i) => ({
              run_id: id,
              key,
              step: 0,
              timestamp: 1,
              value: (((start + i) * 7919) % 10_000) / 10_000,
              is_nan: 0,
            })),
          )
          .execute();
      }
      await trx
        .insertInto("run_params")
        .values(
          ids.map((id, i) => ({ run_id: id, key: "lr", value: ["0.1", "0.01", "0.001"][(start + i) % 3] })),
        )
        .execute();
      await trx
        .insertInto("run_tags")
        .values(ids.map((id, i) => ({ run_id: id, key: "team", value: `team-${(start + i) % 50}` })))
        .execute();
    });
  }
  // PostgreSQL plans from statistics that autovacuum gathers a while after a bulk load: gather them now.
  if (store.dialect.name === "postgres") await sql`analyze`.execute(store.db);
  return { store, tracking, experimentId: exp.id };
}

export async function searchBench(label: string, options: StoreOptions): Promise<void> {
  const t0 = performance.now();
  const { store, tracking, experimentId } = await fill(options);
  const built = (performance.now() - t0) / 1000;
  process.stdout.write(
    `\nruns/search over ${RUNS.toLocaleString("en-US")} runs, page size 100, ${label} (built in ${built.toFixed(1)} s)\n`,
  );
  const cases: Array<[string, string, string[]]> = [
    ["metric filter", "metrics.acc > 0.5", []],
    ["selective metric filter", "metrics.acc > 0.999", []],
    ["metric filter, order by metric", "metrics.acc > 0.5", ["metrics.loss DESC"]],
    ["param + tag filter", "params.lr = '0.01' AND tags.team LIKE 'team-1%'", []],
  ];
  try {
    for (const [name, filter, order] of cases) {
      const times: number[] = [];
      for (let i = 0; i < SEARCHES; i++) {
        const s = performance.now();
        const page = await tracking.searchRuns({
          experimentIds: [experimentId],
          lifecycle: "active",
          filter: parseSearchFilter(filter),
          orderBy: parseOrderByList(order),
          offset: 0,
          limit: 100,
        });
        times.push(performance.now() - s);
        if (page.runs.length === 0) throw new Error(`${name}: no runs found`);
      }
      times.sort((a, b) => a - b);
      process.stdout.write(
        `  ${name} (${filter}${order.length ? ` order by ${order.join(", ")}` : ""}): ` +
          `p50 ${times[Math.floor(SEARCHES / 2)].toFixed(1)} ms, max ${times[SEARCHES - 1].toFixed(1)} ms (target p50 < 50 ms)\n`,
      );
    }
  } finally {
    if (store.schema) await store.dialect.dropAll(store.db as never);
    await store.close();
  }
}

export function sqliteSearchOptions(dir: string): StoreOptions {
  return { sqliteFile: path.join(dir, "search.db") };
}
