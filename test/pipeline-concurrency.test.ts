/**
 * Two control planes on one PostgreSQL: their triggers race on every check, and each threshold crossing
 * still produces exactly one pipeline run (compare-and-set on the policy's trigger sequence plus the unique
 * (policy, sequence) key), including under a burst of concurrent checks from both processes.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { generateImages } from "../src/demo/loop/images.js";
import { PlatformClient } from "../src/demo/loop/platform-client.js";
import { type RunningServer, startServer } from "../src/main.js";
import { createTestDatabase, describePostgres, type TestDatabase } from "./support/databases.js";
import { TEST_ADMIN_TOKEN } from "./support/server.js";

describePostgres("retrain trigger with two control planes", () => {
  let database: TestDatabase;
  const servers: RunningServer[] = [];
  const dirs: string[] = [];

  beforeAll(async () => {
    database = await createTestDatabase("postgres");
    for (let i = 0; i < 2; i++) {
      const dataDir = mkdtempSync(path.join(os.tmpdir(), `mlops-cp${i}-`));
      dirs.push(dataDir);
      servers.push(
        await startServer({
          env: {
            MLOPS_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
            MLOPS_LOG_LEVEL: "error",
            MLOPS_BACKGROUND_LOOPS: "false",
            DATABASE_URL: database.postgresUrl as string,
            MLOPS_DATABASE_SCHEMA: database.schema as string,
          },
          flags: { port: 0, dataDir, host: "127.0.0.1" },
          logger: false,
        }),
      );
    }
  }, 60_000);
  afterAll(async () => {
    for (const server of servers) await server.close();
    await database?.cleanup();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it("fires one run per crossing whichever process checks, however often", async () => {
    const [a, b] = servers;
    const client = new PlatformClient(a.url, TEST_ADMIN_TOKEN);
    await client.call("POST", "/api/v1/datasets", {
      name: "shapes",
      task: "classification",
      classes: ["circle", "square", "triangle"],
    });
    const images = await generateImages(40, { seed: 5, shift: false, labeled: false });
    const items = await client.importImages("shapes", images);
    await client.call("POST", "/api/v1/models", { name: "shapes" });
    await new PlatformClient(b.url, TEST_ADMIN_TOKEN).call("PUT", "/api/v1/retrain-policies/shapes", {
      dataset: "shapes",
      minNewLabels: 15,
      cooldownSeconds: 0,
      settleSeconds: 0,
    });
    const push = (from: number, to: number, tag: string) =>
      client.call("POST", "/api/v1/datasets/shapes/labels", {
        labels: items.slice(from, to).map((item, i) => ({
          item: item.id,
          idempotencyKey: `${tag}-${i}`,
          label: { class: images[from + i].truth },
        })),
      });
    const burst = () =>
      Promise.all(Array.from({ length: 6 }, (_, i) => servers[i % 2].platform.pipelines.triggers.checkAll()));
    const count = async () =>
      Number(
        (
          await a.platform.store.db
            .selectFrom("pipeline_runs")
            .select((eb) => eb.fn.countAll<number>().as("n"))
            .executeTakeFirstOrThrow()
        ).n,
      );

    await push(0, 14, "a");
    await burst();
    expect(await count()).toBe(0);
    await push(14, 15, "b");
    const fired = (await burst()).flat().filter((check) => check.fired);
    expect(fired).toHaveLength(1);
    expect(await count()).toBe(1);
    for (let round = 0; round < 3; round++) await burst();
    expect(await count()).toBe(1);

    // The run ends (here: cancelled); the next crossing fires run #2, once, on whichever process.
    await a.platform.pipelines.runs.cancel(
      await a.platform.identity.authenticate(TEST_ADMIN_TOKEN),
      fired[0].fired?.id as string,
      "test",
    );
    await push(15, 40, "c");
    const second = (await Promise.all([burst(), burst()])).flat(2).filter((check) => check.fired);
    expect(second).toHaveLength(1);
    expect(second[0].fired?.triggerSeq).toBe(2);
    expect(await count()).toBe(2);
  }, 60_000);
});
