import { sql } from "kysely";
import { afterEach, expect, it } from "vitest";
import { migrateDown, migrateToLatest } from "../../src/store/migrate.js";
import { migrations } from "../../src/store/migrations/index.js";
import type { Store } from "../../src/store/open-store.js";
import { createTestDatabase, describeEachDatabase, type TestDatabase } from "../support/databases.js";

/**
 * The tenancy migrations on a database that has data (docs/security.md, tenancy): 0301 backfills blob
 * ownership from model-version files and jobs' code archives, scopes deployment names per project, and
 * its down migration restores the global uniqueness.
 */
const SHA = (c: string) => c.repeat(64);
const before0301 = migrations.slice(
  0,
  migrations.findIndex((m) => m.name === "0301_deployment_scope"),
);

describeEachDatabase("tenancy migrations", (kind) => {
  let database: TestDatabase;
  let store: Store;

  afterEach(async () => {
    await store?.close();
    await database?.cleanup();
  });

  const run = (query: ReturnType<typeof sql>) => query.execute(store.db);

  async function seedBefore0301(): Promise<void> {
    for (const p of ["pa", "pb"]) {
      await run(
        sql`INSERT INTO projects (id, name, created_at, created_by) VALUES (${p}, ${`proj-${p}`}, 1, 'x')`,
      );
    }
    await run(sql`INSERT INTO registered_models (id, project_id, name, created_at, updated_at, created_by)
                  VALUES ('m1', 'pa', 'cls', 1, 1, 'x')`);
    await run(sql`INSERT INTO model_versions (id, model_id, version, stage, source, status, created_at, updated_at, created_by)
                  VALUES ('v1', 'm1', 1, 'none', 'upload', 'READY', 1, 1, 'x')`);
    await run(
      sql`INSERT INTO model_version_files (version_id, path, sha256, size) VALUES ('v1', 'model.onnx', ${SHA("a")}, 3)`,
    );
    await run(sql`INSERT INTO jobs (id, project_id, name, command, cpu, memory_mib, gpus, replicas, priority,
                    max_retries, attempt, state, state_reason, code_digest, submitted_at, updated_at)
                  VALUES ('j1', 'pb', 'train', '[]', 1, 64, 0, 1, 0, 0, 0, 'succeeded', '', ${SHA("b")}, 1, 1)`);
  }

  async function insertDeployment(id: string, project: string, name: string): Promise<void> {
    await run(sql`INSERT INTO deployments (id, name, project_id, model_id, model_name, environment, state,
                    primary_version_id, primary_version, revision, created_at, updated_at, created_by)
                  VALUES (${id}, ${name}, ${project}, 'm1', 'cls', 'dev', 'stable', 'v1', 1, 1, 1, 1, 'x')`);
  }

  it("backfills owners on a live database that has every other migration already (an upgrade)", async () => {
    database = await createTestDatabase(kind);
    store = await database.open();
    const tenancy = ["0101_blob_owners", "0301_deployment_scope"];
    await migrateToLatest(
      store,
      migrations.filter((m) => !tenancy.includes(m.name)),
    );
    await seedBefore0301();
    await insertDeployment("d1", "pa", "shapes");
    expect(await migrateToLatest(store)).toEqual(tenancy);
    const owners = await store.db
      .selectFrom("blob_owners")
      .select(["project_id", "sha256"])
      .orderBy("sha256")
      .execute();
    expect(owners).toEqual([
      { project_id: "pa", sha256: SHA("a") },
      { project_id: "pb", sha256: SHA("b") },
    ]);
    await insertDeployment("d2", "pb", "shapes");
  });

  it("backfills owners, scopes deployment names per project, and migrates down again", async () => {
    database = await createTestDatabase(kind);
    store = await database.open();
    await migrateToLatest(store, before0301);
    await seedBefore0301();
    await insertDeployment("d1", "pa", "shapes");
    await run(sql`INSERT INTO deployment_history (deployment_id, at, actor, action, to_state, reason,
                    primary_version, canary_weight) VALUES ('d1', 1, 'x', 'create', 'stable', 'r', 1, 0)`);

    await migrateToLatest(store);

    const owners = await store.db
      .selectFrom("blob_owners")
      .select(["project_id", "sha256"])
      .orderBy("sha256")
      .execute();
    expect(owners).toEqual([
      { project_id: "pa", sha256: SHA("a") },
      { project_id: "pb", sha256: SHA("b") },
    ]);
    // The rebuilt table kept its rows and its history (no cascade on SQLite's table rebuild).
    const history = await store.db.selectFrom("deployment_history").select("deployment_id").execute();
    expect(history).toEqual([{ deployment_id: "d1" }]);
    // Same name in another project: fine. Same name in the same project: refused by the database.
    await insertDeployment("d2", "pb", "shapes");
    await expect(insertDeployment("d3", "pa", "shapes")).rejects.toSatisfy((err) =>
      store.dialect.isUniqueViolation(err),
    );
    // Foreign keys still hold on the rebuilt table: history of a deployment that does not exist is refused.
    await expect(
      run(sql`INSERT INTO deployment_history (deployment_id, at, actor, action, to_state, reason,
                primary_version, canary_weight) VALUES ('nope', 1, 'x', 'create', 'stable', 'r', 1, 0)`),
    ).rejects.toThrow();

    // Down to before 0301: with two projects sharing a name that must fail; with one it restores the rule.
    const downTo0301 = async () => {
      while ((await migrateDown(store)).at(0) !== "0301_deployment_scope") {
        // step down through the migrations applied after 0301
      }
    };
    await expect(downTo0301()).rejects.toThrow();
    await run(sql`DELETE FROM deployments WHERE id = 'd2'`);
    await migrateToLatest(store);
    await downTo0301();
    await expect(insertDeployment("d4", "pb", "shapes")).rejects.toSatisfy((err) =>
      store.dialect.isUniqueViolation(err),
    );
    expect(await store.db.selectFrom("deployment_history").select("deployment_id").execute()).toEqual([
      { deployment_id: "d1" },
    ]);
  });
});
