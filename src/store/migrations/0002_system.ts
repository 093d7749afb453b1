import { autoIncrementId, type VersionedMigration } from "./migration.js";

export const systemMigration: VersionedMigration = {
  name: "0002_system",
  async up(db, dialect) {
    await db.schema
      .createTable("audit_events")
      .addColumn("id", ...autoIncrementId(dialect))
      .addColumn("at", "bigint", (c) => c.notNull())
      .addColumn("actor", "text", (c) => c.notNull())
      .addColumn("action", "text", (c) => c.notNull())
      .addColumn("subject_type", "text", (c) => c.notNull())
      .addColumn("subject_id", "text", (c) => c.notNull())
      .addColumn("project_id", "text")
      .addColumn("reason", "text")
      .addColumn("details", "text", (c) => c.notNull().defaultTo("{}"))
      .execute();
    await db.schema
      .createIndex("audit_subject_idx")
      .on("audit_events")
      .columns(["subject_type", "subject_id", "id"])
      .execute();
    await db.schema.createIndex("audit_action_idx").on("audit_events").columns(["action", "id"]).execute();
    await db.schema
      .createTable("leases")
      .addColumn("name", "text", (c) => c.primaryKey())
      .addColumn("holder", "text", (c) => c.notNull())
      .addColumn("acquired_at", "bigint", (c) => c.notNull())
      .addColumn("renewed_at", "bigint", (c) => c.notNull())
      .addColumn("expires_at", "bigint", (c) => c.notNull())
      .execute();
  },
  async down(db) {
    await db.schema.dropTable("leases").execute();
    await db.schema.dropTable("audit_events").execute();
  },
};
