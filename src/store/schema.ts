import type { ArtifactTables } from "./tables/artifacts.js";
import type { BatchTables } from "./tables/batch.js";
import type { DataTables } from "./tables/data.js";
import type { DataImportTables } from "./tables/data-imports.js";
import type { SecretTables } from "./tables/secrets.js";
import type { IdentityTables } from "./tables/identity.js";
import type { JobTables } from "./tables/jobs.js";
import type { JobSecretTables } from "./tables/job-secrets.js";
import type { LoggedModelTables } from "./tables/logged-models.js";
import type { PipelineTables } from "./tables/pipelines.js";
import type { RegistryTables } from "./tables/registry.js";
import type { ServingTables } from "./tables/serving.js";
import type { SystemTables } from "./tables/system.js";
import type { TrackingTables } from "./tables/tracking.js";
import type { WorkspaceTables } from "./tables/workspaces.js";

/**
 * The whole metadata schema as Kysely sees it. Each domain declares its tables in `tables/<domain>.ts`;
 * migrations in `migrations/` create them.
 */
export interface Database
  extends DataImportTables,
    SecretTables,
    IdentityTables,
    SystemTables,
    TrackingTables,
    DataTables,
    RegistryTables,
    JobTables,
    ServingTables,
    PipelineTables,
    BatchTables,
    ArtifactTables,
    LoggedModelTables,
    JobSecretTables,
    WorkspaceTables {}
