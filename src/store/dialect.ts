import type { ColumnDataType, Expression, Kysely, RawBuilder } from "kysely";
import { sql } from "kysely";

/**
 * Every difference between SQLite and PostgreSQL that the rest of the code may care about lives here,
 * so business code never branches on the database.
 */
export interface SqlDialect {
  readonly name: "sqlite" | "postgres";
  /** Column type for an auto-incrementing integer primary key. */
  readonly autoIncrementType: ColumnDataType | RawBuilder<unknown>;
  /** Whether the autoIncrement() modifier is needed with that type. */
  readonly needsAutoIncrementModifier: boolean;
  /** True when the error is a unique/primary-key violation. */
  isUniqueViolation(err: unknown): boolean;
  /** Case-insensitive LIKE. */
  ilike(lhs: Expression<string>, pattern: Expression<string>): RawBuilder<boolean>;
  /** Drops everything this store created (tests). */
  dropAll(db: Kysely<unknown>): Promise<void>;
  /**
   * SQL appended to CREATE TABLE for an append-heavy table looked up by its primary key: SQLite's
   * `WITHOUT ROWID` keeps one b-tree instead of two (faster inserts); nothing on PostgreSQL.
   */
  readonly clusteredTableSuffix: RawBuilder<unknown> | undefined;
}

export const sqliteDialect: SqlDialect = {
  name: "sqlite",
  autoIncrementType: "integer",
  needsAutoIncrementModifier: true,
  isUniqueViolation(err) {
    const code = (err as { code?: string } | null)?.code ?? "";
    return code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY";
  },
  ilike(lhs, pattern) {
    // SQLite's LIKE is case-insensitive for ASCII already.
    return sql<boolean>`${lhs} LIKE ${pattern}`;
  },
  async dropAll() {
    // The SQLite file is removed with its temp directory.
  },
  clusteredTableSuffix: sql`without rowid`,
};

export function postgresDialect(schema: string): SqlDialect {
  return {
    name: "postgres",
    autoIncrementType: "bigserial",
    needsAutoIncrementModifier: false,
    isUniqueViolation(err) {
      return (err as { code?: string } | null)?.code === "23505";
    },
    ilike(lhs, pattern) {
      return sql<boolean>`${lhs} ILIKE ${pattern}`;
    },
    async dropAll(db) {
      await sql`DROP SCHEMA IF EXISTS ${sql.id(schema)} CASCADE`.execute(db);
    },
    clusteredTableSuffix: undefined,
  };
}
