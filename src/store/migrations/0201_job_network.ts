import type { VersionedMigration } from "./migration.js";

/** A job may choose its replicas' network ("host" | "none"); null = the server's MLOPS_JOB_NETWORK. */
export const jobNetworkMigration: VersionedMigration = {
  name: "0201_job_network",
  async up(db) {
    await db.schema.alterTable("jobs").addColumn("network", "text").execute();
  },
  async down(db) {
    await db.schema.alterTable("jobs").dropColumn("network").execute();
  },
};
