import type { VersionedMigration } from "./migration.js";

/**
 * Write-only job environment values (`secretEnv`, docs/security.md): kept apart from the job row so no
 * job view can include them; only the launcher reads them. No foreign key: this migration's number sorts
 * before the jobs table's, and a job's secrets are removed with the job by the job store's owner.
 */
export const workloadScopesMigration: VersionedMigration = {
  name: "0003_workload_scopes",
  async up(db) {
    await db.schema
      .createTable("job_secret_env")
      .addColumn("job_id", "text", (c) => c.notNull())
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("value", "text", (c) => c.notNull())
      .addPrimaryKeyConstraint("job_secret_env_pk", ["job_id", "name"])
      .execute();
  },
  async down(db) {
    await db.schema.dropTable("job_secret_env").execute();
  },
};
