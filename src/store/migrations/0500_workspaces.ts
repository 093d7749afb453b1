import type { VersionedMigration } from "./migration.js";

/** Workspaces (docs/architecture/workspaces.md), users' SSH public keys, per-project workspace limits. */
export const workspacesMigration: VersionedMigration = {
  name: "0500_workspaces",
  async up(db) {
    await db.schema
      .createTable("workspaces")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("project_id", "text", (c) => c.notNull().references("projects.id"))
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("owner_id", "text", (c) => c.notNull())
      .addColumn("owner_name", "text", (c) => c.notNull())
      .addColumn("login_user", "text", (c) => c.notNull())
      .addColumn("cpu", "double precision", (c) => c.notNull())
      .addColumn("memory_mib", "integer", (c) => c.notNull())
      .addColumn("gpus", "integer", (c) => c.notNull())
      .addColumn("gpu_type", "text")
      .addColumn("image", "text")
      .addColumn("idle_timeout_seconds", "integer", (c) => c.notNull())
      .addColumn("state", "text", (c) => c.notNull())
      .addColumn("state_reason", "text", (c) => c.notNull())
      .addColumn("job_id", "text")
      .addColumn("endpoint", "text")
      .addColumn("host_public_key", "text", (c) => c.notNull())
      .addColumn("host_key_fingerprint", "text", (c) => c.notNull())
      .addColumn("host_private_key", "text", (c) => c.notNull())
      .addColumn("keep_home", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addColumn("updated_at", "bigint", (c) => c.notNull())
      .addColumn("started_at", "bigint")
      .addColumn("last_activity_at", "bigint")
      .addColumn("sessions", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("last_report_at", "bigint")
      .addColumn("idle_warned_at", "bigint")
      .addColumn("notice", "text")
      .execute();
    await db.schema
      .createIndex("workspaces_owner_name_idx")
      .on("workspaces")
      .columns(["project_id", "owner_id", "name"])
      .unique()
      .execute();
    await db.schema.createIndex("workspaces_state_idx").on("workspaces").column("state").execute();
    await db.schema.createIndex("workspaces_job_idx").on("workspaces").column("job_id").execute();

    await db.schema
      .createTable("ssh_keys")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("type", "text", (c) => c.notNull())
      .addColumn("public_key", "text", (c) => c.notNull())
      .addColumn("fingerprint", "text", (c) => c.notNull())
      .addColumn("comment", "text", (c) => c.notNull().defaultTo(""))
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex("ssh_keys_user_fingerprint_idx")
      .on("ssh_keys")
      .columns(["user_id", "fingerprint"])
      .unique()
      .execute();

    await db.schema
      .createTable("workspace_limits")
      .addColumn("project_id", "text", (c) => c.primaryKey().references("projects.id").onDelete("cascade"))
      .addColumn("max_gpus", "integer")
      .addColumn("max_lifetime_seconds", "integer")
      .execute();
  },
  async down(db) {
    await db.schema.dropTable("workspace_limits").execute();
    await db.schema.dropTable("ssh_keys").execute();
    await db.schema.dropTable("workspaces").execute();
  },
};
