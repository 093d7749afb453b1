import { createHash } from "node:crypto";
import sharp from "sharp";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachDatabase } from "../support/databases.js";
import { startTestServer, type TestServer } from "../support/server.js";

/**
 * How tokens are presented and whom they name (docs/security.md): Label Studio's `Token` scheme, the
 * `/metrics` token option, and the author of a label delivered with a token.
 */
describeEachDatabase("security: token authentication", (kind) => {
  let server: TestServer;
  let lara: string;
  let job: string;

  const raw = async (url: string, authorization?: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    if (authorization) headers.set("authorization", authorization);
    return fetch(`${server.url}${url}`, { ...init, headers });
  };

  beforeAll(async () => {
    server = await startTestServer(kind, { MLOPS_METRICS_AUTH: "token" });
    await server.call("POST", "/api/v1/users", { name: "lara", role: "labeler" });
    lara = (
      (await server.call("POST", "/api/v1/tokens", { name: "t", user: "lara" })).body as { token: string }
    ).token;
    const admin = await server.platform.identity.getUser("admin");
    const project = (await server.call("GET", "/api/v1/projects/default")).body as { id: string };
    job = (
      await server.platform.identity.issueWorkloadToken(admin.id, { projectId: project.id, jobId: "j1" }, 600)
    ).token;
  });
  afterAll(async () => server?.stop());

  it("accepts Label Studio's `Authorization: Token <t>` like Bearer, and nothing looser", async () => {
    for (const header of [`Token ${lara}`, `token ${lara}`, `Bearer ${lara}`]) {
      const reply = await raw("/api/v1/whoami", header);
      expect(reply.status, header).toBe(200);
      expect(((await reply.json()) as { user: { name: string } }).user.name).toBe("lara");
    }
    for (const header of [`Tokens ${lara}`, `Token`, `Token mlops_wrong`, lara]) {
      expect((await raw("/api/v1/whoami", header)).status, header).toBe(401);
    }
  });

  it("serves /metrics only with a user's token when MLOPS_METRICS_AUTH=token", async () => {
    expect((await raw("/metrics")).status).toBe(401);
    expect((await raw("/metrics", "Bearer mlops_wrong")).status).toBe(401);
    expect((await raw("/metrics", `Bearer ${job}`)).status).toBe(403);
    const scraped = await raw("/metrics", `Bearer ${lara}`);
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toContain("mlops_http_requests_total");
    expect((await raw("/healthz")).status).toBe(200);
  });

  it("keeps /metrics open by default", async () => {
    const open = await startTestServer(kind);
    try {
      expect((await fetch(`${open.url}/metrics`)).status).toBe(200);
    } finally {
      await open.stop();
    }
  });

  it("records a token-authenticated label as the token's user, not the body's completed_by", async () => {
    await server.call("POST", "/api/v1/datasets", {
      name: "pets",
      task: "classification",
      classes: ["cat", "dog"],
    });
    const bytes = await sharp({ create: { width: 8, height: 8, channels: 3, background: "#804020" } })
      .png()
      .toBuffer();
    await raw("/api/v1/datasets/pets/blobs", `Bearer ${server.adminToken}`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream" },
      body: bytes,
    });
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const added = (
      await server.call("POST", "/api/v1/datasets/pets/items", {
        items: [{ sha256, sourceName: "a/001.png" }],
      })
    ).body as { items: Array<{ id: string }> };
    const itemId = added.items[0].id;
    const event = {
      action: "ANNOTATION_CREATED",
      task: { id: 9, data: { image: "/data/local-files/?d=a/001.png" }, meta: {}, project: 1 },
      annotation: {
        id: 55,
        task: 9,
        // Claims to be somebody else (an admin in Label Studio, say).
        completed_by: { id: 1, email: "boss@example.com" },
        result: [{ id: "r", from_name: "c", to_name: "image", type: "choices", value: { choices: ["dog"] } }],
        was_cancelled: false,
        updated_at: "2024-05-01T10:00:00Z",
      },
    };
    const delivered = await raw("/api/v1/datasets/pets/label-studio/webhook", `Token ${lara}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(event),
    });
    expect(delivered.status).toBe(200);
    expect(await delivered.json()).toMatchObject({ status: "stored", itemId });
    const item = (await server.call("GET", `/api/v1/datasets/pets/items/${itemId}`)).body as {
      revisions: Array<{ author: string }>;
    };
    expect(item.revisions.map((r) => r.author)).toEqual(["lara"]);
  });
});
