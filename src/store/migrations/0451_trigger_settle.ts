import type { VersionedMigration } from "./migration.js";

/** Retrain policies wait for labels to settle (quiet period) and remember when the threshold was first met. */
export const triggerSettleMigration: VersionedMigration = {
  name: "0451_trigger_settle",
  async up(db) {
    await db.schema
      .alterTable("retrain_policies")
      .addColumn("settle_seconds", "integer", (c) => c.notNull().defaultTo(10))
      .execute();
    await db.schema.alterTable("retrain_policies").addColumn("threshold_met_at", "bigint").execute();
  },
  async down(db) {
    await db.schema.alterTable("retrain_policies").dropColumn("threshold_met_at").execute();
    await db.schema.alterTable("retrain_policies").dropColumn("settle_seconds").execute();
  },
};
