import type { VersionedMigration } from "./migration.js";

/**
 * Secrets the control plane generates once and every replica shares (e.g. the key that signs expiring image
 * URLs for Label Studio). Kept in the database, not in a replica's data dir, so any replica can verify.
 */
export const serverSecretsMigration: VersionedMigration = {
  name: "0004_server_secrets",
  async up(db) {
    await db.schema
      .createTable("server_secrets")
      .addColumn("name", "text", (c) => c.primaryKey())
      .addColumn("value", "text", (c) => c.notNull())
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .execute();
  },
  async down(db) {
    await db.schema.dropTable("server_secrets").execute();
  },
};
