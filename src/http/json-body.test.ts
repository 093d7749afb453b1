import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachDatabase } from "../../test/support/databases.js";
import { startTestServer, type TestServer } from "../../test/support/server.js";

describeEachDatabase("JSON request bodies", (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("parses plain bodies, including ones that merely mention 'constructor' in a value", async () => {
    const plain = await server.call("POST", "/api/v1/projects", { name: "json-plain" });
    expect(plain.status).toBeLessThan(300);
    const mention = await server.call("POST", "/api/v1/projects", {
      name: "json-mention",
      description: "a constructor \u00e9",
    });
    expect(mention.status).toBeLessThan(300);
    expect(mention.body).toMatchObject({ description: "a constructor \u00e9" });
  });

  it("refuses prototype poisoning on a route whose body takes free-form objects (the parser's guard, not the schema)", async () => {
    // Label Studio's /setup body allows any property (additionalProperties: true, extra_params: unknown), so
    // only the JSON parser stands between these bodies and the handler. The handler answers 404 for an
    // unknown deployment: a 400 here can only come from the parser.
    const setup = "/integrations/label-studio/no-such-deployment/setup";
    const clean = await server.call("POST", setup, { schema: "<View/>", extra_params: { a: { b: 1 } } });
    expect(clean.status).toBe(404);
    for (const raw of [
      '{"schema":"<View/>","__proto__":{"isAdmin":true}}',
      '{"schema":"<View/>","\\u005f_proto__":{"isAdmin":true}}',
      '{"schema":"<View/>","extra_params":{"nested":{"__proto__":{"isAdmin":true}}}}',
      '{"schema":"<View/>","constructor":{"prototype":{"isAdmin":true}}}',
      '{"schema":"<View/>","extra_params":{"constructor":{"prototype":{"isAdmin":true}}}}',
    ]) {
      const res = await server.call("POST", setup, raw);
      expect(res.status, raw).toBe(400);
      expect(JSON.stringify(res.body), raw).not.toMatch(/not found/i);
    }
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
  });

  it("refuses prototype poisoning, escaped or not, and invalid or empty JSON with 400", async () => {
    for (const raw of [
      '{"name":"json-p1","__proto__":{"x":1}}',
      '{"name":"json-p2","\\u005f_proto__":{"x":1}}',
      '{"name":"json-p3","constructor":{"prototype":{"x":1}}}',
      '{"name":',
      "",
    ]) {
      const res = await server.call("POST", "/api/v1/projects", raw);
      expect(res.status, raw).toBe(400);
    }
  });
});
