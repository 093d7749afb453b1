import { autoIncrementId, type VersionedMigration } from "./migration.js";

export const trackingMigration: VersionedMigration = {
  name: "0100_tracking",
  async up(db, dialect) {
    await db.schema
      .createTable("experiments")
      .addColumn("id", ...autoIncrementId(dialect))
      .addColumn("project_id", "text", (c) => c.notNull().references("projects.id"))
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("artifact_location", "text", (c) => c.notNull())
      .addColumn("lifecycle_stage", "text", (c) => c.notNull())
      .addColumn("creation_time", "bigint", (c) => c.notNull())
      .addColumn("last_update_time", "bigint", (c) => c.notNull())
      .addColumn("created_by", "text", (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex("experiments_project_name_uq")
      .on("experiments")
      .columns(["project_id", "name"])
      .unique()
      .execute();
    await db.schema
      .createTable("experiment_tags")
      .addColumn("experiment_id", "bigint", (c) =>
        c.notNull().references("experiments.id").onDelete("cascade"),
      )
      .addColumn("key", "text", (c) => c.notNull())
      .addColumn("value", "text", (c) => c.notNull())
      .addPrimaryKeyConstraint("experiment_tags_pk", ["experiment_id", "key"])
      .execute();
    await db.schema
      .createTable("runs")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("experiment_id", "bigint", (c) => c.notNull().references("experiments.id"))
      .addColumn("project_id", "text", (c) => c.notNull())
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("start_time", "bigint", (c) => c.notNull())
      .addColumn("end_time", "bigint")
      .addColumn("lifecycle_stage", "text", (c) => c.notNull())
      .addColumn("deleted_time", "bigint")
      .addColumn("user_id", "text", (c) => c.notNull())
      .addColumn("artifact_uri", "text", (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex("runs_experiment_idx")
      .on("runs")
      .columns(["experiment_id", "start_time"])
      .execute();
    for (const table of ["run_params", "run_tags"]) {
      await db.schema
        .createTable(table)
        .addColumn("run_id", "text", (c) => c.notNull().references("runs.id").onDelete("cascade"))
        .addColumn("key", "text", (c) => c.notNull())
        .addColumn("value", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint(`${table}_pk`, ["run_id", "key"])
        .execute();
    }
    // No foreign key on the two metric tables: log-batch checks the run once per request, and a per-row
    // FK lookup would cost a fifth of the insert rate.
    await db.schema
      .createTable("metrics")
      .addColumn("run_id", "text", (c) => c.notNull())
      .addColumn("key", "text", (c) => c.notNull())
      .addColumn("step", "bigint", (c) => c.notNull())
      .addColumn("timestamp", "bigint", (c) => c.notNull())
      .addColumn("value", "double precision", (c) => c.notNull())
      .addColumn("is_nan", "integer", (c) => c.notNull())
      .addPrimaryKeyConstraint("metrics_pk", ["run_id", "key", "step", "timestamp", "value", "is_nan"])
      .$call((t) => (dialect.clusteredTableSuffix ? t.modifyEnd(dialect.clusteredTableSuffix) : t))
      .execute();
    await db.schema
      .createTable("latest_metrics")
      .addColumn("run_id", "text", (c) => c.notNull())
      .addColumn("key", "text", (c) => c.notNull())
      .addColumn("step", "bigint", (c) => c.notNull())
      .addColumn("timestamp", "bigint", (c) => c.notNull())
      .addColumn("value", "double precision", (c) => c.notNull())
      .addColumn("is_nan", "integer", (c) => c.notNull())
      .addPrimaryKeyConstraint("latest_metrics_pk", ["run_id", "key"])
      .execute();
    await db.schema
      .createTable("run_artifacts")
      .addColumn("run_id", "text", (c) => c.notNull().references("runs.id").onDelete("cascade"))
      .addColumn("path", "text", (c) => c.notNull())
      .addColumn("sha256", "text", (c) => c.notNull())
      .addColumn("size", "bigint", (c) => c.notNull())
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("run_artifacts_pk", ["run_id", "path"])
      .execute();
    await db.schema.createIndex("run_artifacts_sha_idx").on("run_artifacts").column("sha256").execute();
  },
  async down(db) {
    for (const table of [
      "run_artifacts",
      "latest_metrics",
      "metrics",
      "run_tags",
      "run_params",
      "runs",
      "experiment_tags",
      "experiments",
    ]) {
      await db.schema.dropTable(table).execute();
    }
  },
};
