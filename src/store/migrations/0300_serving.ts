import { autoIncrementId, type VersionedMigration } from "./migration.js";

export const servingMigration: VersionedMigration = {
  name: "0300_serving",
  async up(db, dialect) {
    await db.schema
      .createTable("deployments")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("name", "text", (c) => c.notNull().unique())
      .addColumn("project_id", "text", (c) => c.notNull().references("projects.id").onDelete("cascade"))
      // No foreign key to the registry: a deployment outlives edits to the model's rows and says so itself.
      .addColumn("model_id", "text", (c) => c.notNull())
      .addColumn("model_name", "text", (c) => c.notNull())
      .addColumn("environment", "text", (c) => c.notNull())
      .addColumn("state", "text", (c) => c.notNull())
      .addColumn("primary_version_id", "text", (c) => c.notNull())
      .addColumn("primary_version", "integer", (c) => c.notNull())
      .addColumn("canary_version_id", "text")
      .addColumn("canary_version", "integer")
      .addColumn("canary_weight", "double precision", (c) => c.notNull().defaultTo(0))
      .addColumn("plan", "text")
      .addColumn("canary_started_at", "bigint")
      .addColumn("step_started_at", "bigint")
      .addColumn("failures", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("label_studio", "text")
      .addColumn("revision", "integer", (c) => c.notNull())
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addColumn("updated_at", "bigint", (c) => c.notNull())
      .addColumn("created_by", "text", (c) => c.notNull())
      .execute();
    await db.schema.createIndex("deployments_project_idx").on("deployments").column("project_id").execute();
    await db.schema
      .createTable("deployment_history")
      .addColumn("id", ...autoIncrementId(dialect))
      .addColumn("deployment_id", "text", (c) => c.notNull().references("deployments.id").onDelete("cascade"))
      .addColumn("at", "bigint", (c) => c.notNull())
      .addColumn("actor", "text", (c) => c.notNull())
      .addColumn("action", "text", (c) => c.notNull())
      .addColumn("from_state", "text")
      .addColumn("to_state", "text", (c) => c.notNull())
      .addColumn("reason", "text", (c) => c.notNull())
      .addColumn("primary_version", "integer", (c) => c.notNull())
      .addColumn("canary_version", "integer")
      .addColumn("canary_weight", "double precision", (c) => c.notNull())
      .addColumn("details", "text", (c) => c.notNull().defaultTo("{}"))
      .execute();
    await db.schema
      .createIndex("deployment_history_deployment_idx")
      .on("deployment_history")
      .columns(["deployment_id", "id"])
      .execute();
    await db.schema
      .createTable("serving_generation")
      .addColumn("id", "integer", (c) => c.primaryKey())
      .addColumn("generation", "bigint", (c) => c.notNull())
      .execute();
    await db
      .insertInto("serving_generation" as never)
      .values({ id: 1, generation: 0 } as never)
      .execute();
    // The prediction log: no foreign keys, so that writing it never waits on (or fails with) a deployment change.
    await db.schema
      .createTable("predictions")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("deployment_id", "text", (c) => c.notNull())
      .addColumn("deployment", "text", (c) => c.notNull())
      .addColumn("model_version_id", "text", (c) => c.notNull())
      .addColumn("model_version", "text", (c) => c.notNull())
      .addColumn("canary", "integer", (c) => c.notNull())
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addColumn("input_sha256", "text", (c) => c.notNull())
      .addColumn("outcome", "text", (c) => c.notNull())
      .addColumn("top_label", "text")
      .addColumn("score", "double precision")
      .addColumn("output", "text")
      .addColumn("latency_ms", "double precision", (c) => c.notNull())
      .addColumn("routing_key", "text")
      .addColumn("endpoint", "text", (c) => c.notNull())
      .addColumn("error", "text")
      .execute();
    await db.schema
      .createIndex("predictions_window_idx")
      .on("predictions")
      .columns(["deployment_id", "model_version_id", "created_at"])
      .execute();
    await db.schema
      .createIndex("predictions_deployment_idx")
      .on("predictions")
      .columns(["deployment_id", "created_at"])
      .execute();
  },
  async down(db) {
    await db.schema.dropTable("predictions").execute();
    await db.schema.dropTable("serving_generation").execute();
    await db.schema.dropTable("deployment_history").execute();
    await db.schema.dropTable("deployments").execute();
  },
};
