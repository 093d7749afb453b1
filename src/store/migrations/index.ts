import type { VersionedMigration } from "./migration.js";
import { identityMigration } from "./0001_identity.js";
import { systemMigration } from "./0002_system.js";

/**
 * All migrations in apply order. Domains take number ranges so parallel work does not collide:
 * 0001-0099 foundation, 0100 tracking/registry, 0200 jobs, 0300 serving, 0400 data/pipelines.
 */
export const migrations: readonly VersionedMigration[] = [identityMigration, systemMigration];
