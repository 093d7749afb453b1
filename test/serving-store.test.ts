import { afterAll, beforeAll, expect, it } from "vitest";
import { pino } from "pino";
import { loadConfig } from "../src/config.js";
import { createPlatform, type Platform } from "../src/platform.js";
import { systemPrincipal } from "../src/registry/registry-service.js";
import type { PredictionRecord } from "../src/serving/prediction-log/prediction-record.js";
import { SqlDeploymentStore } from "../src/store/repositories/serving.js";
import { SqlPredictionStore } from "../src/store/repositories/serving-predictions.js";
import { addVersion, fixtureBytes } from "./serving-fixtures.js";
import { describeEachDatabase } from "./support/databases.js";
import { startTestServer, TEST_ADMIN_TOKEN, type TestServer } from "./support/server.js";

const admin = systemPrincipal("test");
const input = (v: number) => [
  { name: "input", shape: [1, 3, 32, 32], datatype: "FP32" as const, data: new Float32Array(3072).fill(v) },
];

describeEachDatabase("serving store and multi-process serving", (kind) => {
  let server: TestServer;
  let other: Platform;

  beforeAll(async () => {
    server = await startTestServer(kind);
    await addVersion(server, "mp", fixtureBytes("tiny-classifier"));
    await addVersion(server, "mp", fixtureBytes("tiny-classifier"));
    // A second control-plane process on the same database and artifact store.
    const env: Record<string, string> = {
      MLOPS_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      MLOPS_BACKGROUND_LOOPS: "false",
    };
    if (server.database.postgresUrl) {
      env.DATABASE_URL = server.database.postgresUrl;
      env.MLOPS_DATABASE_SCHEMA = server.database.schema as string;
    }
    other = await createPlatform(
      loadConfig({ env, flags: { dataDir: server.dataDir } }),
      pino({ level: "silent" }),
    );
  });

  afterAll(async () => {
    await other?.close();
    await server?.stop();
  });

  it("a process sees deployments and canaries another process creates, within about a second", async () => {
    const created = await server.call("POST", "/api/v1/deployments", {
      name: "mp",
      model: "mp",
      version: 1,
      environment: "dev",
    });
    expect(created.status).toBe(201);
    const first = await other.serving.predictor.inferTensors("mp", input(0.1), {
      principal: admin,
      endpoint: "oip",
    });
    expect(first.version).toBe(1);

    const canary = await server.call("POST", "/api/v1/deployments/mp/canary", {
      version: 2,
      percent: 100,
      plan: { maxWeight: 100 },
    });
    expect(canary.status, JSON.stringify(canary.body)).toBe(200);
    const started = Date.now();
    let answeredBy = 1;
    while (answeredBy !== 2 && Date.now() - started < 5000) {
      answeredBy = (
        await other.serving.predictor.inferTensors("mp", input(0.2), { principal: admin, endpoint: "oip" })
      ).version;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(answeredBy).toBe(2);
    expect(Date.now() - started).toBeLessThan(2500);
  });

  it("changes are conditional on the revision, and each bumps the generation", async () => {
    const store = new SqlDeploymentStore(server.platform.store);
    const d = (await store.findNamed("mp"))[0];
    const generation = await store.generation();
    const entry = {
      deploymentId: d.id,
      at: Date.now(),
      actor: "t",
      action: "set_weight" as const,
      fromState: d.state,
      toState: d.state,
      reason: "t",
      primaryVersion: d.primaryVersion,
      canaryVersion: d.canaryVersion,
      canaryWeight: 50,
      details: {},
    };
    expect(
      await store.update({ ...d, canaryWeight: 50, revision: d.revision + 1 }, d.revision - 1, entry),
    ).toBe(false);
    expect(await store.generation()).toBe(generation);
    expect(await store.update({ ...d, canaryWeight: 50, revision: d.revision + 1 }, d.revision, entry)).toBe(
      true,
    );
    expect(await store.generation()).toBe(generation + 1);
    expect((await store.findNamed("mp"))[0]?.canaryWeight).toBe(50);
    expect((await store.history(d.id)).map((h) => h.action)).toEqual([
      "create",
      "start_canary",
      "set_weight",
    ]);
    await expect(
      store.insert({ ...d, id: "other-id" }, { ...entry, deploymentId: "other-id" }),
    ).rejects.toThrow(/already exists/);
  });

  it("computes window figures from the prediction log", async () => {
    const predictions = new SqlPredictionStore(server.platform.store);
    const base: Omit<PredictionRecord, "id" | "latencyMs" | "outcome"> = {
      deploymentId: "dep",
      deployment: "dep",
      modelVersionId: "ver",
      modelVersion: "m:1",
      canary: true,
      createdAt: 1000,
      inputSha256: "0".repeat(64),
      topLabel: "a",
      score: 0.5,
      output: { labels: [] },
      routingKey: null,
      endpoint: "oip",
      error: null,
    };
    const rows: PredictionRecord[] = [];
    for (let i = 1; i <= 100; i++) rows.push({ ...base, id: `ok-${i}`, latencyMs: i, outcome: "success" });
    for (let i = 0; i < 25; i++)
      rows.push({ ...base, id: `err-${i}`, latencyMs: 1000, outcome: "error", score: null });
    for (let i = 0; i < 10; i++)
      rows.push({ ...base, id: `bad-${i}`, latencyMs: 1, outcome: "invalid", score: null });
    rows.push({ ...base, id: "old", createdAt: 10, latencyMs: 5000, outcome: "error" });
    await predictions.insertMany(rows);
    await predictions.insertMany(rows.slice(0, 3)); // a retried batch stores nothing twice
    const stats = await predictions.windowStats({ deploymentId: "dep", modelVersionId: "ver", since: 500 });
    expect(stats).toEqual({
      requests: 125,
      errors: 25,
      errorRate: 0.2,
      p50Ms: 50,
      p95Ms: 95,
      meanScore: 0.5,
    });
    expect((await predictions.find("ok-7"))?.latencyMs).toBe(7);
  });
});
