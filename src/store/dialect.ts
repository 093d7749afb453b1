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
  /**
   * LIKE with MLflow's meaning: `pattern` uses `%`, `_` and backslash escapes (PostgreSQL's default);
   * case-sensitive unless `caseInsensitive` (SQLite's LIKE folds ASCII case, so its case-sensitive form
   * is GLOB, from `globPattern`).
   */
  likeMatch(lhs: Expression<string>, pattern: string, caseInsensitive: boolean): RawBuilder<boolean>;
  /** A text expression that compares and sorts by code point, as JavaScript's `<` does. */
  binaryText(expr: Expression<string>): RawBuilder<string>;
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
  likeMatch(lhs, pattern, caseInsensitive) {
    return caseInsensitive
      ? sql<boolean>`${lhs} LIKE ${pattern} ESCAPE '\\'`
      : sql<boolean>`${lhs} GLOB ${globPattern(pattern)}`;
  },
  binaryText(expr) {
    return sql<string>`${expr}`; // BINARY collation: UTF-8 byte order, which is code point order
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
    likeMatch(lhs, pattern, caseInsensitive) {
      return caseInsensitive ? sql<boolean>`${lhs} ILIKE ${pattern}` : sql<boolean>`${lhs} LIKE ${pattern}`;
    },
    binaryText(expr) {
      return sql<string>`(${expr} COLLATE "C")`;
    },
    async dropAll(db) {
      await sql`DROP SCHEMA IF EXISTS ${sql.id(schema)} CASCADE`.execute(db);
    },
    clusteredTableSuffix: undefined,
  };
}

/**
 * A LIKE pattern (`%`, `_`, backslash escapes; a trailing lone backslash is literal) as an equivalent
 * SQLite GLOB pattern: `*`, `?`, and `[x]` for a literal `*`, `?` or `[`.
 */
export function globPattern(like: string): string {
  const chars = Array.from(like);
  let out = "";
  for (let i = 0; i < chars.length; i++) {
    let ch = chars[i];
    if (ch === "\\" && i + 1 < chars.length) ch = `\\${chars[++i]}`;
    if (ch === "%") out += "*";
    else if (ch === "_") out += "?";
    else {
      const literal = ch.length > 1 && ch.startsWith("\\") ? ch.slice(1) : ch;
      out += literal === "*" || literal === "?" || literal === "[" ? `[${literal}]` : literal;
    }
  }
  return out;
}

/** A LIKE pattern rewritten so that every backslash escapes something (PostgreSQL refuses a trailing one). */
export function canonicalLikePattern(like: string): string {
  const chars = Array.from(like);
  let out = "";
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i];
    if (ch === "\\") out += i + 1 < chars.length ? `\\${chars[++i]}` : "\\\\";
    else out += ch;
  }
  return out;
}
