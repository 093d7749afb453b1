import { readFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isServerPath } from "../../src/http/routes/ui.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { ensureWebBuild, WEB_DIST } from "./web-build.js";

/** The server side of the web UI: static files, SPA fallback, caching, and the API's paths left alone. */
describe("web UI assets served at /", () => {
  let server: TestServer;
  let html: string;

  beforeAll(async () => {
    ensureWebBuild();
    html = readFileSync(path.join(WEB_DIST, "index.html"), "utf8");
    server = await startTestServer("sqlite");
  });
  afterAll(async () => server?.stop());

  it("serves index.html without a token, never cached, for / and every client route", async () => {
    for (const route of ["/", "/runs", "/runs/0123abcd", "/models/resnet.v2", "/jobs/x?y=1"]) {
      const response = await fetch(server.url + route);
      expect(response.status, route).toBe(200);
      expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(response.headers.get("cache-control")).toBe("no-cache");
      expect(await response.text()).toBe(html);
    }
  });

  it("serves hashed assets with their type and a year-long immutable cache", async () => {
    const scripts = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]);
    expect(scripts.some((s) => s.endsWith(".js"))).toBe(true);
    for (const asset of scripts) {
      const response = await fetch(server.url + asset);
      expect(response.status, asset).toBe(200);
      expect(response.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
      expect(response.headers.get("content-type")).toBe(
        asset.endsWith(".js") ? "text/javascript; charset=utf-8" : "text/css; charset=utf-8",
      );
      const onDisk = readFileSync(path.join(WEB_DIST, asset));
      expect(Buffer.from(await response.arrayBuffer()).equals(onDisk)).toBe(true);
    }
    // A stale hashed name is a 404, not the app's HTML served as JavaScript.
    const missing = await fetch(`${server.url}/assets/index-00000000.js`);
    expect(missing.status).toBe(404);
  });

  it("never shadows the API, MLflow, docs, metrics or health paths", async () => {
    const unknownApi = await fetch(`${server.url}/api/v1/no-such-thing`);
    expect(unknownApi.status).toBe(404);
    expect(await unknownApi.json()).toMatchObject({ error: { code: "NOT_FOUND" } });
    const mlflow = await fetch(`${server.url}/api/2.0/mlflow/no-such-endpoint`, {
      headers: { authorization: `Bearer ${server.adminToken}` },
    });
    expect(await mlflow.json()).toMatchObject({ error_code: "ENDPOINT_NOT_FOUND" });
    expect((await fetch(`${server.url}/v2/no-such`)).status).toBe(404);
    expect((await fetch(`${server.url}/healthz`)).headers.get("content-type")).toContain("application/json");
    expect(await (await fetch(`${server.url}/metrics`)).text()).toContain("mlops_http_requests_total");
    expect((await fetch(`${server.url}/docs/json`)).headers.get("content-type")).toContain(
      "application/json",
    );
    const whoami = await fetch(`${server.url}/api/v1/whoami`);
    expect(whoami.status).toBe(401);
    for (const p of ["/api", "/api/v1/x", "/ajax-api/2.0/x", "/v2", "/docs/x", "/metrics", "/mlflow/x"])
      expect(isServerPath(p), p).toBe(true);
    for (const p of ["/", "/runs", "/apis", "/v2x", "/models/api"]) expect(isServerPath(p), p).toBe(false);
  });

  it("serves nothing outside the build directory", async () => {
    for (const attempt of [
      "/..%2fpackage.json",
      "/assets/..%2f..%2fpackage.json",
      "/%2e%2e/%2e%2e/package.json",
    ]) {
      const response = await fetch(server.url + attempt);
      const body = await response.text();
      expect(body, attempt).not.toContain('"name": "mlops-platform"');
    }
  });

  it("keeps the initial JavaScript under 300 KB gzip (pages load on demand)", () => {
    const initial = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]);
    const gzipBytes = initial.reduce(
      (sum, file) => sum + gzipSync(readFileSync(path.join(WEB_DIST, file))).length,
      0,
    );
    expect(gzipBytes).toBeGreaterThan(10_000);
    // The production build: React's development bundle would carry these warnings.
    const script = readFileSync(path.join(WEB_DIST, initial.find((f) => f.endsWith(".js")) ?? ""), "utf8");
    expect(script).not.toContain("Each child in a list should have a unique");
    expect(script).not.toContain("react-dom.development");
    expect(gzipBytes).toBeLessThan(300 * 1024);
    console.log(`initial bundle: ${initial.join(", ")} = ${(gzipBytes / 1024).toFixed(1)} KB gzip`);
  });
});
