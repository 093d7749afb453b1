import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachDatabase } from "./support/databases.js";
import { startTestServer, type TestServer } from "./support/server.js";

describeEachDatabase("control plane HTTP", (kind) => {
  let server: TestServer;
  let engineerToken: string;
  let viewerToken: string;

  beforeAll(async () => {
    server = await startTestServer(kind);
    await server.call("POST", "/api/v1/users", { name: "eve", role: "engineer" });
    await server.call("POST", "/api/v1/users", { name: "vic", role: "viewer" });
    engineerToken = (
      (await server.call("POST", "/api/v1/tokens", { name: "t", user: "eve" })).body as { token: string }
    ).token;
    viewerToken = (
      (await server.call("POST", "/api/v1/tokens", { name: "t", user: "vic" })).body as { token: string }
    ).token;
  });
  afterAll(async () => server?.stop());

  it("answers liveness, readiness, metrics and the OpenAPI document without a token", async () => {
    expect((await server.call("GET", "/healthz", undefined, null)).body).toEqual({ status: "ok" });
    // The sandbox line says whether jobs run isolated (docs/security.md); no warning with bubblewrap.
    expect((await server.call("GET", "/readyz", undefined, null)).body).toEqual({
      status: "ready",
      database: kind,
      sandbox: "bubblewrap",
    });
    const openapi = (await server.call("GET", "/api/v1/openapi.json", undefined, null)).body as {
      openapi: string;
      paths: Record<string, unknown>;
    };
    expect(openapi.openapi).toMatch(/^3\./);
    expect(Object.keys(openapi.paths)).toContain("/api/v1/projects");
    const docs = await fetch(`${server.url}/docs`, { redirect: "manual" });
    expect(docs.status).toBeLessThan(400);
    const metrics = (await server.call("GET", "/metrics", undefined, null)).body as string;
    expect(metrics).toMatch(/mlops_http_requests_total\{method="GET",route="\/healthz",status="200"\} \d+/);
    expect(metrics).toContain("mlops_http_request_duration_seconds_bucket");
    expect(metrics).toContain("mlops_process_cpu_user_seconds_total");
  });

  it("refuses missing, invalid and revoked tokens with 401 in the error shape", async () => {
    expect(await server.call("GET", "/api/v1/whoami", undefined, null)).toMatchObject({
      status: 401,
      body: { error: { code: "UNAUTHENTICATED" } },
    });
    expect(await server.call("GET", "/api/v1/whoami", undefined, "mlops_nope")).toMatchObject({
      status: 401,
    });
    const issued = (await server.call("POST", "/api/v1/tokens", { name: "short" }, engineerToken)).body as {
      token: string;
      info: { id: string };
    };
    expect((await server.call("GET", "/api/v1/whoami", undefined, issued.token)).body).toMatchObject({
      user: { name: "eve" },
    });
    expect(
      (await server.call("DELETE", `/api/v1/tokens/${issued.info.id}`, undefined, engineerToken)).status,
    ).toBe(200);
    expect(await server.call("GET", "/api/v1/whoami", undefined, issued.token)).toMatchObject({
      status: 401,
      body: { error: { message: "invalid or revoked API token" } },
    });
  });

  it("stores tokens hashed, never in plain text", async () => {
    const issued = (await server.call("POST", "/api/v1/tokens", { name: "x" })).body as {
      token: string;
      info: { id: string };
    };
    const row = await server.platform.store.db
      .selectFrom("tokens")
      .selectAll()
      .where("id", "=", issued.info.id)
      .executeTakeFirstOrThrow();
    expect(row.token_hash).not.toContain(issued.token);
    expect(row.token_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("expires tokens", async () => {
    const issued = (await server.call("POST", "/api/v1/tokens", { name: "exp", expiresInSeconds: 1 }))
      .body as { token: string };
    expect((await server.call("GET", "/api/v1/whoami", undefined, issued.token)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1100));
    expect(await server.call("GET", "/api/v1/whoami", undefined, issued.token)).toMatchObject({
      status: 401,
      body: { error: { message: "API token has expired" } },
    });
  });

  it("gives 403 for insufficient roles and changes nothing", async () => {
    const before = ((await server.call("GET", "/api/v1/users")).body as { users: unknown[] }).users.length;
    expect(
      await server.call("POST", "/api/v1/users", { name: "mallory", role: "admin" }, engineerToken),
    ).toMatchObject({ status: 403, body: { error: { code: "PERMISSION_DENIED" } } });
    expect(await server.call("POST", "/api/v1/projects", { name: "viewer-proj" }, viewerToken)).toMatchObject(
      { status: 403 },
    );
    expect(((await server.call("GET", "/api/v1/users")).body as { users: unknown[] }).users.length).toBe(
      before,
    );
    expect((await server.call("GET", "/api/v1/projects/viewer-proj")).status).toBe(404);
  });

  it("answers malformed JSON, schema violations and oversized bodies with 400/413, changing nothing", async () => {
    expect(await server.call("POST", "/api/v1/projects", "{not json", engineerToken)).toMatchObject({
      status: 400,
      body: { error: { code: "MALFORMED_REQUEST" } },
    });
    expect(await server.call("POST", "/api/v1/projects", { name: "Bad Name!" }, engineerToken)).toMatchObject(
      { status: 400, body: { error: { code: "INVALID_ARGUMENT" } } },
    );
    expect(
      await server.call("POST", "/api/v1/projects", { name: "ok", extra: 1 }, engineerToken),
    ).toMatchObject({ status: 400 });
    const huge = JSON.stringify({ name: "big", description: "x".repeat(17 * 1024 * 1024) });
    expect(await server.call("POST", "/api/v1/projects", huge, engineerToken)).toMatchObject({
      status: 413,
      body: { error: { code: "PAYLOAD_TOO_LARGE" } },
    });
    const names = (
      (await server.call("GET", "/api/v1/projects")).body as { projects: Array<{ name: string }> }
    ).projects.map((p) => p.name);
    expect(names).not.toContain("ok");
    expect(names).not.toContain("big");
    expect(await server.call("GET", "/api/v1/nope")).toMatchObject({
      status: 404,
      body: { error: { code: "NOT_FOUND" } },
    });
  });

  it("scopes projects to members, with per-project roles", async () => {
    expect(
      (await server.call("POST", "/api/v1/projects", { name: "vision", description: "d" }, engineerToken))
        .status,
    ).toBe(201);
    expect((await server.call("POST", "/api/v1/projects", { name: "vision" }, engineerToken)).status).toBe(
      409,
    );
    // vic (viewer) is not a member: forbidden, and the project is not listed for him.
    expect((await server.call("GET", "/api/v1/projects/vision", undefined, viewerToken)).status).toBe(403);
    const listed = (await server.call("GET", "/api/v1/projects", undefined, viewerToken)).body as {
      projects: Array<{ name: string }>;
    };
    expect(listed.projects.map((p) => p.name)).toEqual(["default"]);
    // eve is the creator and may add vic as viewer; vic may then read but not manage.
    expect(
      (await server.call("PUT", "/api/v1/projects/vision/members/vic", { role: "viewer" }, engineerToken))
        .status,
    ).toBe(403);
    expect((await server.call("PUT", "/api/v1/projects/vision/members/vic", { role: "viewer" })).status).toBe(
      200,
    );
    expect((await server.call("GET", "/api/v1/projects/vision", undefined, viewerToken)).status).toBe(200);
    expect(
      (await server.call("PUT", "/api/v1/projects/vision/members/eve", { role: "viewer" }, viewerToken))
        .status,
    ).toBe(403);
    const members = (await server.call("GET", "/api/v1/projects/vision/members")).body as {
      members: Array<{ userName: string; role: string }>;
    };
    expect(members.members.map((m) => [m.userName, m.role])).toEqual([
      ["eve", "engineer"],
      ["vic", "viewer"],
    ]);
  });

  it("records every state change in the audit log, paginated, admin-only without a project", async () => {
    const page = (await server.call("GET", "/api/v1/audit?limit=2")).body as {
      events: Array<{ action: string; actor: string }>;
      nextCursor: number;
    };
    expect(page.events).toHaveLength(2);
    const next = (await server.call("GET", `/api/v1/audit?limit=2&before=${page.nextCursor}`)).body as {
      events: Array<{ id: number }>;
    };
    expect(next.events[0].id).toBeLessThan(page.nextCursor);
    const creates = (await server.call("GET", "/api/v1/audit?action=user.create")).body as {
      events: Array<{ actor: string; details: { name: string } }>;
    };
    expect(creates.events.map((e) => e.details.name).sort()).toEqual(["eve", "vic"]);
    expect(creates.events[0].actor).toBe("admin");
    expect((await server.call("GET", "/api/v1/audit", undefined, engineerToken)).status).toBe(403);
    const projectEvents = (await server.call("GET", "/api/v1/audit?project=vision", undefined, engineerToken))
      .body as { events: Array<{ action: string }> };
    expect(projectEvents.events.map((e) => e.action)).toContain("project.create");
  });
});
