import { type Kysely, type Migration, type MigrationResultSet, Migrator } from "kysely";
import type { VersionedMigration } from "./migrations/migration.js";
import { migrations as allMigrations } from "./migrations/index.js";
import type { Store } from "./open-store.js";

function migratorFor(store: Store, migrations: readonly VersionedMigration[]): Migrator {
  const db = store.db as unknown as Kysely<unknown>;
  return new Migrator({
    db,
    migrationTableSchema: store.schema,
    // Domains own number ranges (see migrations/index.ts), so a release can add 0101 after 0450 has run on a
    // live database; applied migrations are tracked by name, so order among new ones is what matters.
    allowUnorderedMigrations: true,
    provider: {
      async getMigrations() {
        const record: Record<string, Migration> = {};
        for (const m of migrations) {
          record[m.name] = { up: (d) => m.up(d, store.dialect), down: (d) => m.down(d, store.dialect) };
        }
        return record;
      },
    },
  });
}

function check(result: MigrationResultSet, what: string): string[] {
  if (result.error) {
    const failed = result.results?.find((r) => r.status === "Error")?.migrationName ?? "unknown";
    throw new Error(
      `${what} failed at ${failed}: ${(result.error as Error).message ?? String(result.error)}`,
    );
  }
  return (result.results ?? []).map((r) => r.migrationName);
}

/** Applies every pending migration; returns the names applied. */
export async function migrateToLatest(store: Store, migrations = allMigrations): Promise<string[]> {
  return check(await migratorFor(store, migrations).migrateToLatest(), "migration");
}

/** Reverts the last applied migration (tests and operators). */
export async function migrateDown(store: Store, migrations = allMigrations): Promise<string[]> {
  return check(await migratorFor(store, migrations).migrateDown(), "migration down");
}

export async function pendingMigrations(store: Store, migrations = allMigrations): Promise<string[]> {
  const infos = await migratorFor(store, migrations).getMigrations();
  return infos.filter((m) => !m.executedAt).map((m) => m.name);
}
