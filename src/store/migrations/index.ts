import type { VersionedMigration } from "./migration.js";
import { identityMigration } from "./0001_identity.js";
import { systemMigration } from "./0002_system.js";
import { trackingMigration } from "./0100_tracking.js";
import { registryMigration } from "./0150_registry.js";
import { registryWebhooksMigration } from "./0151_registry_webhooks.js";
import { jobsMigration } from "./0200_jobs.js";
import { servingMigration } from "./0300_serving.js";
import { batchMigration } from "./0350_batch.js";
import { dataMigration } from "./0400_data.js";
import { pipelinesMigration } from "./0450_pipelines.js";

/**
 * All migrations in apply order. Domains take number ranges so parallel work does not collide:
 * 0001-0099 foundation, 0100 tracking/registry, 0200 jobs, 0300 serving, 0400 data/pipelines.
 */
export const migrations: readonly VersionedMigration[] = [
  identityMigration,
  systemMigration,
  trackingMigration,
  registryMigration,
  registryWebhooksMigration,
  jobsMigration,
  servingMigration,
  batchMigration,
  dataMigration,
  pipelinesMigration,
];
