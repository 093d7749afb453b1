import { autoIncrementId, type VersionedMigration } from "./migration.js";

export const pipelinesMigration: VersionedMigration = {
  name: "0450_pipelines",
  async up(db, dialect) {
    await db.schema
      .createTable("retrain_policies")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("project_id", "text", (c) => c.notNull().references("projects.id"))
      .addColumn("model_id", "text", (c) => c.notNull().unique())
      .addColumn("model_name", "text", (c) => c.notNull())
      .addColumn("dataset_id", "text", (c) => c.notNull())
      .addColumn("dataset_name", "text", (c) => c.notNull())
      .addColumn("min_new_labels", "integer", (c) => c.notNull())
      .addColumn("cooldown_seconds", "integer", (c) => c.notNull())
      .addColumn("job_template", "text", (c) => c.notNull())
      .addColumn("auto_deploy", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("deployment", "text")
      .addColumn("canary_plan", "text")
      .addColumn("paused", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("trigger_seq", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("last_fired_at", "bigint")
      .addColumn("owner_id", "text", (c) => c.notNull())
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addColumn("updated_at", "bigint", (c) => c.notNull())
      .addColumn("created_by", "text", (c) => c.notNull())
      .addColumn("updated_by", "text", (c) => c.notNull())
      .execute();
    await db.schema
      .createTable("pipeline_runs")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("policy_id", "text", (c) =>
        c.notNull().references("retrain_policies.id").onDelete("cascade"),
      )
      .addColumn("project_id", "text", (c) => c.notNull())
      .addColumn("model_id", "text", (c) => c.notNull())
      .addColumn("model_name", "text", (c) => c.notNull())
      .addColumn("dataset_id", "text", (c) => c.notNull())
      .addColumn("trigger_seq", "integer", (c) => c.notNull())
      .addColumn("state", "text", (c) => c.notNull())
      .addColumn("state_reason", "text", (c) => c.notNull())
      .addColumn("trigger_info", "text", (c) => c.notNull())
      .addColumn("base_version", "integer")
      .addColumn("base_version_id", "text")
      .addColumn("snapshot_id", "text")
      .addColumn("job_id", "text")
      .addColumn("run_id", "text")
      .addColumn("candidate_version", "integer")
      .addColumn("candidate_version_id", "text")
      .addColumn("evaluation", "text")
      .addColumn("job_template", "text", (c) => c.notNull())
      .addColumn("auto_deploy", "integer", (c) => c.notNull())
      .addColumn("deployment", "text")
      .addColumn("canary_plan", "text")
      .addColumn("owner_id", "text", (c) => c.notNull())
      .addColumn("revision", "integer", (c) => c.notNull())
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addColumn("updated_at", "bigint", (c) => c.notNull())
      .addColumn("finished_at", "bigint")
      // The database's half of "fired exactly once per threshold crossing".
      .addUniqueConstraint("pipeline_runs_trigger_uq", ["policy_id", "trigger_seq"])
      .execute();
    await db.schema.createIndex("pipeline_runs_state_idx").on("pipeline_runs").columns(["state"]).execute();
    await db.schema
      .createIndex("pipeline_runs_model_idx")
      .on("pipeline_runs")
      .columns(["model_id", "created_at"])
      .execute();
    await db.schema
      .createTable("pipeline_steps")
      .addColumn("id", ...autoIncrementId(dialect))
      .addColumn("run_id", "text", (c) => c.notNull().references("pipeline_runs.id").onDelete("cascade"))
      .addColumn("step", "text", (c) => c.notNull())
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("started_at", "bigint", (c) => c.notNull())
      .addColumn("finished_at", "bigint")
      .addColumn("reason", "text")
      .addColumn("details", "text", (c) => c.notNull().defaultTo("{}"))
      .addColumn("job_id", "text")
      .addColumn("holder", "text", (c) => c.notNull())
      .addColumn("resumes", "integer", (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema
      .createIndex("pipeline_steps_run_idx")
      .on("pipeline_steps")
      .columns(["run_id", "id"])
      .execute();
  },
  async down(db) {
    await db.schema.dropTable("pipeline_steps").execute();
    await db.schema.dropTable("pipeline_runs").execute();
    await db.schema.dropTable("retrain_policies").execute();
  },
};
