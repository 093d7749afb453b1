import type { VersionedMigration } from "./migration.js";

/** MLflow 3 logged models (docs/mlflow.md): a model in an experiment, with its own params, tags and files. */
export const loggedModelsMigration: VersionedMigration = {
  name: "0102_logged_models",
  async up(db) {
    await db.schema
      .createTable("logged_models")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("experiment_id", "bigint", (c) => c.notNull().references("experiments.id"))
      .addColumn("project_id", "text", (c) => c.notNull())
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("model_type", "text")
      .addColumn("source_run_id", "text")
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("status_message", "text")
      .addColumn("creator", "text", (c) => c.notNull())
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addColumn("updated_at", "bigint", (c) => c.notNull())
      .addColumn("deleted_at", "bigint")
      .execute();
    await db.schema
      .createIndex("logged_models_experiment_idx")
      .on("logged_models")
      .columns(["experiment_id", "created_at"])
      .execute();
    await db.schema
      .createIndex("logged_models_run_idx")
      .on("logged_models")
      .column("source_run_id")
      .execute();
    for (const table of ["logged_model_params", "logged_model_tags"]) {
      await db.schema
        .createTable(table)
        .addColumn("model_id", "text", (c) => c.notNull().references("logged_models.id").onDelete("cascade"))
        .addColumn("key", "text", (c) => c.notNull())
        .addColumn("value", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint(`${table}_pk`, ["model_id", "key"])
        .execute();
    }
    await db.schema
      .createTable("logged_model_artifacts")
      .addColumn("model_id", "text", (c) => c.notNull().references("logged_models.id").onDelete("cascade"))
      .addColumn("path", "text", (c) => c.notNull())
      .addColumn("sha256", "text", (c) => c.notNull())
      .addColumn("size", "bigint", (c) => c.notNull())
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("logged_model_artifacts_pk", ["model_id", "path"])
      .execute();
    await db.schema
      .createIndex("logged_model_artifacts_sha_idx")
      .on("logged_model_artifacts")
      .column("sha256")
      .execute();
    await db.schema
      .createTable("run_outputs")
      .addColumn("run_id", "text", (c) => c.notNull().references("runs.id").onDelete("cascade"))
      .addColumn("model_id", "text", (c) => c.notNull().references("logged_models.id").onDelete("cascade"))
      .addColumn("step", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("run_outputs_pk", ["run_id", "model_id"])
      .execute();
  },
  async down(db) {
    for (const table of [
      "run_outputs",
      "logged_model_artifacts",
      "logged_model_tags",
      "logged_model_params",
      "logged_models",
    ]) {
      await db.schema.dropTable(table).execute();
    }
  },
};
