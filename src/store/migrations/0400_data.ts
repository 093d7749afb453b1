import { autoIncrementId, type VersionedMigration } from "./migration.js";

export const dataMigration: VersionedMigration = {
  name: "0400_data",
  async up(db, dialect) {
    await db.schema
      .createTable("datasets")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("project_id", "text", (c) => c.notNull().references("projects.id"))
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("description", "text", (c) => c.notNull().defaultTo(""))
      .addColumn("task", "text", (c) => c.notNull())
      .addColumn("classes", "text", (c) => c.notNull().defaultTo("[]"))
      .addColumn("split_fractions", "text", (c) => c.notNull())
      .addColumn("webhook_secret_hash", "text")
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addColumn("created_by", "text", (c) => c.notNull())
      .addUniqueConstraint("datasets_project_name_uq", ["project_id", "name"])
      .execute();
    await db.schema
      .createTable("dataset_blobs")
      .addColumn("dataset_id", "text", (c) => c.notNull().references("datasets.id").onDelete("cascade"))
      .addColumn("sha256", "text", (c) => c.notNull())
      .addColumn("size", "bigint", (c) => c.notNull())
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("dataset_blobs_pk", ["dataset_id", "sha256"])
      .execute();
    await db.schema
      .createTable("dataset_items")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("dataset_id", "text", (c) => c.notNull().references("datasets.id").onDelete("cascade"))
      .addColumn("key", "text", (c) => c.notNull())
      .addColumn("sha256", "text")
      .addColumn("url", "text")
      .addColumn("size", "bigint")
      .addColumn("source_name", "text")
      .addColumn("file_name", "text")
      .addColumn("split", "text", (c) => c.notNull())
      .addColumn("external_task_id", "text")
      .addColumn("created_at", "bigint", (c) => c.notNull())
      // One item per key, and (NULLs being distinct on both databases) one item per image content.
      .addUniqueConstraint("dataset_items_key_uq", ["dataset_id", "key"])
      .addUniqueConstraint("dataset_items_sha_uq", ["dataset_id", "sha256"])
      .execute();
    await db.schema
      .createIndex("dataset_items_file_idx")
      .on("dataset_items")
      .columns(["dataset_id", "file_name"])
      .execute();
    await db.schema
      .createIndex("dataset_items_task_idx")
      .on("dataset_items")
      .columns(["dataset_id", "external_task_id"])
      .execute();
    await db.schema
      .createTable("label_revisions")
      .addColumn("id", ...autoIncrementId(dialect))
      .addColumn("dataset_id", "text", (c) => c.notNull().references("datasets.id").onDelete("cascade"))
      .addColumn("item_id", "text", (c) => c.notNull().references("dataset_items.id").onDelete("cascade"))
      .addColumn("label", "text")
      .addColumn("source", "text", (c) => c.notNull())
      .addColumn("dedupe_key", "text", (c) => c.notNull())
      .addColumn("author", "text", (c) => c.notNull())
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addColumn("source_ref", "text")
      .addColumn("prediction_id", "text")
      .addColumn("predicted_label", "text")
      .addColumn("model_version", "text")
      .addColumn("deployment", "text")
      .addColumn("prediction_key", "text")
      .addColumn("outcome", "text")
      .addUniqueConstraint("label_revisions_dedupe_uq", ["dataset_id", "dedupe_key"])
      .execute();
    await db.schema
      .createIndex("label_revisions_item_idx")
      .on("label_revisions")
      .columns(["dataset_id", "item_id", "id"])
      .execute();
    await db.schema
      .createIndex("label_revisions_ref_idx")
      .on("label_revisions")
      .columns(["dataset_id", "source_ref"])
      .execute();
    await db.schema
      .createIndex("label_revisions_agreement_idx")
      .on("label_revisions")
      .columns(["model_version", "prediction_key", "id"])
      .execute();
    await db.schema
      .createTable("dataset_snapshots")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("dataset_id", "text", (c) => c.notNull().references("datasets.id").onDelete("cascade"))
      .addColumn("item_count", "integer", (c) => c.notNull())
      .addColumn("split_counts", "text", (c) => c.notNull())
      .addColumn("manifest_size", "bigint", (c) => c.notNull())
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addColumn("created_by", "text", (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex("dataset_snapshots_dataset_idx")
      .on("dataset_snapshots")
      .columns(["dataset_id", "created_at"])
      .execute();
    await db.schema
      .createTable("snapshot_items")
      .addColumn("snapshot_id", "text", (c) =>
        c.notNull().references("dataset_snapshots.id").onDelete("cascade"),
      )
      .addColumn("item_id", "text", (c) => c.notNull())
      .addColumn("revision_id", "bigint", (c) => c.notNull())
      .addColumn("split", "text", (c) => c.notNull())
      .addPrimaryKeyConstraint("snapshot_items_pk", ["snapshot_id", "item_id"])
      .execute();
  },
  async down(db) {
    await db.schema.dropTable("snapshot_items").execute();
    await db.schema.dropTable("dataset_snapshots").execute();
    await db.schema.dropTable("label_revisions").execute();
    await db.schema.dropTable("dataset_items").execute();
    await db.schema.dropTable("dataset_blobs").execute();
    await db.schema.dropTable("datasets").execute();
  },
};
