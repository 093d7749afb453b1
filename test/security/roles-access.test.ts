import { afterAll, beforeAll, expect, it } from "vitest";
import { fixtureFiles } from "../registry-helpers.js";
import { describeEachDatabase } from "../support/databases.js";
import { startTestServer, type TestServer } from "../support/server.js";

const CONFIG = (fromName: string) => `<View>
  <Image name="img" value="$picture"/>
  <Choices name="${fromName}" toName="img"><Choice value="circle"/><Choice value="square"/></Choices>
</View>`;

/**
 * Roles at the edges (docs/security.md, threat model): access changes bite on the next request, labelers
 * cannot reconfigure a deployment, and the GPU view does not show other projects' jobs.
 */
describeEachDatabase("security: roles and access changes", (kind) => {
  let server: TestServer;
  let bob: string;
  let eng: string;
  let outsider: string;
  let insider: string;

  const tokenOf = async (user: string) =>
    ((await server.call("POST", "/api/v1/tokens", { name: "t", user })).body as { token: string }).token;
  const health = async (token: string) =>
    (await server.call("GET", "/integrations/label-studio/pd/health", undefined, token)).status;

  beforeAll(async () => {
    server = await startTestServer(kind, { MLOPS_GPUS: "h100:2" });
    for (const [name, role] of [
      ["bob", "viewer"],
      ["eng", "viewer"],
      ["outsider", "viewer"],
      ["insider", "viewer"],
    ])
      await server.call("POST", "/api/v1/users", { name, role });
    for (const project of ["p", "q"])
      expect((await server.call("POST", "/api/v1/projects", { name: project })).status).toBe(201);
    await server.call("PUT", "/api/v1/projects/p/members/bob", { role: "labeler" });
    await server.call("PUT", "/api/v1/projects/p/members/eng", { role: "engineer" });
    await server.call("PUT", "/api/v1/projects/p/members/insider", { role: "viewer" });
    await server.call("PUT", "/api/v1/projects/q/members/outsider", { role: "labeler" });
    [bob, eng, outsider, insider] = await Promise.all(["bob", "eng", "outsider", "insider"].map(tokenOf));

    const { onnx, json } = fixtureFiles();
    const uploadTo = async (bytes: Buffer) => {
      const response = await fetch(`${server.url}/api/v1/models/uploads?project=p`, {
        method: "POST",
        headers: { authorization: `Bearer ${server.adminToken}`, "content-type": "application/octet-stream" },
        body: bytes,
      });
      expect(response.status).toBe(201);
      return ((await response.json()) as { sha256: string }).sha256;
    };
    expect((await server.call("POST", "/api/v1/models?project=p", { name: "m" })).status).toBe(201);
    const files = [
      { path: "model.onnx", sha256: await uploadTo(onnx) },
      { path: "model.json", sha256: await uploadTo(json) },
    ];
    const version = await server.call("POST", "/api/v1/models/m/versions?project=p", { files });
    expect(version.status, JSON.stringify(version.body)).toBe(201);
    const deployed = await server.call("POST", "/api/v1/deployments", {
      name: "pd",
      project: "p",
      model: "m",
      version: 1,
      environment: "dev",
    });
    expect(deployed.status, JSON.stringify(deployed.body)).toBe(201);
  });
  afterAll(async () => server?.stop());

  it("refuses a removed member on the very next request (no cache window)", async () => {
    expect(await health(bob)).toBe(200);
    expect((await server.call("DELETE", "/api/v1/projects/p/members/bob")).status).toBe(204);
    // Refused: 404 where the deployment's project is no longer visible at all (names are per project).
    expect([403, 404]).toContain(await health(bob));
    await server.call("PUT", "/api/v1/projects/p/members/bob", { role: "labeler" });
    expect(await health(bob)).toBe(200);
  });

  it("applies a role change on the very next request", async () => {
    expect(await health(bob)).toBe(200);
    await server.call("PUT", "/api/v1/projects/p/members/bob", { role: "viewer" });
    expect(await health(bob)).toBe(403);
    await server.call("PUT", "/api/v1/projects/p/members/bob", { role: "labeler" });
    expect(await health(bob)).toBe(200);
  });

  it("refuses a revoked token on the very next request", async () => {
    const issued = (await server.call("POST", "/api/v1/tokens", { name: "second" }, bob)).body as {
      token: string;
      info: { id: string };
    };
    expect(await health(issued.token)).toBe(200);
    expect((await server.call("DELETE", `/api/v1/tokens/${issued.info.id}`, undefined, bob)).status).toBe(
      200,
    );
    expect(await health(issued.token)).toBe(401);
  });

  it("lets only engineers and admins change a deployment's Label Studio setup", async () => {
    const setup = (token: string, fromName: string) =>
      server.call(
        "POST",
        "/integrations/label-studio/pd/setup",
        { project: 3, schema: CONFIG(fromName) },
        token,
      );
    const stored = async () =>
      ((await server.call("GET", "/api/v1/deployments/pd")).body as { labelStudio?: unknown }).labelStudio;
    const byEngineer = await setup(eng, "shape");
    expect(byEngineer.status, JSON.stringify(byEngineer.body)).toBe(200);
    const before = await stored();
    expect(before).toBeTruthy();
    const byLabeler = await setup(bob, "sabotage");
    expect(byLabeler.status, JSON.stringify(byLabeler.body)).toBe(403);
    expect(await stored()).toEqual(before);
    // Label Studio reconnecting with the setup already stored is not a change: a labeler's token may.
    expect((await setup(bob, "shape")).status).toBe(200);
  });

  it("shows who holds a GPU only to callers who may read the holder's project", async () => {
    const submitted = await server.call("POST", "/api/v1/jobs", {
      project: "p",
      name: "secret-experiment",
      command: ["true"],
    });
    expect(submitted.status, JSON.stringify(submitted.body)).toBe(201);
    const jobId = (submitted.body as { id: string }).id;
    const projectId = ((await server.call("GET", "/api/v1/projects/p")).body as { id: string }).id;
    const gpus = (await server.call("GET", "/api/v1/gpus")).body as { devices: Array<{ uuid: string }> };
    await server.platform.store.db
      .insertInto("gpu_holds")
      .values({
        device_uuid: gpus.devices[0].uuid,
        workload_id: jobId,
        replica_index: 0,
        project_id: projectId,
        acquired_at: Date.now(),
      })
      .execute();
    type View = { devices: Array<{ heldBy: unknown }> };
    const view = async (token: string) =>
      (await server.call("GET", "/api/v1/gpus", undefined, token)).body as View;

    expect((await view(server.adminToken)).devices[0].heldBy).toMatchObject({
      jobId,
      jobName: "secret-experiment",
    });
    expect((await view(insider)).devices[0].heldBy).toMatchObject({ jobId, jobName: "secret-experiment" });
    for (const token of [outsider, bob]) {
      const seen = await view(token);
      expect(seen.devices[0].heldBy).toEqual({ otherProject: true });
      expect(seen.devices[1].heldBy).toBeNull();
      const text = JSON.stringify(seen);
      for (const secret of [jobId, "secret-experiment", projectId, "admin"])
        expect(text).not.toContain(secret);
    }
  });
});
