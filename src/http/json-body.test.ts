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
