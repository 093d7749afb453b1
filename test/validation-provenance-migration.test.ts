import { sql } from "kysely";
import { afterEach, beforeEach, expect, it } from "vitest";
import { migrateDown, migrateToLatest } from "../src/store/migrate.js";
import { migrations } from "../src/store/migrations/index.js";
import type { Store } from "../src/store/open-store.js";
import { createTestDatabase, describeEachDatabase, type TestDatabase } from "./support/databases.js";

/** 0152: records that exist become `reported`, gates that exist keep counting them (`require: "any"`). */
describeEachDatabase("migration 0152_validation_provenance", (kind) => {
  let database: TestDatabase;
  let store: Store;
  const at = migrations.findIndex((m) => m.name === "0152_validation_provenance");
  const before = migrations.slice(0, at);
  const through = [...before, migrations[at]];

  beforeEach(async () => {
    database = await createTestDatabase(kind);
    store = await database.open();
  });
  afterEach(async () => {
    await store.close();
    await database.cleanup();
  });

  it("marks existing records reported, keeps existing gates' behaviour, and goes down again", async () => {
    expect(at).toBeGreaterThan(0);
    await migrateToLatest(store, before);
    const db = store.db;
    await db
      .insertInto("projects")
      .values({ id: "p", name: "p", description: "", created_at: 1, created_by: "a", quotas: "{}" })
      .execute();
    const gate = { metric: "accuracy", direction: "higher", min: 0.9 };
    await db
      .insertInto("registered_models")
      .values([
        {
          id: "m1",
          project_id: "p",
          name: "gated",
          description: "",
          created_at: 1,
          updated_at: 1,
          created_by: "a",
          gate: JSON.stringify(gate),
          next_version: 2,
        },
        {
          id: "m2",
          project_id: "p",
          name: "open",
          description: "",
          created_at: 1,
          updated_at: 1,
          created_by: "a",
          gate: null,
          next_version: 1,
        },
      ])
      .execute();
    await db
      .insertInto("model_versions")
      .values({
        id: "v1",
        model_id: "m1",
        version: 1,
        stage: "staging",
        source: "upload",
        run_id: null,
        run_path: null,
        status: "READY",
        description: "",
        created_at: 1,
        updated_at: 1,
        created_by: "a",
      })
      .execute();
    // Written as the pre-0152 code wrote it: no provenance columns.
    await sql`insert into model_validations (id, model_id, version_id, snapshot, metrics, run_id, created_by, created_at, passed, decision)
      values ('r1', 'm1', 'v1', 'holdout-1', '{"accuracy":0.95}', null, 'a', 1, 1, '{"passed":true,"reasons":[],"notes":[]}')`.execute(
      db,
    );

    expect(await migrateToLatest(store, through)).toEqual(["0152_validation_provenance"]);
    const models = await db.selectFrom("registered_models").select(["id", "gate"]).orderBy("id").execute();
    expect(models.map((m) => [m.id, m.gate && JSON.parse(m.gate)])).toEqual([
      ["m1", { ...gate, require: "any" }],
      ["m2", null],
    ]);
    const record = await db.selectFrom("model_validations").selectAll().executeTakeFirstOrThrow();
    expect(record).toMatchObject({ id: "r1", provenance: "reported", evaluation: null });

    expect(await migrateDown(store, through)).toEqual(["0152_validation_provenance"]);
    const downGate = await db
      .selectFrom("registered_models")
      .select("gate")
      .where("id", "=", "m1")
      .executeTakeFirstOrThrow();
    expect(JSON.parse(downGate.gate as string)).toEqual(gate);
    const downRecord = (await sql`select * from model_validations`.execute(db)).rows[0] as Record<
      string,
      unknown
    >;
    expect(downRecord.id).toBe("r1");
    expect(downRecord).not.toHaveProperty("provenance");
  });
});
