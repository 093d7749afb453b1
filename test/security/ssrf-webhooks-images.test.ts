/**
 * SSRF through the two features that make the server connect somewhere a user names: project webhooks
 * and Label Studio task images. Loopback targets are refused before connecting (the listener counts no
 * connection), with one message; redirects are checked again (docs/security.md, network egress).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { OUTBOUND_FAILED } from "../../src/egress/outbound-client.js";
import { WebhookDeliveryLoop } from "../../src/events/delivery-loop.js";
import { SqlWebhookStore } from "../../src/store/repositories/webhooks.js";
import { addVersion, fixtureBytes, noisePng, postJson } from "../serving-fixtures.js";
import { describeEachDatabase } from "../support/databases.js";
import { startTestServer, type TestServer } from "../support/server.js";

interface Listener {
  server: Server;
  port: number;
  connections: number;
}

async function listen(handler: Parameters<typeof createServer>[1]): Promise<Listener> {
  const l: Listener = { server: createServer(handler), port: 0, connections: 0 };
  l.server.on("connection", () => {
    l.connections++;
  });
  await new Promise<void>((resolve) => l.server.listen(0, "127.0.0.1", resolve));
  l.port = (l.server.address() as AddressInfo).port;
  return l;
}

interface LsResult {
  result: unknown[];
  meta: { mlops_error?: string };
}

describeEachDatabase("SSRF: webhooks and Label Studio images", (kind) => {
  let server: TestServer;
  let target: Listener;
  let redirector: Listener;
  let closedPort: number;
  let png: Buffer;

  beforeAll(async () => {
    png = await noisePng(32, 32, 3);
    target = await listen((_req, res) => res.writeHead(200, { "content-type": "image/png" }).end(png));
    // Allow-listed itself, it redirects to the target, which is not.
    redirector = await listen((_req, res) =>
      res.writeHead(302, { location: `http://127.0.0.1:${target.port}/img.png` }).end(),
    );
    const closed = await listen(() => {});
    closedPort = closed.port;
    await new Promise((r) => closed.server.close(r));
    server = await startTestServer(kind, {
      MLOPS_SERVING_IMAGE_HOSTS: `127.0.0.1:${target.port},127.0.0.1:${redirector.port},127.0.0.1:${closedPort}`,
      MLOPS_OUTBOUND_ALLOW: `127.0.0.1:${redirector.port},127.0.0.1:${closedPort}`,
    });
    const version = await addVersion(server, "ssrf", fixtureBytes("tiny-classifier"));
    const deployed = await server.call("POST", "/api/v1/deployments", {
      name: "ssrf",
      model: "ssrf",
      version,
      environment: "dev",
    });
    expect(deployed.status, JSON.stringify(deployed.body)).toBe(201);
  });

  afterAll(async () => {
    await server?.stop();
    target?.server.close();
    redirector?.server.close();
  });

  it("refuses webhook URLs that name loopback/private addresses outright, with a 400 and nothing stored", async () => {
    for (const url of [
      `http://127.0.0.1:${target.port}/hook`,
      `http://localhost:${target.port}/hook`,
      `http://[::ffff:127.0.0.1]:${target.port}/hook`,
      `http://[::1]:${target.port}/hook`,
      "http://169.254.169.254/latest/meta-data/",
      "http://10.0.0.1/hook",
    ]) {
      const created = await server.call("POST", "/api/v1/projects/default/webhooks", {
        url,
        events: ["model.created"],
        secret: "a-webhook-secret-of-some-length",
      });
      expect(created.status, url).toBe(400);
      expect(JSON.stringify(created.body)).toMatch(/MLOPS_OUTBOUND_ALLOW/);
    }
    const hooks = (await server.call("GET", "/api/v1/projects/default/webhooks")).body as {
      webhooks: unknown[];
    };
    expect(hooks.webhooks).toHaveLength(0);
  });

  it("refuses deliveries to loopback before connecting (names resolved first), with the same message as a closed port", async () => {
    // Allow-listed, but nothing listens there.
    const allowed = await server.call("POST", "/api/v1/projects/default/webhooks", {
      url: `http://127.0.0.1:${closedPort}/hook`,
      events: ["model.created"],
      secret: "a-webhook-secret-of-some-length",
    });
    expect(allowed.status).toBe(201);
    const projectId = (allowed.body as { projectId: string }).projectId;
    // As if created while the allow-list was wider (or by a name that later resolved to loopback).
    const store = new SqlWebhookStore(server.platform.store);
    for (const [i, url] of [
      `http://localhost:${target.port}/hook`,
      `http://127.0.0.1:${target.port}/hook`,
      `http://[::ffff:127.0.0.1]:${target.port}/hook`,
    ].entries()) {
      await store.insertWebhook(
        {
          id: `old-${i}`,
          projectId,
          url,
          events: ["model.created"],
          createdAt: Date.now(),
          createdBy: "admin",
        },
        "a-webhook-secret-of-some-length",
      );
    }
    expect((await server.call("POST", "/api/v1/models", { name: "ssrf-hooked" })).status).toBe(201);
    const loop = new WebhookDeliveryLoop({ store, isLeader: () => true, egress: server.platform.egress });
    expect(await loop.deliverDue()).toBe(4);
    const hooks = (await server.call("GET", "/api/v1/projects/default/webhooks")).body as {
      webhooks: Array<{ id: string }>;
    };
    const errors: Array<string | null> = [];
    for (const h of hooks.webhooks) {
      const log = (await server.call("GET", `/api/v1/projects/default/webhooks/${h.id}/deliveries`)).body as {
        deliveries: Array<{ attemptLog: Array<{ error: string | null; statusCode: number | null }> }>;
      };
      for (const d of log.deliveries) for (const a of d.attemptLog) errors.push(a.error);
    }
    expect(errors).toEqual([OUTBOUND_FAILED, OUTBOUND_FAILED, OUTBOUND_FAILED, OUTBOUND_FAILED]);
    expect(target.connections).toBe(0);
  });

  it("refuses task images on non-allow-listed loopback before connecting, also after a redirect; other tasks still predicted", async () => {
    const answer = await postJson(server, "/integrations/label-studio/ssrf/predict", {
      tasks: [
        { id: 1, data: { image: `http://127.0.0.1:${target.port}/img.png` } },
        { id: 2, data: { image: `http://127.0.0.1:${redirector.port}/go` } },
        { id: 3, data: { image: `http://127.0.0.1:${closedPort}/img.png` } },
        { id: 4, data: { image: `data:image/png;base64,${png.toString("base64")}` } },
      ],
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const results = (answer.body as { results: LsResult[] }).results;
    expect(results.map((r) => r.meta.mlops_error)).toEqual([
      OUTBOUND_FAILED,
      OUTBOUND_FAILED,
      OUTBOUND_FAILED,
      undefined,
    ]);
    expect(results[3].result).toHaveLength(1);
    expect(redirector.connections).toBe(1);
    expect(target.connections).toBe(0);
  });
});
