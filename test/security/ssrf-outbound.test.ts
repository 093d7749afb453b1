/**
 * SSRF: the server's own outbound requests (webhooks, Label Studio task images) must not reach loopback,
 * private or link-local addresses unless the operator allow-lists them, must be refused before any
 * connection is opened, and must fail with one message whatever the cause (docs/security.md).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EgressPolicy } from "../../src/egress/egress-policy.js";
import { OUTBOUND_FAILED, OutboundError, sendOutbound } from "../../src/egress/outbound-client.js";

interface Listener {
  server: Server;
  port: number;
  connections: number;
  requests: string[];
}

/** A local HTTP server that counts TCP connections (a refused-before-connecting target sees zero). */
async function listen(handler?: Parameters<typeof createServer>[1]): Promise<Listener> {
  const l: Listener = { server: createServer(), port: 0, connections: 0, requests: [] };
  l.server.on("connection", () => {
    l.connections++;
  });
  l.server.on("request", (req, res) => {
    l.requests.push(`${req.method} ${req.headers.host} ${req.url}`);
    if (handler) handler(req, res);
    else res.writeHead(200, { "content-type": "text/plain" }).end("ok");
  });
  await new Promise<void>((resolve) => l.server.listen(0, "127.0.0.1", resolve));
  l.port = (l.server.address() as AddressInfo).port;
  return l;
}

async function failure(p: Promise<unknown>): Promise<OutboundError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof OutboundError) return err;
    throw err;
  }
  throw new Error("expected the request to be refused");
}

const get = (url: string, policy: EgressPolicy, extra: Partial<Parameters<typeof sendOutbound>[1]> = {}) =>
  sendOutbound(new URL(url), {
    method: "GET",
    signal: AbortSignal.timeout(3000),
    policy,
    ...extra,
  });

describe("outbound client: address policy", () => {
  let target: Listener;
  beforeAll(async () => {
    target = await listen();
  });
  afterAll(() => {
    target.server.close();
  });

  it("refuses loopback in every spelling before connecting, with one message", async () => {
    const strict = EgressPolicy.strict();
    const p = target.port;
    for (const url of [
      `http://127.0.0.1:${p}/`,
      `http://localhost:${p}/`,
      `http://[::ffff:127.0.0.1]:${p}/`,
      `http://[::ffff:7f00:1]:${p}/`,
      `http://2130706433:${p}/`,
      `http://0x7f.1:${p}/`,
      `http://127.1:${p}/`,
      `http://0.0.0.0:${p}/`,
      `http://[::1]:${p}/`,
      `http://169.254.169.254/latest/meta-data/`,
      `http://10.0.0.1/`,
      `http://100.64.0.1/`,
    ]) {
      const err = await failure(get(url, strict));
      expect(err.message, url).toBe(OUTBOUND_FAILED);
    }
    expect(target.connections).toBe(0);
  });

  it("checks every address a name resolves to, and connects to the checked one without resolving again", async () => {
    let lookups = 0;
    const mixed = await failure(
      get(`http://rebind.example:${target.port}/`, EgressPolicy.strict(), {
        resolve: async () => {
          lookups++;
          return [
            { address: "93.184.216.34", family: 4 },
            { address: "127.0.0.1", family: 4 },
          ];
        },
      }),
    );
    expect(mixed.reason).toMatch(/loopback/);
    expect(target.connections).toBe(0);

    // Allowed by CIDR: the first answer is checked and used; a later (rebinding) answer is never asked for.
    lookups = 0;
    const answers = ["127.0.0.1", "169.254.169.254"];
    const response = await get(`http://rebind.example:${target.port}/x`, EgressPolicy.parse("127.0.0.0/8"), {
      resolve: async () => [{ address: answers[lookups++], family: 4 }],
    });
    expect(response.statusCode).toBe(200);
    response.destroy();
    expect(lookups).toBe(1);
    expect(target.requests.at(-1)).toBe(`GET rebind.example:${target.port} /x`);
  });

  it("gives the same message for refused, closed, timed-out and unresolvable destinations", async () => {
    const closed = await listen();
    const closedPort = closed.port;
    await new Promise((r) => closed.server.close(r));
    const silent = await listen(() => {
      // accepts the connection, never answers
    });
    const allow = EgressPolicy.parse("127.0.0.0/8");
    const errors = [
      await failure(get(`http://127.0.0.1:${target.port}/`, EgressPolicy.strict())),
      await failure(get(`http://127.0.0.1:${closedPort}/`, allow)),
      await failure(get(`http://127.0.0.1:${silent.port}/`, allow, { signal: AbortSignal.timeout(300) })),
      await failure(get("http://no-such-host.invalid/", allow)),
    ];
    silent.server.closeAllConnections();
    silent.server.close();
    expect(new Set(errors.map((e) => e.message))).toEqual(new Set([OUTBOUND_FAILED]));
    // ...while the log-only reasons differ.
    expect(new Set(errors.map((e) => e.reason)).size).toBe(4);
  });
});
