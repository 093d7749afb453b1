import { afterAll, beforeAll, expect, it } from "vitest";
import { SqlLeaseStore } from "../src/store/repositories/leases.js";
import type { Store } from "../src/store/open-store.js";
import { createTestDatabase, describePostgres, type TestDatabase } from "./support/databases.js";
import { type ServerProcess, spawnServer, waitFor } from "./support/processes.js";
import { TEST_ADMIN_TOKEN } from "./support/server.js";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";

describePostgres("leader lease across two control-plane processes", () => {
  let database: TestDatabase;
  let store: Store;
  const servers: ServerProcess[] = [];

  beforeAll(async () => {
    database = await createTestDatabase("postgres");
    store = await database.open();
  });
  afterAll(async () => {
    for (const s of servers) await s.kill("SIGKILL");
    await store?.close();
    await database?.cleanup();
  });

  it("one process holds the lease; after it is killed, the other takes over once the TTL passes", async () => {
    const ttlMs = 1500;
    const env = (name: string) => ({
      DATABASE_URL: database.postgresUrl!,
      MLOPS_DATABASE_SCHEMA: database.schema!,
      MLOPS_LEASE_TTL_MS: String(ttlMs),
      MLOPS_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      MLOPS_DATA_DIR: mkdtempSync(path.join(os.tmpdir(), `mlops-${name}-`)),
    });
    const leases = new SqlLeaseStore(store);
    const a = await spawnServer(env("a"));
    servers.push(a);
    const holderA = await waitFor(
      async () => (await leases.list()).find((l) => l.name === "leader")?.holder,
      10_000,
      "A to take the lease",
    );
    expect(holderA).toContain(`:${a.child.pid}:`);

    const b = await spawnServer(env("b"));
    servers.push(b);
    // Both share one database; B sees the same data but does not hold the lease while A renews it.
    const status = await fetch(`${b.url}/api/v1/status`, {
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    });
    expect(await status.json()).toMatchObject({ leader: false, database: "postgres" });
    await new Promise((r) => setTimeout(r, ttlMs * 2));
    expect((await leases.list()).find((l) => l.name === "leader")?.holder).toBe(holderA);

    const killedAt = Date.now();
    await a.kill("SIGKILL");
    const holderB = await waitFor(
      async () => {
        const holder = (await leases.list()).find((l) => l.name === "leader")?.holder;
        return holder && holder !== holderA ? holder : undefined;
      },
      ttlMs * 4,
      "B to take over",
    );
    expect(holderB).toContain(`:${b.child.pid}:`);
    // Not before the old lease expired.
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(ttlMs * 0.5);
    const after = await fetch(`${b.url}/api/v1/status`, {
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    });
    expect(await after.json()).toMatchObject({ leader: true });
  });
});
