import { sql } from "kysely";
import { autoIncrementId, type VersionedMigration } from "./migration.js";

export const registryMigration: VersionedMigration = {
  name: "0150_registry",
  async up(db, dialect) {
    await db.schema
      .createTable("registered_models")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("project_id", "text", (c) => c.notNull().references("projects.id").onDelete("cascade"))
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("description", "text", (c) => c.notNull().defaultTo(""))
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addColumn("updated_at", "bigint", (c) => c.notNull())
      .addColumn("created_by", "text", (c) => c.notNull())
      .addColumn("gate", "text")
      .addColumn("next_version", "integer", (c) => c.notNull().defaultTo(1))
      .addUniqueConstraint("registered_models_project_name_uq", ["project_id", "name"])
      .execute();
    await db.schema
      .createTable("registered_model_tags")
      .addColumn("model_id", "text", (c) =>
        c.notNull().references("registered_models.id").onDelete("cascade"),
      )
      .addColumn("key", "text", (c) => c.notNull())
      .addColumn("value", "text", (c) => c.notNull())
      .addPrimaryKeyConstraint("registered_model_tags_pk", ["model_id", "key"])
      .execute();
    await db.schema
      .createTable("model_versions")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("model_id", "text", (c) =>
        c.notNull().references("registered_models.id").onDelete("cascade"),
      )
      .addColumn("version", "integer", (c) => c.notNull())
      .addColumn("stage", "text", (c) => c.notNull())
      .addColumn("source", "text", (c) => c.notNull())
      .addColumn("run_id", "text")
      .addColumn("run_path", "text")
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("description", "text", (c) => c.notNull().defaultTo(""))
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addColumn("updated_at", "bigint", (c) => c.notNull())
      .addColumn("created_by", "text", (c) => c.notNull())
      .addUniqueConstraint("model_versions_model_version_uq", ["model_id", "version"])
      .execute();
    // The database itself refuses a second production version of a model, whatever the code does.
    await db.schema
      .createIndex("model_versions_one_production")
      .on("model_versions")
      .column("model_id")
      .unique()
      .where(sql.ref("stage"), "=", sql.lit("production"))
      .execute();
    await db.schema.createIndex("model_versions_run_idx").on("model_versions").column("run_id").execute();
    await db.schema
      .createTable("model_version_tags")
      .addColumn("version_id", "text", (c) => c.notNull().references("model_versions.id").onDelete("cascade"))
      .addColumn("key", "text", (c) => c.notNull())
      .addColumn("value", "text", (c) => c.notNull())
      .addPrimaryKeyConstraint("model_version_tags_pk", ["version_id", "key"])
      .execute();
    await db.schema
      .createTable("model_version_files")
      .addColumn("version_id", "text", (c) => c.notNull().references("model_versions.id").onDelete("cascade"))
      .addColumn("path", "text", (c) => c.notNull())
      .addColumn("sha256", "text", (c) => c.notNull())
      .addColumn("size", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("model_version_files_pk", ["version_id", "path"])
      .execute();
    await db.schema
      .createTable("model_aliases")
      .addColumn("model_id", "text", (c) =>
        c.notNull().references("registered_models.id").onDelete("cascade"),
      )
      .addColumn("alias", "text", (c) => c.notNull())
      .addColumn("version_id", "text", (c) => c.notNull().references("model_versions.id").onDelete("cascade"))
      .addColumn("updated_at", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("model_aliases_pk", ["model_id", "alias"])
      .execute();
    // History outlives the versions it mentions (no foreign key to model_versions).
    await db.schema
      .createTable("model_stage_transitions")
      .addColumn("id", ...autoIncrementId(dialect))
      .addColumn("model_id", "text", (c) =>
        c.notNull().references("registered_models.id").onDelete("cascade"),
      )
      .addColumn("version_id", "text", (c) => c.notNull())
      .addColumn("version", "integer", (c) => c.notNull())
      .addColumn("from_stage", "text", (c) => c.notNull())
      .addColumn("to_stage", "text", (c) => c.notNull())
      .addColumn("actor", "text", (c) => c.notNull())
      .addColumn("at", "bigint", (c) => c.notNull())
      .addColumn("reason", "text", (c) => c.notNull())
      .addColumn("evidence", "text")
      .addColumn("details", "text", (c) => c.notNull().defaultTo("{}"))
      .execute();
    await db.schema
      .createIndex("model_stage_transitions_model_idx")
      .on("model_stage_transitions")
      .columns(["model_id", "id"])
      .execute();
    await db.schema
      .createTable("model_validations")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("model_id", "text", (c) =>
        c.notNull().references("registered_models.id").onDelete("cascade"),
      )
      .addColumn("version_id", "text", (c) => c.notNull().references("model_versions.id").onDelete("cascade"))
      .addColumn("snapshot", "text", (c) => c.notNull())
      .addColumn("metrics", "text", (c) => c.notNull())
      .addColumn("run_id", "text")
      .addColumn("created_by", "text", (c) => c.notNull())
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addColumn("passed", "integer", (c) => c.notNull())
      .addColumn("decision", "text", (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex("model_validations_version_idx")
      .on("model_validations")
      .columns(["version_id", "snapshot"])
      .execute();
  },
  async down(db) {
    for (const table of [
      "model_validations",
      "model_stage_transitions",
      "model_aliases",
      "model_version_files",
      "model_version_tags",
      "model_versions",
      "registered_model_tags",
      "registered_models",
    ]) {
      await db.schema.dropTable(table).execute();
    }
  },
};
