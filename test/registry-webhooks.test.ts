import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { WebhookDeliveryLoop } from "../src/events/delivery-loop.js";
import { signBody } from "../src/events/webhook-service.js";
import { SqlWebhookStore } from "../src/store/repositories/webhooks.js";
import { describeEachDatabase } from "./support/databases.js";
import { waitFor } from "./support/processes.js";
import { startTestServer, type TestServer } from "./support/server.js";

const SECRET = "a-webhook-secret-of-some-length";

interface Received {
  body: string;
  signature: string | undefined;
  event: string | undefined;
}

/** A real HTTP receiver that answers 500 to the first `failures` requests, then 200. */
async function startReceiver(
  failures: number,
): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      received.push({
        body,
        signature: req.headers["x-mlops-signature"] as string | undefined,
        event: req.headers["x-mlops-event"] as string | undefined,
      });
      res.statusCode = received.length <= failures ? 500 : 200;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received, server };
}

type Delivery = {
  status: string;
  attempts: number;
  eventType: string;
  attemptLog: Array<{ attempt: number; statusCode: number | null }>;
};

describeEachDatabase("registry webhooks", (kind) => {
  let server: TestServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  beforeAll(async () => {
    receiver = await startReceiver(2);
    server = await startTestServer(kind, {
      MLOPS_BACKGROUND_LOOPS: "true",
      MLOPS_LEASE_TTL_MS: "1000",
      // The receiver is on loopback, which outbound requests reach only when allow-listed.
      MLOPS_OUTBOUND_ALLOW: "127.0.0.1",
    });
  });
  afterAll(async () => {
    await server?.stop();
    receiver?.server.close();
  });

  it("signs each delivery, retries with backoff, and logs every attempt", async () => {
    const hook = await server.call("POST", "/api/v1/projects/default/webhooks", {
      url: receiver.url,
      events: ["model.created"],
      secret: SECRET,
    });
    expect(hook.status).toBe(201);
    expect(JSON.stringify(hook.body)).not.toContain(SECRET);
    const id = (hook.body as { id: string }).id;
    expect((await server.call("POST", "/api/v1/models", { name: "hooked" })).status).toBe(201);

    const delivered = await waitFor(
      async () => {
        const log = (await server.call("GET", `/api/v1/projects/default/webhooks/${id}/deliveries`)).body as {
          deliveries: Delivery[];
        };
        return log.deliveries[0]?.status === "succeeded" ? log.deliveries[0] : undefined;
      },
      20_000,
      "the webhook delivery to succeed",
    );
    expect(delivered.attempts).toBe(3);
    expect(delivered.attemptLog.map((a) => a.statusCode)).toEqual([500, 500, 200]);
    expect(receiver.received).toHaveLength(3);
    for (const r of receiver.received) {
      expect(r.signature).toBe(signBody(SECRET, r.body));
      expect(r.event).toBe("model.created");
    }
    expect(JSON.parse(receiver.received[0].body)).toMatchObject({
      type: "model.created",
      data: { name: "hooked" },
    });
    expect(receiver.received[1].body).toBe(receiver.received[0].body);
  });
});

describeEachDatabase("webhook delivery queue", (kind) => {
  let server: TestServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  beforeAll(async () => {
    receiver = await startReceiver(1);
    server = await startTestServer(kind, { MLOPS_OUTBOUND_ALLOW: "127.0.0.1" });
  });
  afterAll(async () => {
    await server?.stop();
    receiver?.server.close();
  });

  it("continues a delivery in a new process's loop, and only while leader", async () => {
    await server.call("POST", "/api/v1/projects/default/webhooks", {
      url: receiver.url,
      events: ["model.*"],
      secret: SECRET,
    });
    await server.call("POST", "/api/v1/models", { name: "restart" });
    const store = new SqlWebhookStore(server.platform.store);
    const options = { store, baseDelayMs: 50, pollMs: 20, egress: server.platform.egress };
    expect(await new WebhookDeliveryLoop({ ...options, isLeader: () => true }).deliverDue()).toBe(1);
    expect(receiver.received).toHaveLength(1);

    // A follower does nothing; a fresh leader (as after a restart) picks up the persisted retry.
    const follower = new WebhookDeliveryLoop({ ...options, isLeader: () => false });
    follower.start();
    await new Promise((r) => setTimeout(r, 200));
    await follower.stop();
    expect(receiver.received).toHaveLength(1);

    const leader = new WebhookDeliveryLoop({ ...options, isLeader: () => true });
    leader.start();
    await waitFor(async () => receiver.received.length === 2, 5000, "the retry");
    await leader.stop();
    const [delivery] = await store.listDeliveries(
      (
        await server.platform.webhooks.list(
          await server.platform.identity.authenticate(server.adminToken),
          "default",
        )
      )[0].id,
      10,
    );
    expect(delivery).toMatchObject({ status: "succeeded", attempts: 2 });
  });
});
