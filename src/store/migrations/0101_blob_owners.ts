import type { VersionedMigration } from "./migration.js";

/**
 * Which project owns which artifact blob (docs/security.md, tenancy). Blobs stay content-addressed and
 * shared on disk; a reference by sha256 (model-version files, a job's code archive, a batch's input
 * archive) resolves only for a project that owns the blob. Run artifacts and dataset images are owned
 * through their own rows (no copy here); this table holds what nothing else records: direct uploads,
 * model-version files, and `*` for blobs the platform itself provides (the bundled example code).
 *
 * Rows derived from older data (model-version files, jobs' code archives) are backfilled by
 * `0301_deployment_scope`, which runs after the registry and jobs tables exist on a fresh database.
 */
export const blobOwnersMigration: VersionedMigration = {
  name: "0101_blob_owners",
  async up(db) {
    await db.schema
      .createTable("blob_owners")
      // No foreign key: `*` (the platform) is not a project; a deleted project's rows grant nothing.
      .addColumn("project_id", "text", (c) => c.notNull())
      .addColumn("sha256", "text", (c) => c.notNull())
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("blob_owners_pk", ["project_id", "sha256"])
      .execute();
  },
  async down(db) {
    await db.schema.dropTable("blob_owners").execute();
  },
};
