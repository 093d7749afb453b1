import type { VersionedMigration } from "./migration.js";
import { identityMigration } from "./0001_identity.js";
import { systemMigration } from "./0002_system.js";
import { workloadScopesMigration } from "./0003_workload_scopes.js";
import { serverSecretsMigration } from "./0004_server_secrets.js";
import { trackingMigration } from "./0100_tracking.js";
import { blobOwnersMigration } from "./0101_blob_owners.js";
import { loggedModelsMigration } from "./0102_logged_models.js";
import { trackingSearchIndexesMigration } from "./0103_tracking_search_indexes.js";
import { registryMigration } from "./0150_registry.js";
import { registryWebhooksMigration } from "./0151_registry_webhooks.js";
import { validationProvenanceMigration } from "./0152_validation_provenance.js";
import { jobsMigration } from "./0200_jobs.js";
import { jobNetworkMigration } from "./0201_job_network.js";
import { distributedJobsMigration } from "./0202_distributed_jobs.js";
import { servingMigration } from "./0300_serving.js";
import { deploymentScopeMigration } from "./0301_deployment_scope.js";
import { batchMigration } from "./0350_batch.js";
import { dataMigration } from "./0400_data.js";
import { datasetImportsMigration } from "./0401_dataset_imports.js";
import { pipelinesMigration } from "./0450_pipelines.js";
import { triggerSettleMigration } from "./0451_trigger_settle.js";
import { workspacesMigration } from "./0500_workspaces.js";

/**
 * All migrations in apply order. Domains take number ranges so parallel work does not collide:
 * 0001-0099 foundation, 0100 tracking/registry, 0200 jobs, 0300 serving, 0400 data/pipelines.
 */
export const migrations: readonly VersionedMigration[] = [
  identityMigration,
  systemMigration,
  workloadScopesMigration,
  serverSecretsMigration,
  trackingMigration,
  blobOwnersMigration,
  loggedModelsMigration,
  trackingSearchIndexesMigration,
  registryMigration,
  registryWebhooksMigration,
  validationProvenanceMigration,
  jobsMigration,
  jobNetworkMigration,
  distributedJobsMigration,
  servingMigration,
  deploymentScopeMigration,
  batchMigration,
  dataMigration,
  datasetImportsMigration,
  pipelinesMigration,
  triggerSettleMigration,
  workspacesMigration,
];
