import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemPrincipal } from "../src/registry/registry-service.js";
import { bucketOf, chooseRoute } from "../src/serving/routing/traffic-split.js";
import { addVersion, fixtureBytes, makeProduction, stage } from "./serving-fixtures.js";
import { describeEachDatabase } from "./support/databases.js";
import { startTestServer, type TestServer } from "./support/server.js";

const N = 10_000;

describe("traffic split (router)", () => {
  it.each([1, 5, 10, 25, 50, 90])(
    "sends %d%% of 10,000 keyed and unkeyed requests to the canary, +-2 points",
    (weight) => {
      let keyed = 0;
      let unkeyed = 0;
      for (let i = 0; i < N; i++) {
        if (chooseRoute(weight, `user-${i}@example.com`) === "canary") keyed++;
        if (chooseRoute(weight) === "canary") unkeyed++;
      }
      expect(Math.abs((keyed / N) * 100 - weight)).toBeLessThanOrEqual(2);
      expect(Math.abs((unkeyed / N) * 100 - weight)).toBeLessThanOrEqual(2);
    },
  );

  it("keeps a key on its version, and on the canary while the weight grows", () => {
    for (let i = 0; i < 2000; i++) {
      const key = `session-${i}`;
      expect(chooseRoute(30, key)).toBe(chooseRoute(30, key));
      if (chooseRoute(10, key) === "canary") expect(chooseRoute(40, key)).toBe("canary");
      expect(bucketOf(key)).toBeGreaterThanOrEqual(0);
      expect(bucketOf(key)).toBeLessThan(100);
    }
    expect(chooseRoute(0, "x")).toBe("primary");
    expect(chooseRoute(100, "x")).toBe("canary");
  });
});

describeEachDatabase("traffic split (serving path and prediction log)", (kind) => {
  let server: TestServer;
  const admin = systemPrincipal("test");

  beforeAll(async () => {
    server = await startTestServer(kind);
    const v1 = await addVersion(server, "split", fixtureBytes("tiny-classifier"));
    await makeProduction(server, "split", v1);
    const v2 = await addVersion(server, "split", fixtureBytes("tiny-classifier"));
    await stage(server, "split", v2);
    expect((await server.call("POST", "/api/v1/deployments", { name: "split", model: "split" })).status).toBe(
      201,
    );
    const canary = await server.call("POST", "/api/v1/deployments/split/canary", {
      version: v2,
      percent: 20,
    });
    expect(canary.status, JSON.stringify(canary.body)).toBe(200);
  });

  afterAll(async () => {
    await server?.stop();
  });

  it("routes 20% of 10,000 predictions to the canary (+-2 points), as the log records", async () => {
    const { predictor } = server.platform.serving;
    const data = new Float32Array(3 * 32 * 32).fill(0.25);
    let canary = 0;
    let next = 0;
    const worker = async () => {
      while (next < N) {
        const i = next++;
        const answer = await predictor.inferTensors(
          "split",
          [{ name: "input", shape: [1, 3, 32, 32], datatype: "FP32", data }],
          { principal: admin, endpoint: "oip", routingKey: `k-${i}` },
        );
        if (answer.canary) canary++;
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    expect(Math.abs((canary / N) * 100 - 20)).toBeLessThanOrEqual(2);

    await server.platform.serving.predictionLog.flush();
    const status = await server.platform.serving.status(admin, "split", 0);
    const [primary, canaryVersion] = status.versions;
    expect(primary.stats.requests + canaryVersion.stats.requests).toBe(N);
    expect(canaryVersion.stats.requests).toBe(canary);
    expect(canaryVersion.stats.errors).toBe(0);
    expect(canaryVersion.weight).toBe(20);
  }, 60_000);
});
