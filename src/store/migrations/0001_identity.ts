import type { VersionedMigration } from "./migration.js";

export const identityMigration: VersionedMigration = {
  name: "0001_identity",
  async up(db) {
    await db.schema
      .createTable("users")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("name", "text", (c) => c.notNull().unique())
      .addColumn("role", "text", (c) => c.notNull())
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addColumn("disabled", "integer", (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema
      .createTable("tokens")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("user_id", "text", (c) => c.notNull().references("users.id"))
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("token_hash", "text", (c) => c.notNull().unique())
      .addColumn("prefix", "text", (c) => c.notNull())
      .addColumn("scope", "text")
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addColumn("expires_at", "bigint")
      .addColumn("revoked_at", "bigint")
      .addColumn("last_used_at", "bigint")
      .execute();
    await db.schema.createIndex("tokens_user_idx").on("tokens").column("user_id").execute();
    await db.schema
      .createTable("projects")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("name", "text", (c) => c.notNull().unique())
      .addColumn("description", "text", (c) => c.notNull().defaultTo(""))
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addColumn("created_by", "text", (c) => c.notNull())
      .addColumn("quotas", "text", (c) => c.notNull().defaultTo("{}"))
      .execute();
    await db.schema
      .createTable("project_members")
      .addColumn("project_id", "text", (c) => c.notNull().references("projects.id").onDelete("cascade"))
      .addColumn("user_id", "text", (c) => c.notNull().references("users.id"))
      .addColumn("role", "text", (c) => c.notNull())
      .addColumn("added_at", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("project_members_pk", ["project_id", "user_id"])
      .execute();
  },
  async down(db) {
    await db.schema.dropTable("project_members").execute();
    await db.schema.dropTable("projects").execute();
    await db.schema.dropTable("tokens").execute();
    await db.schema.dropTable("users").execute();
  },
};
