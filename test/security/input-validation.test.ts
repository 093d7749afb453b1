/**
 * Input validation and error shaping (docs/security.md, input validation): hostile bodies get a 4xx and
 * change nothing; unexpected errors are logged in full server-side and answered with a generic 500.
 */
import Fastify from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorHandler } from "../../src/http/error-handler.js";
import { describeEachDatabase } from "../support/databases.js";
import { startTestServer, type TestServer } from "../support/server.js";

describe("error handler", () => {
  it("survives numeric error codes, logs the real error, and answers 500s generically", async () => {
    const lines: string[] = [];
    const app = Fastify({
      logger: { level: "error", stream: { write: (line: string) => void lines.push(line) } },
    });
    app.setErrorHandler(errorHandler);
    app.get("/numeric", async () => {
      throw Object.assign(new Error("secret detail at /srv/mlops/data/mlops.db"), { code: 5 });
    });
    app.get("/numeric-4xx", async () => {
      throw Object.assign(new Error("teapot"), { code: 42, statusCode: 418 });
    });
    const res = await app.inject({ method: "GET", url: "/numeric" });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({
      error: { code: "INTERNAL", message: "internal server error; see the server log" },
    });
    expect(res.body).not.toContain("/srv/mlops");
    expect(lines.join("\n")).toContain("secret detail at /srv/mlops/data/mlops.db");

    const teapot = await app.inject({ method: "GET", url: "/numeric-4xx" });
    expect(teapot.statusCode).toBe(418);
    expect(teapot.json()).toEqual({ error: { code: "BAD_REQUEST", message: "teapot" } });
    await app.close();
  });
});

describeEachDatabase("hostile request bodies", (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("refuses 100k-deep nested JSON with 400 and creates nothing", async () => {
    const deep = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;
    const deepObject = `{"name":"deep-json","description":"x","labels":${'{"a":'.repeat(100_000)}1${"}".repeat(100_000)}}`;
    for (const body of [deep, deepObject]) {
      const res = await server.call("POST", "/api/v1/projects", body);
      expect(res.status).toBe(400);
      expect(JSON.stringify(res.body)).toMatch(/nested deeper than 256/);
    }
    expect((await server.call("GET", "/api/v1/projects/deep-json")).status).toBe(404);
    // Brackets inside strings do not count; ordinary nesting is fine.
    const fine = await server.call("POST", "/api/v1/projects", {
      name: "deep-ok",
      description: `${"[{".repeat(200)}`,
    });
    expect(fine.status).toBeLessThan(300);
    expect((await server.call("GET", "/healthz", undefined, null)).status).toBe(200);
  });

  it("refuses timeoutSeconds 0 (and negative) with 400; null or absent means no timeout", async () => {
    for (const timeoutSeconds of [0, -5, 1.5]) {
      const res = await server.call("POST", "/api/v1/jobs", { command: ["true"], timeoutSeconds });
      expect(res.status, `${timeoutSeconds}: ${JSON.stringify(res.body)}`).toBe(400);
      expect(JSON.stringify(res.body)).toMatch(/timeoutSeconds/);
    }
    const none = await server.call("POST", "/api/v1/jobs", { command: ["true"], timeoutSeconds: null });
    expect(none.status, JSON.stringify(none.body)).toBe(201);
    expect(none.body).toMatchObject({ timeoutSeconds: null });
  });
});
