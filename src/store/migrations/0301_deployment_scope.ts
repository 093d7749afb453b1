import { type Kysely, sql } from "kysely";
import type { SqlDialect } from "../dialect.js";
import type { VersionedMigration } from "./migration.js";

/**
 * Deployment names are unique per project, not platform-wide (docs/security.md, tenancy): a name taken
 * in another project must neither block a create nor reveal that it exists.
 *
 * Also backfills `blob_owners` (0101) from rows that existed before ownership was recorded: every
 * model-version file is owned by the model's project, every job's code archive by the job's project
 * (a batch's input archive is its worker job's code archive, so it is covered too).
 */
export const deploymentScopeMigration: VersionedMigration = {
  name: "0301_deployment_scope",
  async up(db, dialect) {
    await setNameUniqueness(db, dialect, "project");
    const at = Date.now();
    await sql`
      INSERT INTO blob_owners (project_id, sha256, created_at)
      SELECT DISTINCT m.project_id, f.sha256, CAST(${at} AS bigint)
      FROM model_version_files f
      JOIN model_versions v ON v.id = f.version_id
      JOIN registered_models m ON m.id = v.model_id
      WHERE 1 = 1
      ON CONFLICT DO NOTHING`.execute(db);
    await sql`
      INSERT INTO blob_owners (project_id, sha256, created_at)
      SELECT DISTINCT project_id, code_digest, CAST(${at} AS bigint) FROM jobs WHERE code_digest IS NOT NULL
      ON CONFLICT DO NOTHING`.execute(db);
  },
  async down(db, dialect) {
    // Backfilled ownership rows stay: 0101's down drops the table. Fails if two projects share a name.
    await setNameUniqueness(db, dialect, "global");
  },
};

async function setNameUniqueness(
  db: Kysely<unknown>,
  dialect: SqlDialect,
  scope: "project" | "global",
): Promise<void> {
  if (dialect.name === "postgres") {
    if (scope === "project") {
      await sql`ALTER TABLE deployments DROP CONSTRAINT deployments_name_key`.execute(db);
      await db.schema
        .createIndex("deployments_project_name_uq")
        .on("deployments")
        .columns(["project_id", "name"])
        .unique()
        .execute();
    } else {
      await db.schema.dropIndex("deployments_project_name_uq").execute();
      await sql`ALTER TABLE deployments ADD CONSTRAINT deployments_name_key UNIQUE (name)`.execute(db);
    }
    return;
  }
  // SQLite cannot drop a column's UNIQUE constraint: rebuild the table from its own DDL (the documented
  // 12-step procedure), with foreign keys off so that dropping the old table does not cascade into
  // deployment_history. Migrations on SQLite run outside a transaction, so the pragma takes effect.
  const row = await sql<{ sql: string }>`
    SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'deployments'`.execute(db);
  const ddl = row.rows[0]?.sql ?? "";
  const nameColumn = /"name" text not null( unique)?/i;
  if (!nameColumn.test(ddl)) throw new Error("0301_deployment_scope: unexpected deployments table DDL");
  const rebuilt = ddl
    .replace(/^create table "deployments"/i, 'create table "deployments_rebuilt"')
    .replace(nameColumn, scope === "project" ? '"name" text not null' : '"name" text not null unique');
  await sql`PRAGMA foreign_keys = OFF`.execute(db);
  try {
    await sql.raw(rebuilt).execute(db);
    try {
      await sql`INSERT INTO deployments_rebuilt SELECT * FROM deployments`.execute(db);
    } catch (err) {
      // e.g. two projects share a name on the way down: leave the database as it was.
      await sql`DROP TABLE deployments_rebuilt`.execute(db);
      throw err;
    }
    await sql`DROP TABLE deployments`.execute(db);
    await sql`ALTER TABLE deployments_rebuilt RENAME TO deployments`.execute(db);
    await db.schema.createIndex("deployments_project_idx").on("deployments").column("project_id").execute();
    if (scope === "project") {
      await db.schema
        .createIndex("deployments_project_name_uq")
        .on("deployments")
        .columns(["project_id", "name"])
        .unique()
        .execute();
    }
  } finally {
    await sql`PRAGMA foreign_keys = ON`.execute(db);
  }
}
