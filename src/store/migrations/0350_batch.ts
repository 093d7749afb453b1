import type { VersionedMigration } from "./migration.js";

/**
 * Batch prediction. The exactly-once guarantee lives in the keys: a chunk checkpoint is unique per
 * (batch, chunk index) and a result per (batch, position), and both are written in one transaction.
 */
export const batchMigration: VersionedMigration = {
  name: "0350_batch",
  async up(db, dialect) {
    await db.schema
      .createTable("batch_predictions")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("project_id", "text", (c) => c.notNull().references("projects.id").onDelete("cascade"))
      // No foreign keys to the registry or datasets: a batch's results outlive edits there and name them.
      .addColumn("model_id", "text", (c) => c.notNull())
      .addColumn("model_name", "text", (c) => c.notNull())
      .addColumn("model_version", "integer", (c) => c.notNull())
      .addColumn("version_id", "text", (c) => c.notNull())
      .addColumn("task", "text", (c) => c.notNull())
      .addColumn("classes", "text", (c) => c.notNull())
      .addColumn("model_sha256", "text", (c) => c.notNull())
      .addColumn("descriptor", "text", (c) => c.notNull())
      .addColumn("source_kind", "text", (c) => c.notNull())
      .addColumn("dataset_id", "text")
      .addColumn("dataset_name", "text")
      .addColumn("input_digest", "text")
      .addColumn("total", "integer", (c) => c.notNull())
      .addColumn("chunk_size", "integer", (c) => c.notNull())
      .addColumn("chunk_count", "integer", (c) => c.notNull())
      .addColumn("workers", "integer", (c) => c.notNull())
      .addColumn("state", "text", (c) => c.notNull())
      .addColumn("state_reason", "text", (c) => c.notNull())
      .addColumn("job_id", "text")
      .addColumn("jobs_submitted", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("chunks_done", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("images_done", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("rate_since", "bigint")
      .addColumn("rate_images_since", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("last_chunk_at", "bigint")
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addColumn("created_by", "text", (c) => c.notNull())
      .addColumn("started_at", "bigint")
      .addColumn("finished_at", "bigint")
      .addColumn("updated_at", "bigint", (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex("batch_predictions_project_idx")
      .on("batch_predictions")
      .columns(["project_id", "created_at"])
      .execute();
    await db.schema
      .createTable("batch_prediction_inputs")
      .addColumn("batch_id", "text", (c) =>
        c.notNull().references("batch_predictions.id").onDelete("cascade"),
      )
      .addColumn("position", "integer", (c) => c.notNull())
      .addColumn("item_key", "text", (c) => c.notNull())
      .addColumn("item_id", "text")
      .addColumn("sha256", "text")
      .addColumn("url", "text")
      .addPrimaryKeyConstraint("batch_prediction_inputs_pk", ["batch_id", "position"])
      .$call((t) => (dialect.clusteredTableSuffix ? t.modifyEnd(dialect.clusteredTableSuffix) : t))
      .execute();
    await db.schema
      .createTable("batch_prediction_chunks")
      .addColumn("batch_id", "text", (c) =>
        c.notNull().references("batch_predictions.id").onDelete("cascade"),
      )
      .addColumn("chunk_index", "integer", (c) => c.notNull())
      .addColumn("items", "integer", (c) => c.notNull())
      .addColumn("job_id", "text")
      .addColumn("attempt", "integer", (c) => c.notNull())
      .addColumn("duration_ms", "double precision", (c) => c.notNull())
      .addColumn("completed_at", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("batch_prediction_chunks_pk", ["batch_id", "chunk_index"])
      .execute();
    await db.schema
      .createTable("batch_prediction_results")
      .addColumn("batch_id", "text", (c) =>
        c.notNull().references("batch_predictions.id").onDelete("cascade"),
      )
      .addColumn("position", "integer", (c) => c.notNull())
      .addColumn("chunk_index", "integer", (c) => c.notNull())
      .addColumn("item_key", "text", (c) => c.notNull())
      .addColumn("item_id", "text")
      .addColumn("prediction", "text", (c) => c.notNull())
      .addColumn("top_label", "text")
      .addColumn("score", "double precision")
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("batch_prediction_results_pk", ["batch_id", "position"])
      .$call((t) => (dialect.clusteredTableSuffix ? t.modifyEnd(dialect.clusteredTableSuffix) : t))
      .execute();
  },
  async down(db) {
    await db.schema.dropTable("batch_prediction_results").execute();
    await db.schema.dropTable("batch_prediction_chunks").execute();
    await db.schema.dropTable("batch_prediction_inputs").execute();
    await db.schema.dropTable("batch_predictions").execute();
  },
};
