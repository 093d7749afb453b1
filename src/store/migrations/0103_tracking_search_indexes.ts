import type { VersionedMigration } from "./migration.js";

/**
 * Indexes for `runs/search` in SQL (src/store/repositories/tracking-search.ts): a metric filter starts
 * from (key, value) on latest_metrics; param and tag filters from (key, run_id) — not (key, value), since
 * values may be longer than a PostgreSQL b-tree entry allows; the default order from runs_search_order_idx.
 */
export const trackingSearchIndexesMigration: VersionedMigration = {
  name: "0103_tracking_search_indexes",
  async up(db) {
    await db.schema
      .createIndex("latest_metrics_key_value_idx")
      .on("latest_metrics")
      .columns(["key", "value"])
      .execute();
    // MLflow's default order (start_time DESC, run id): the first page is read off the index, no sort.
    await db.schema
      .createIndex("runs_search_order_idx")
      .on("runs")
      .columns(["experiment_id", "start_time desc", "id"])
      .execute();
    await db.schema.createIndex("run_params_key_idx").on("run_params").columns(["key", "run_id"]).execute();
    await db.schema.createIndex("run_tags_key_idx").on("run_tags").columns(["key", "run_id"]).execute();
  },
  async down(db) {
    for (const index of [
      "run_tags_key_idx",
      "run_params_key_idx",
      "runs_search_order_idx",
      "latest_metrics_key_value_idx",
    ]) {
      await db.schema.dropIndex(index).execute();
    }
  },
};
