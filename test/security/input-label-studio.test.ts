/**
 * Label Studio /predict resource caps: task images are streamed under a per-image, per-request and
 * per-server byte cap (an oversized image is dropped, not buffered), and each task gets its own answer:
 * one bad image does not fail the others (docs/security.md, resource caps).
 */
import { createServer, type ServerResponse, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { OUTBOUND_FAILED } from "../../src/egress/outbound-client.js";
import { addVersion, fixtureBytes, noisePng, postJson } from "../serving-fixtures.js";
import { describeEachDatabase } from "../support/databases.js";
import { startTestServer, type TestServer } from "../support/server.js";

const MiB = 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 7);

interface LsResult {
  result: unknown[];
  meta: { mlops_error?: string; mlops_prediction_id?: string };
}

/** Writes `total` bytes in chunks without a content-length, stopping when the client goes away. */
function stream(res: ServerResponse, total: number, sent: { bytes: number }): void {
  res.writeHead(200, { "content-type": "image/png" });
  let mine = 0;
  const pump = () => {
    while (mine < total && !res.destroyed) {
      mine += CHUNK.length;
      sent.bytes += CHUNK.length;
      if (!res.write(CHUNK)) return void res.once("drain", pump);
    }
    res.end();
  };
  res.on("close", () => res.destroy());
  pump();
}

describeEachDatabase("Label Studio /predict: byte caps and per-task answers", (kind) => {
  let server: TestServer;
  let images: Server;
  let base: string;
  let png: Buffer;
  let closedPort: number;
  const streamed = { bytes: 0 };
  let releaseStall: () => void = () => {};

  beforeAll(async () => {
    png = await noisePng(32, 32, 5);
    images = createServer((req, res) => {
      if (req.url === "/ok.png") res.writeHead(200, { "content-type": "image/png" }).end(png);
      else if (req.url === "/huge-declared")
        res.writeHead(200, { "content-length": String(32 * MiB) }).write(CHUNK);
      else if (req.url === "/huge-chunked") stream(res, 32 * MiB, streamed);
      else if (req.url === "/stall") {
        // Declares 3 MiB (counted against the caps as soon as the headers arrive), then sends nothing.
        res.writeHead(200, { "content-length": String(3 * MiB) });
        res.flushHeaders();
        releaseStall = () => res.destroy();
      } else if (req.url === "/3.5m")
        res.writeHead(200, { "content-length": String(3.5 * MiB) }).write(CHUNK);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => images.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(images.address() as AddressInfo).port}`;
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    closedPort = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));

    server = await startTestServer(kind, {
      MLOPS_SERVING_IMAGE_HOSTS: "127.0.0.1",
      MLOPS_OUTBOUND_ALLOW: "127.0.0.1",
      MLOPS_LABEL_STUDIO_MAX_REQUEST_BYTES: String(4 * MiB),
      MLOPS_LABEL_STUDIO_MAX_INFLIGHT_BYTES: String(6 * MiB),
    });
    const version = await addVersion(server, "caps", fixtureBytes("tiny-classifier"));
    const deployed = await server.call("POST", "/api/v1/deployments", {
      name: "caps",
      model: "caps",
      version,
      environment: "dev",
    });
    expect(deployed.status, JSON.stringify(deployed.body)).toBe(201);
  });

  afterAll(async () => {
    releaseStall();
    images?.closeAllConnections();
    images?.close();
    await server?.stop();
  });

  const predict = async (tasks: Array<{ id: number; data: { image: string } }>) => {
    const answer = await postJson(server, "/integrations/label-studio/caps/predict", { tasks });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    return (answer.body as { results: LsResult[] }).results;
  };

  it("answers per task: an unreachable, a missing and an oversized image fail alone", async () => {
    const results = await predict([
      { id: 1, data: { image: `${base}/ok.png` } },
      { id: 2, data: { image: `http://127.0.0.1:${closedPort}/x.png` } },
      { id: 3, data: { image: `${base}/missing.png` } },
      { id: 4, data: { image: `${base}/huge-declared` } },
      { id: 5, data: { image: `data:image/png;base64,${png.toString("base64")}` } },
    ]);
    expect(results.map((r) => r.meta.mlops_error)).toEqual([
      undefined,
      OUTBOUND_FAILED,
      "fetching the image answered HTTP 404",
      `the image is larger than ${4 * MiB} bytes`,
      undefined,
    ]);
    expect(results[0].result).toHaveLength(1);
    expect(results[4].result).toHaveLength(1);
    expect(results[0].meta.mlops_prediction_id).toBeDefined();
  });

  it("drops oversized streamed images instead of buffering them (3 requests x 64 tasks x 32 MiB)", async () => {
    const before = process.memoryUsage().rss;
    const tasks = Array.from({ length: 64 }, (_, i) => ({ id: i, data: { image: `${base}/huge-chunked` } }));
    const answers = await Promise.all([predict(tasks), predict(tasks), predict(tasks)]);
    const grown = process.memoryUsage().rss - before;
    for (const results of answers) {
      expect(results).toHaveLength(64);
      for (const r of results) expect(r.meta.mlops_error).toMatch(/larger than|exceed|busy/);
    }
    // Without the caps this was 3 x 64 x 16 MiB buffered; now at most a few MiB per request are held.
    expect(grown).toBeLessThan(300 * MiB);
    // The image server got to send only a small part of the 6 GiB asked for before connections dropped.
    expect(streamed.bytes).toBeLessThan(1024 * MiB);
  });

  it("caps image bytes in flight across requests, and gives them back", async () => {
    const stalled = predict([{ id: 1, data: { image: `${base}/stall` } }]);
    await new Promise((r) => setTimeout(r, 300));
    const busy = await predict([{ id: 2, data: { image: `${base}/3.5m` } }]);
    expect(busy[0].meta.mlops_error).toMatch(/busy/);
    releaseStall();
    expect((await stalled)[0].meta.mlops_error).toBe(OUTBOUND_FAILED);
    const after = await predict([{ id: 3, data: { image: `${base}/ok.png` } }]);
    expect(after[0].meta.mlops_error).toBeUndefined();
  });
});
