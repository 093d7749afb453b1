import type { Kysely } from "kysely";
import type { SqlDialect } from "../dialect.js";

/** A schema migration. Names sort in apply order: `NNNN_domain_what`. */
export interface VersionedMigration {
  readonly name: string;
  up(db: Kysely<unknown>, dialect: SqlDialect): Promise<void>;
  down(db: Kysely<unknown>, dialect: SqlDialect): Promise<void>;
}

/** `id` column that auto-increments on either database. */
export function autoIncrementId(dialect: SqlDialect) {
  return [
    dialect.autoIncrementType,
    // biome-ignore lint/suspicious/noExplicitAny: Kysely's column builder type is not exported generically
    (col: any) => (dialect.needsAutoIncrementModifier ? col.primaryKey().autoIncrement() : col.primaryKey()),
  ] as const;
}
