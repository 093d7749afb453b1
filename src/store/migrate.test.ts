import { afterEach, beforeEach, expect, it } from "vitest";
import {
  createTestDatabase,
  describeEachDatabase,
  describePostgres,
  POSTGRES_URL,
  type TestDatabase,
  uniqueSchema,
} from "../../test/support/databases.js";
import { migrateDown, migrateToLatest, pendingMigrations } from "./migrate.js";
import { migrations } from "./migrations/index.js";
import type { Store } from "./open-store.js";

describeEachDatabase("migrations", (kind) => {
  let database: TestDatabase;
  let store: Store;

  beforeEach(async () => {
    database = await createTestDatabase(kind);
    store = await database.open();
  });
  afterEach(async () => {
    await store.close();
    await database.cleanup();
  });

  it("migrates a database that holds data without losing it, and reports nothing pending", async () => {
    // Apply only the first migration, write data, then apply the rest.
    await migrateToLatest(store, migrations.slice(0, 1));
    expect(await pendingMigrations(store)).toEqual(migrations.slice(1).map((m) => m.name));
    await store.db
      .insertInto("users")
      .values({ id: "u1", name: "ada", role: "engineer", created_at: 1 })
      .execute();
    const applied = await migrateToLatest(store);
    expect(applied).toEqual(migrations.slice(1).map((m) => m.name));
    expect(await pendingMigrations(store)).toEqual([]);
    const users = await store.db.selectFrom("users").selectAll().execute();
    expect(users).toEqual([{ id: "u1", name: "ada", role: "engineer", created_at: 1, disabled: 0 }]);
  });

  it("runs every migration down and up again", async () => {
    await migrateToLatest(store);
    for (let i = 0; i < migrations.length; i++) await migrateDown(store);
    expect(await pendingMigrations(store)).toHaveLength(migrations.length);
    expect(await migrateToLatest(store)).toHaveLength(migrations.length);
  });

  it("is idempotent: a second run applies nothing", async () => {
    await migrateToLatest(store);
    expect(await migrateToLatest(store)).toEqual([]);
  });
});

describePostgres("migrations next to other schemas", () => {
  let database: TestDatabase;
  let store: Store;

  beforeEach(async () => {
    database = await createTestDatabase("postgres");
    store = await database.open();
  });
  afterEach(async () => {
    await store.close();
    await database.cleanup();
  });

  it("migrates while other schemas are created and dropped concurrently", async () => {
    // Other tenants/suites dropping their schemas must not break our migrator's introspection.
    const churn = (async () => {
      const pg = (await import("pg")).default;
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      for (let i = 0; i < 30; i++) {
        const name = `${uniqueSchema("churn")}`;
        await client.query(
          `CREATE SCHEMA "${name}"; CREATE TABLE "${name}".t (id serial primary key, v text)`,
        );
        await client.query(`DROP SCHEMA "${name}" CASCADE`);
      }
      await client.end();
    })();
    for (let i = 0; i < 3; i++) {
      await migrateToLatest(store);
      await migrateDown(store);
    }
    await churn;
    await migrateToLatest(store);
    expect(await pendingMigrations(store)).toEqual([]);
  });
});
