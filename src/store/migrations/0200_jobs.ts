import { autoIncrementId, type VersionedMigration } from "./migration.js";

export const jobsMigration: VersionedMigration = {
  name: "0200_jobs",
  async up(db, dialect) {
    await db.schema
      .createTable("jobs")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("project_id", "text", (c) => c.notNull().references("projects.id"))
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("command", "text", (c) => c.notNull())
      .addColumn("env", "text", (c) => c.notNull().defaultTo("{}"))
      .addColumn("image", "text")
      .addColumn("cpu", "double precision", (c) => c.notNull())
      .addColumn("memory_mib", "integer", (c) => c.notNull())
      .addColumn("gpus", "integer", (c) => c.notNull())
      .addColumn("gpu_type", "text")
      .addColumn("distributed", "text")
      .addColumn("replicas", "integer", (c) => c.notNull())
      .addColumn("priority", "integer", (c) => c.notNull())
      .addColumn("max_retries", "integer", (c) => c.notNull())
      .addColumn("timeout_seconds", "integer")
      .addColumn("attempt", "integer", (c) => c.notNull())
      .addColumn("state", "text", (c) => c.notNull())
      .addColumn("state_reason", "text", (c) => c.notNull())
      .addColumn("created_by", "text")
      .addColumn("owner_id", "text")
      .addColumn("run_id", "text")
      .addColumn("experiment_id", "text")
      .addColumn("code_digest", "text")
      .addColumn("cancel_requested", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("submitted_at", "bigint", (c) => c.notNull())
      .addColumn("updated_at", "bigint", (c) => c.notNull())
      .addColumn("started_at", "bigint")
      .addColumn("finished_at", "bigint")
      .execute();
    await db.schema
      .createIndex("jobs_state_queue_idx")
      .on("jobs")
      .columns(["state", "priority", "submitted_at"])
      .execute();
    await db.schema
      .createIndex("jobs_project_submitted_idx")
      .on("jobs")
      .columns(["project_id", "submitted_at"])
      .execute();
    await db.schema.createIndex("jobs_submitted_idx").on("jobs").columns(["submitted_at", "id"]).execute();

    await db.schema
      .createTable("job_replicas")
      .addColumn("replica_id", "text", (c) => c.primaryKey())
      .addColumn("job_id", "text", (c) => c.notNull().references("jobs.id").onDelete("cascade"))
      .addColumn("attempt", "integer", (c) => c.notNull())
      .addColumn("replica_index", "integer", (c) => c.notNull())
      .addColumn("node_id", "text", (c) => c.notNull())
      .addColumn("cpu", "double precision", (c) => c.notNull())
      .addColumn("memory_mib", "integer", (c) => c.notNull())
      .addColumn("gpu_uuids", "text", (c) => c.notNull().defaultTo("[]"))
      .addColumn("state", "text", (c) => c.notNull())
      .addColumn("pid", "integer")
      .addColumn("end_reason", "text")
      .addColumn("exit_code", "integer")
      .addColumn("signal", "text")
      .addColumn("message", "text")
      .addColumn("started_at", "bigint")
      .addColumn("ended_at", "bigint")
      .addColumn("stdout_sha256", "text")
      .addColumn("stderr_sha256", "text")
      .execute();
    await db.schema
      .createIndex("job_replicas_job_idx")
      .on("job_replicas")
      .columns(["job_id", "attempt", "replica_index"])
      .unique()
      .execute();

    await db.schema
      .createTable("job_events")
      .addColumn("id", ...autoIncrementId(dialect))
      .addColumn("job_id", "text", (c) => c.notNull().references("jobs.id").onDelete("cascade"))
      .addColumn("at", "bigint", (c) => c.notNull())
      .addColumn("from_state", "text")
      .addColumn("to_state", "text", (c) => c.notNull())
      .addColumn("attempt", "integer", (c) => c.notNull())
      .addColumn("actor", "text", (c) => c.notNull())
      .addColumn("reason", "text", (c) => c.notNull())
      .addColumn("details", "text", (c) => c.notNull().defaultTo("{}"))
      .execute();
    await db.schema.createIndex("job_events_job_idx").on("job_events").columns(["job_id", "id"]).execute();

    await db.schema
      .createTable("resource_holds")
      .addColumn("workload_id", "text", (c) => c.notNull())
      .addColumn("replica_index", "integer", (c) => c.notNull())
      .addColumn("project_id", "text", (c) => c.notNull())
      .addColumn("node_id", "text", (c) => c.notNull())
      .addColumn("cpu", "double precision", (c) => c.notNull())
      .addColumn("memory_mib", "integer", (c) => c.notNull())
      .addColumn("gpu_uuids", "text", (c) => c.notNull().defaultTo("[]"))
      .addColumn("acquired_at", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("resource_holds_pk", ["workload_id", "replica_index"])
      .execute();
    // Only active holds exist as rows, so the primary key is "unique device among active holds".
    await db.schema
      .createTable("gpu_holds")
      .addColumn("device_uuid", "text", (c) => c.primaryKey())
      .addColumn("workload_id", "text", (c) => c.notNull())
      .addColumn("replica_index", "integer", (c) => c.notNull())
      .addColumn("project_id", "text", (c) => c.notNull())
      .addColumn("acquired_at", "bigint", (c) => c.notNull())
      .execute();
    await db.schema.createIndex("gpu_holds_workload_idx").on("gpu_holds").column("workload_id").execute();
  },
  async down(db) {
    await db.schema.dropTable("gpu_holds").execute();
    await db.schema.dropTable("resource_holds").execute();
    await db.schema.dropTable("job_events").execute();
    await db.schema.dropTable("job_replicas").execute();
    await db.schema.dropTable("jobs").execute();
  },
};
