import { randomUUID } from "node:crypto";
import { afterEach, beforeEach, expect, it } from "vitest";
import { migrateDown, migrateToLatest } from "../src/store/migrate.js";
import type { Store } from "../src/store/open-store.js";
import { SqlRegistryStore } from "../src/store/repositories/registry.js";
import { createMigratedStore, describeEachDatabase } from "./support/databases.js";

describeEachDatabase("registry store", (kind) => {
  let store: Store;
  let cleanup: () => Promise<void>;
  let registry: SqlRegistryStore;
  let modelId: string;

  beforeEach(async () => {
    ({ store, cleanup } = await createMigratedStore(kind));
    registry = new SqlRegistryStore(store);
    const project = await store.db.selectFrom("projects").select("id").executeTakeFirst();
    const projectId = project?.id ?? randomUUID();
    if (!project) {
      await store.db
        .insertInto("projects")
        .values({ id: projectId, name: "p", description: "", created_at: 1, created_by: "t", quotas: "{}" })
        .execute();
    }
    modelId = randomUUID();
    await registry.insertModel({
      id: modelId,
      projectId,
      name: "m",
      description: "",
      createdAt: 1,
      updatedAt: 1,
      createdBy: "t",
      gate: null,
      tags: { a: "b" },
    });
  });
  afterEach(async () => cleanup());

  const newVersion = () =>
    registry.insertVersion(modelId, {
      id: randomUUID(),
      source: "upload",
      runId: null,
      runPath: null,
      description: "",
      createdAt: 2,
      createdBy: "t",
      tags: {},
      files: [],
    });

  it("numbers versions 1, 2, 3 and never reuses a number", async () => {
    const [a, b] = [await newVersion(), await newVersion()];
    expect([a.version, b.version]).toEqual([1, 2]);
    await registry.deleteVersion(b.id);
    expect((await newVersion()).version).toBe(3);
  });

  it("refuses a second production version in the database itself", async () => {
    const [a, b] = [await newVersion(), await newVersion()];
    await store.db
      .updateTable("model_versions")
      .set({ stage: "production" })
      .where("id", "=", a.id)
      .execute();
    await expect(
      store.db.updateTable("model_versions").set({ stage: "production" }).where("id", "=", b.id).execute(),
    ).rejects.toSatisfy((err: unknown) => store.dialect.isUniqueViolation(err));
    await store.db.updateTable("model_versions").set({ stage: "archived" }).where("id", "=", a.id).execute();
    await store.db
      .updateTable("model_versions")
      .set({ stage: "production" })
      .where("id", "=", b.id)
      .execute();
  });

  it("migrates down and up again with data in the tables", async () => {
    await newVersion();
    await migrateDown(store); // data migrations above the registry range come off first
    while (
      (await store.db
        .selectFrom("registered_models")
        .select("id")
        .execute()
        .catch(() => undefined)) !== undefined
    ) {
      await migrateDown(store);
    }
    await migrateToLatest(store);
    expect(await registry.listModels(undefined)).toEqual([]);
  });
});
