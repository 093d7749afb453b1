import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachDatabase } from "../../test/support/databases.js";
import { startTestServer, type TestServer } from "../../test/support/server.js";
import { SqlWebhookStore } from "../store/repositories/webhooks.js";
import { WebhookDeliveryLoop } from "./delivery-loop.js";

function deliveriesOnMetrics(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^mlops_webhook_deliveries\{status="(\w+)"\} (\d+)$/gm)) {
    out[m[1] ?? ""] = Number(m[2]);
  }
  return out;
}

describeEachDatabase("mlops_webhook_deliveries on /metrics", (kind) => {
  let server: TestServer;
  let receiver: Server;
  let url: string;

  beforeAll(async () => {
    // A receiver that always fails: one attempt exhausts a delivery when maxAttempts is 1.
    receiver = createServer((_req, res) => {
      res.statusCode = 500;
      res.end();
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    server = await startTestServer(kind, { MLOPS_OUTBOUND_ALLOW: "127.0.0.1" });
  });
  afterAll(async () => {
    await server?.stop();
    receiver?.close();
  });

  it("counts deliveries per status from the database, failed ones included", async () => {
    const metrics = async () => deliveriesOnMetrics(await (await fetch(`${server.url}/metrics`)).text());
    expect(await metrics()).toEqual({ pending: 0, succeeded: 0, failed: 0 });

    const hook = { url, events: ["model.*"], secret: "a-webhook-secret-of-some-length" };
    expect((await server.call("POST", "/api/v1/projects/default/webhooks", hook)).status).toBe(201);
    expect((await server.call("POST", "/api/v1/models", { name: "m1" })).status).toBe(201);
    expect((await server.call("POST", "/api/v1/models", { name: "m2" })).status).toBe(201);
    expect(await metrics()).toEqual({ pending: 2, succeeded: 0, failed: 0 });

    const store = new SqlWebhookStore(server.platform.store);
    const loop = new WebhookDeliveryLoop({
      store,
      isLeader: () => true,
      maxAttempts: 1,
      egress: server.platform.egress,
    });
    expect(await loop.deliverDue()).toBe(2);
    expect(await metrics()).toEqual({ pending: 0, succeeded: 0, failed: 2 });
  });
});
