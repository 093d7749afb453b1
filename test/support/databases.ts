import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { describe, it } from "vitest";
import { migrateToLatest } from "../../src/store/migrate.js";
import { openStore, type Store } from "../../src/store/open-store.js";

export type DatabaseKind = "sqlite" | "postgres";

export const POSTGRES_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

let postgresReachable: boolean | undefined;

export async function isPostgresReachable(): Promise<boolean> {
  if (postgresReachable !== undefined) return postgresReachable;
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query("select 1");
    postgresReachable = true;
  } catch {
    postgresReachable = false;
  } finally {
    await client.end().catch(() => {});
  }
  return postgresReachable;
}

/** A fresh database for one test: a SQLite file in a temp dir, or a new PostgreSQL schema. */
export interface TestDatabase {
  kind: DatabaseKind;
  /** SQLite: the file; PostgreSQL: the URL. */
  sqliteFile?: string;
  postgresUrl?: string;
  schema?: string;
  dir: string;
  open(): Promise<Store>;
  cleanup(): Promise<void>;
}

export function uniqueSchema(prefix = "t"): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
}

export async function createTestDatabase(kind: DatabaseKind): Promise<TestDatabase> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "mlops-test-"));
  if (kind === "sqlite") {
    const sqliteFile = path.join(dir, "mlops.db");
    return {
      kind,
      sqliteFile,
      dir,
      open: () => openStore({ sqliteFile }),
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const schema = uniqueSchema();
  return {
    kind,
    postgresUrl: POSTGRES_URL,
    schema,
    dir,
    open: () => openStore({ postgresUrl: POSTGRES_URL, schema, poolSize: 5 }),
    cleanup: async () => {
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Opens and migrates a fresh store; returns it with a cleanup that closes and drops it. */
export async function createMigratedStore(
  kind: DatabaseKind,
): Promise<{ store: Store; cleanup: () => Promise<void> }> {
  const database = await createTestDatabase(kind);
  const store = await database.open();
  await migrateToLatest(store);
  return {
    store,
    cleanup: async () => {
      await store.close();
      await database.cleanup();
    },
  };
}

/**
 * Runs a suite on SQLite and on PostgreSQL. Outside CI an unreachable PostgreSQL skips its half: the body is
 * not even collected (a `describe.skip` would still run it, and its hooks would fail). Under CI=true (or
 * MLOPS_REQUIRE_POSTGRES=1) an unreachable PostgreSQL fails that half with one clear test instead.
 */
export function describeEachDatabase(name: string, body: (kind: DatabaseKind) => void): void {
  describe.each(["sqlite", "postgres"] as const)(`${name} [%s]`, (kind) => {
    if (kind === "postgres") postgresOrSkip(() => body(kind));
    else body(kind);
  });
}

/** PostgreSQL required: CI must not pass by skipping the PostgreSQL half (docs: README.md#development). */
export function postgresRequired(env: Record<string, string | undefined> = process.env): boolean {
  return env.CI === "true" || env.MLOPS_REQUIRE_POSTGRES === "1";
}

function postgresOrSkip(body: () => void): void {
  if (syncReachable()) {
    body();
  } else if (postgresRequired()) {
    it("PostgreSQL is reachable", () => {
      throw new Error(
        `PostgreSQL is not reachable at ${POSTGRES_URL} (CI=true or MLOPS_REQUIRE_POSTGRES=1: the PostgreSQL half must run)`,
      );
    });
  } else {
    it.skip(`PostgreSQL at ${POSTGRES_URL} is not reachable: skipped outside CI`, () => {});
  }
}

let syncProbe: boolean | undefined;
/** Reachability is probed once, synchronously, at collection time (a child process connects). */
function syncReachable(): boolean {
  if (syncProbe !== undefined) return syncProbe;
  const probe = spawnSync(
    process.execPath,
    [
      "-e",
      `const pg=require("pg");const c=new pg.Client({connectionString:process.argv[1],connectionTimeoutMillis:3000});c.connect().then(()=>c.query("select 1")).then(()=>process.exit(0),()=>process.exit(1))`,
      POSTGRES_URL,
    ],
    { cwd: process.cwd(), timeout: 8000 },
  );
  syncProbe = probe.status === 0;
  return syncProbe;
}

/** A suite that needs PostgreSQL (several processes on one database). Same rule as above. */
export function describePostgres(name: string, body: () => void): void {
  describe(`${name} [postgres]`, () => postgresOrSkip(body));
}
