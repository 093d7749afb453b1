import { sql } from "kysely";
import { afterEach, beforeEach, expect, it } from "vitest";
import { migrateDown, migrateToLatest } from "../src/store/migrate.js";
import { migrations } from "../src/store/migrations/index.js";
import type { Store } from "../src/store/open-store.js";
import { SqlJobStore } from "../src/store/repositories/jobs.js";
import { createTestDatabase, describeEachDatabase, type TestDatabase } from "./support/databases.js";

/** 0202: queued distributed jobs count ranks; internal fields and replica endpoints; and down again. */
describeEachDatabase("migration 0202_distributed_jobs", (kind) => {
  let database: TestDatabase;
  let store: Store;
  const at = migrations.findIndex((m) => m.name === "0202_distributed_jobs");
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

  const insertJob = (id: string, state: string, distributed: string | null, replicas: number) =>
    sql`insert into jobs (id, project_id, name, command, env, cpu, memory_mib, gpus, distributed, replicas,
        priority, max_retries, attempt, state, state_reason, submitted_at, updated_at)
      values (${id}, 'p', ${id}, '["true"]', '{}', 1, 1024, 0, ${distributed}, ${replicas}, 0, 0, 0, ${state},
        'x', 1, 1)`.execute(store.db);

  it("recounts queued gangs as ranks, leaves jobs that ran alone, adds the new columns, goes down", async () => {
    expect(at).toBeGreaterThan(0);
    await migrateToLatest(store, before);
    await store.db
      .insertInto("projects")
      .values({ id: "p", name: "p", description: "", created_at: 1, created_by: "a", quotas: "{}" })
      .execute();
    await insertJob("queued-gang", "queued", '{"nodes":2,"procsPerNode":3}', 2);
    await insertJob("ran-gang", "succeeded", '{"nodes":2,"procsPerNode":3}', 2);
    await insertJob("plain", "queued", null, 1);

    expect(await migrateToLatest(store, through)).toEqual(["0202_distributed_jobs"]);
    const jobs = new SqlJobStore(store);
    expect((await jobs.getJob("queued-gang"))?.replicas).toBe(6);
    expect((await jobs.getJob("ran-gang"))?.replicas).toBe(2);
    const plain = await jobs.getJob("plain");
    expect(plain).toMatchObject({ replicas: 1 });
    expect(plain?.kind).toBeUndefined();
    expect((await jobs.queuedJobs()).find((job) => job.id === "queued-gang")).toMatchObject({
      nodes: 2,
      procsPerNode: 3,
      queuedAt: 1,
    });

    expect(await migrateDown(store, through)).toEqual(["0202_distributed_jobs"]);
    const row = (await sql`select * from jobs where id = 'plain'`.execute(store.db)).rows[0] as Record<
      string,
      unknown
    >;
    expect(row.id).toBe("plain");
    expect(row).not.toHaveProperty("kind");
  });
});
