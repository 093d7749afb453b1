import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import path from "node:path";
import SqliteDatabase from "better-sqlite3";
import { Kysely, SqliteDialect, sql } from "kysely";
import pg from "pg";
import { postgresDialect, type SqlDialect, sqliteDialect } from "./dialect.js";
import { SchemaScopedPostgresDialect } from "./postgres-introspector.js";
import type { Database } from "./schema.js";

export interface Store {
  readonly db: Kysely<Database>;
  readonly dialect: SqlDialect;
  /** Human-readable location, without credentials. */
  readonly location: string;
  /** PostgreSQL schema; undefined on SQLite. */
  readonly schema?: string;
  close(): Promise<void>;
}

export interface StoreOptions {
  /** postgres://... ; when unset, a SQLite file is used. */
  postgresUrl?: string;
  /** PostgreSQL schema (created if missing). */
  schema?: string;
  /** SQLite file path (used when postgresUrl is unset). */
  sqliteFile?: string;
  /** Pool size for PostgreSQL. */
  poolSize?: number;
}

// int8 (count(*), bigint columns) comes back from pg as a string by default; our values fit in a double.
pg.types.setTypeParser(20, (value) => Number.parseInt(value, 10));

export async function openStore(options: StoreOptions): Promise<Store> {
  if (options.postgresUrl)
    return openPostgres(options.postgresUrl, options.schema ?? "public", options.poolSize);
  if (!options.sqliteFile) throw new Error("openStore: either postgresUrl or sqliteFile is required");
  return openSqlite(options.sqliteFile);
}

function openSqlite(file: string): Store {
  if (file !== ":memory:") {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    privateFile(file);
  }
  const database = new SqliteDatabase(file);
  database.pragma("journal_mode = WAL");
  if (file !== ":memory:") {
    // SQLite gives -wal and -shm the database file's mode when it creates them; older ones are fixed here.
    for (const suffix of ["-wal", "-shm"]) if (existsSync(file + suffix)) chmodSync(file + suffix, 0o600);
  }
  database.pragma("synchronous = NORMAL");
  database.pragma("busy_timeout = 5000");
  database.pragma("foreign_keys = ON");
  database.pragma("cache_size = -65536"); // 64 MiB page cache: metric batches touch many pages
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(database) }) });
  return {
    db,
    dialect: sqliteDialect,
    location: `sqlite:${file}`,
    close: () => db.destroy(),
  };
}

/** The database file readable by this user only (docs/security.md): created 0600, or narrowed to it. */
function privateFile(file: string): void {
  closeSync(openSync(file, "a", 0o600));
  chmodSync(file, 0o600);
}

/**
 * Kysely prepares every query anew; better-sqlite3 statements are reusable, and preparing is a large
 * share of a small query's cost. Cache them by SQL text (bounded). Safe because Kysely runs statements
 * synchronously to completion (we do not use streaming queries on SQLite).
 */
function withStatementCache(database: SqliteDatabase.Database, limit = 500) {
  const cache = new Map<string, SqliteDatabase.Statement>();
  return {
    close: () => database.close(),
    prepare(sqlText: string) {
      let statement = cache.get(sqlText);
      if (statement) {
        cache.delete(sqlText);
      } else {
        statement = database.prepare(sqlText);
        if (cache.size >= limit) cache.delete(cache.keys().next().value as string);
      }
      cache.set(sqlText, statement);
      return statement;
    },
  };
}

async function openPostgres(url: string, schema: string, poolSize = 10): Promise<Store> {
  if (!/^[a-z_][a-z0-9_]*$/i.test(schema)) throw new Error(`invalid PostgreSQL schema name: ${schema}`);
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    options: `-c search_path=${schema}`,
    connectionTimeoutMillis: 5000,
  });
  const db = new Kysely<Database>({ dialect: new SchemaScopedPostgresDialect({ pool }, schema) });
  try {
    await sql`CREATE SCHEMA IF NOT EXISTS ${sql.id(schema)}`.execute(db);
  } catch (err) {
    await db.destroy();
    throw new Error(`cannot reach PostgreSQL at ${redact(url)}: ${(err as Error).message}`);
  }
  return {
    db,
    dialect: postgresDialect(schema),
    location: `${redact(url)} (schema ${schema})`,
    schema,
    close: () => db.destroy(),
  };
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
}
