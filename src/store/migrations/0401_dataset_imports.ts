import type { VersionedMigration } from "./migration.js";

/** Import sessions: a bulk import declares itself so the retrain trigger waits until it has settled. */
export const datasetImportsMigration: VersionedMigration = {
  name: "0401_dataset_imports",
  async up(db) {
    await db.schema
      .createTable("dataset_imports")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("dataset_id", "text", (c) => c.notNull().references("datasets.id").onDelete("cascade"))
      .addColumn("source", "text", (c) => c.notNull())
      .addColumn("items", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("started_at", "bigint", (c) => c.notNull())
      .addColumn("last_activity_at", "bigint", (c) => c.notNull())
      .addColumn("finished_at", "bigint")
      .addColumn("created_by", "text", (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex("dataset_imports_open_idx")
      .on("dataset_imports")
      .columns(["dataset_id", "finished_at"])
      .execute();
    // The trigger asks "when did this dataset's labels last change": newest revision per dataset.
    await db.schema
      .createIndex("label_revisions_recent_idx")
      .on("label_revisions")
      .columns(["dataset_id", "created_at"])
      .execute();
  },
  async down(db) {
    await db.schema.dropIndex("label_revisions_recent_idx").execute();
    await db.schema.dropTable("dataset_imports").execute();
  },
};
