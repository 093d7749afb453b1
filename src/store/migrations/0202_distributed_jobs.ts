import { type Kysely, sql } from "kysely";
import type { VersionedMigration } from "./migration.js";

/**
 * Distributed jobs (docs/jobs-and-workloads.md): `replicas` now counts ranks (nodes x procsPerNode, one
 * replica per rank); internal job fields the workspaces use (kind, ports, volumes, user); where each
 * replica's ports are reachable (`endpoints`, set when it starts); an index for the running replicas.
 */
export const distributedJobsMigration: VersionedMigration = {
  name: "0202_distributed_jobs",
  async up(db) {
    await db.schema
      .alterTable("jobs")
      .addColumn("kind", "text", (c) => c.notNull().defaultTo("job"))
      .execute();
    await db.schema.alterTable("jobs").addColumn("ports", "text").execute();
    await db.schema.alterTable("jobs").addColumn("volumes", "text").execute();
    await db.schema.alterTable("jobs").addColumn("run_as", "text").execute();
    await db.schema.alterTable("job_replicas").addColumn("endpoints", "text").execute();
    // Usage sampling reads the running replicas every few seconds; the table keeps every attempt ever run.
    await db.schema.createIndex("job_replicas_state_idx").on("job_replicas").column("state").execute();
    await recountQueuedRanks(db as Kysely<JobsRow>);
  },
  async down(db) {
    await db.schema.dropIndex("job_replicas_state_idx").execute();
    await db.schema.alterTable("job_replicas").dropColumn("endpoints").execute();
    await db.schema.alterTable("jobs").dropColumn("run_as").execute();
    await db.schema.alterTable("jobs").dropColumn("volumes").execute();
    await db.schema.alterTable("jobs").dropColumn("ports").execute();
    await db.schema.alterTable("jobs").dropColumn("kind").execute();
  },
};

interface JobsRow {
  jobs: { id: string; state: string; distributed: string | null; replicas: number };
}

/**
 * A queued job submitted with `distributed` before this version counted one replica per node; it now
 * starts one per rank. Jobs that already ran keep their recorded count (their replica rows match it).
 */
async function recountQueuedRanks(db: Kysely<JobsRow>): Promise<void> {
  const rows = await db
    .selectFrom("jobs")
    .select(["id", "distributed"])
    .where("state", "=", "queued")
    .where(sql<boolean>`distributed is not null`)
    .execute();
  for (const row of rows) {
    const spec = JSON.parse(row.distributed ?? "null") as { nodes?: unknown; procsPerNode?: unknown } | null;
    const nodes = Number(spec?.nodes);
    const procs = Number(spec?.procsPerNode);
    if (!Number.isInteger(nodes) || !Number.isInteger(procs) || nodes < 1 || procs < 1) continue;
    await db
      .updateTable("jobs")
      .set({ replicas: nodes * procs })
      .where("id", "=", row.id)
      .execute();
  }
}
