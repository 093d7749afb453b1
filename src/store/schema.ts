import type { IdentityTables } from "./tables/identity.js";
import type { SystemTables } from "./tables/system.js";

/**
 * The whole metadata schema as Kysely sees it. Each domain declares its tables in `tables/<domain>.ts`;
 * migrations in `migrations/` create them.
 */
export interface Database extends IdentityTables, SystemTables {}
