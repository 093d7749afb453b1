import { afterAll, beforeAll, expect, it } from "vitest";
import { runCliProcess } from "./support/cli.js";
import { describeEachDatabase } from "./support/databases.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { addKey, createUser, type TestUser, type WorkspaceView } from "./workspaces-helpers.js";

/**
 * The workspace API without running anything (background loops off): validation, who sees what, limits,
 * SSH keys, delete. The sandboxed sshd itself: test/workspaces-ssh.test.ts.
 */
describeEachDatabase("workspace API", (kind) => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let viewer: TestUser;

  beforeAll(async () => {
    server = await startTestServer(kind, { MLOPS_GPUS: "h100:4" });
    alice = await createUser(server, "alice");
    bob = await createUser(server, "bob");
    viewer = await createUser(server, "vera", "viewer");
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });

  const count = async () =>
    ((await server.call("GET", "/api/v1/workspaces")).body as { workspaces: unknown[] }).workspaces.length;

  it("refuses bad input with 400 and a workspace without a registered key with 422; nothing is created", async () => {
    for (const body of [
      { name: "Bad Name" },
      { name: "dev1", resources: { gpus: -1 } },
      { name: "dev1", resources: { gpuType: "h100" } },
      { name: "dev1", idleTimeout: "2 hours" },
      { name: "dev1", image: "bad image" },
      { name: "dev1", extra: true },
    ]) {
      const reply = await server.call("POST", "/api/v1/workspaces", body, alice.token);
      expect(reply.status, JSON.stringify(body)).toBe(400);
    }
    const noKey = await server.call("POST", "/api/v1/workspaces", { name: "dev1" }, alice.token);
    expect(noKey.status).toBe(422);
    expect(JSON.stringify(noKey.body)).toMatch(/mlops ssh-key add/);
    expect(await count()).toBe(0);
  });

  it("SSH keys: validated, one per fingerprint, only the caller's own", async () => {
    const bad = await server.call(
      "POST",
      "/api/v1/users/me/ssh-keys",
      { publicKey: "ssh-ed25519 AAAA" },
      alice.token,
    );
    expect(bad.status).toBe(400);
    await addKey(server, alice);
    const again = await server.call(
      "POST",
      "/api/v1/users/me/ssh-keys",
      { publicKey: alice.publicKey },
      alice.token,
    );
    expect(again.status).toBe(409);
    const keys = (await server.call("GET", "/api/v1/users/me/ssh-keys", undefined, bob.token)).body as {
      keys: unknown[];
    };
    expect(keys.keys).toEqual([]);
    const mine = (await server.call("GET", "/api/v1/users/me/ssh-keys", undefined, alice.token)).body as {
      keys: Array<{ id: string }>;
    };
    const foreign = await server.call(
      "DELETE",
      `/api/v1/users/me/ssh-keys/${mine.keys[0].id}`,
      undefined,
      bob.token,
    );
    expect(foreign.status).toBe(404);
  });

  it("owners see connection details, viewers only that it exists; others cannot stop, start or connect", async () => {
    const created = await server.call(
      "POST",
      "/api/v1/workspaces",
      { name: "dev1", resources: { gpus: 2, gpuType: "h100" }, idleTimeout: "30m" },
      alice.token,
    );
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const workspace = created.body as WorkspaceView & { idleTimeoutSeconds: number };
    expect(workspace).toMatchObject({ state: "queued", idleTimeoutSeconds: 1800, connection: null });
    expect(workspace.hostKeyFingerprint).toMatch(/^SHA256:/);
    const duplicate = await server.call("POST", "/api/v1/workspaces", { name: "dev1" }, alice.token);
    expect(duplicate.status).toBe(409);

    const seen = (await server.call("GET", "/api/v1/workspaces", undefined, viewer.token)).body as {
      workspaces: WorkspaceView[];
    };
    expect(seen.workspaces.map((w) => w.name)).toEqual(["dev1"]);
    expect(seen.workspaces[0].connection).toBeUndefined();
    expect(
      (await server.call("GET", `/api/v1/workspaces/${workspace.id}/connection`, undefined, bob.token))
        .status,
    ).toBe(403);
    expect(
      (await server.call("POST", `/api/v1/workspaces/${workspace.id}/stop`, undefined, viewer.token)).status,
    ).toBe(403);
    expect(
      (await server.call("POST", `/api/v1/workspaces/${workspace.id}/start`, undefined, bob.token)).status,
    ).toBe(403);
    // Not running yet: no connection, even for the owner.
    expect(
      (await server.call("GET", `/api/v1/workspaces/dev1/connection`, undefined, alice.token)).status,
    ).toBe(409);
    // By name: the caller's own workspace.
    expect((await server.call("GET", "/api/v1/workspaces/dev1", undefined, bob.token)).status).toBe(404);
    const job = (await server.call("GET", `/api/v1/jobs/${workspace.jobId}`)).body as {
      job: { kind?: string };
    };
    expect(job.job.kind).toBe("workspace");
  });

  it("per-project limits: managers set them, a workspace past the GPU limit is refused", async () => {
    expect(
      (await server.call("PUT", "/api/v1/projects/default/workspace-limits", { maxGpus: 3 }, alice.token))
        .status,
    ).toBe(403);
    const set = await server.call("PUT", "/api/v1/projects/default/workspace-limits", {
      maxGpus: 3,
      maxLifetime: "7d",
    });
    expect(set.body).toMatchObject({ maxGpus: 3, maxLifetimeSeconds: 604800 });
    await addKey(server, bob);
    const over = await server.call(
      "POST",
      "/api/v1/workspaces",
      { name: "big", resources: { gpus: 2 } },
      bob.token,
    );
    expect(over.status).toBe(422);
    expect(JSON.stringify(over.body)).toMatch(/may hold 3 GPUs; 2 are in use/);
    const fits = await server.call(
      "POST",
      "/api/v1/workspaces",
      { name: "small", resources: { gpus: 1 } },
      bob.token,
    );
    expect(fits.status, JSON.stringify(fits.body)).toBe(201);
    const env = { MLOPS_URL: server.url, MLOPS_TOKEN: server.adminToken, MLOPS_CONFIG_DIR: server.dataDir };
    const shown = await runCliProcess(["--json", "workspace", "limits", "default"], env);
    expect(shown.code, shown.stderr).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ maxGpus: 3, maxLifetimeSeconds: 604800 });
    const bad = await runCliProcess(["workspace", "limits", "default", "--max-lifetime", "soon"], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/duration/);
  });

  it("a workspace the job system refuses (over the project's GPU quota) leaves nothing behind", async () => {
    await server.call("PUT", "/api/v1/projects/default/workspace-limits", { maxGpus: null });
    const quota = await server.call("PUT", "/api/v1/projects/default/quotas", { gpus: 1 });
    expect(quota.status, JSON.stringify(quota.body)).toBe(200);
    try {
      const refused = await server.call(
        "POST",
        "/api/v1/workspaces",
        { name: "dev9", resources: { gpus: 2 } },
        alice.token,
      );
      expect(refused.status).toBeGreaterThanOrEqual(400);
      expect(refused.status).toBeLessThan(500);
      expect(JSON.stringify(refused.body)).toMatch(/quota/i);
      const names = (
        (await server.call("GET", "/api/v1/workspaces")).body as { workspaces: WorkspaceView[] }
      ).workspaces.map((w) => w.name);
      expect(names).not.toContain("dev9");
    } finally {
      await server.call("PUT", "/api/v1/projects/default/quotas", {});
    }
  });

  it("a user token cannot report as a workspace agent", async () => {
    const reply = await server.call("POST", "/api/v1/workspaces/agent/report", { sessions: 1 }, alice.token);
    expect(reply.status).toBe(403);
  });

  it("delete stops the job, then removes the workspace; an admin may delete another's", async () => {
    const list = (await server.call("GET", "/api/v1/workspaces")).body as { workspaces: WorkspaceView[] };
    const small = list.workspaces.find((w) => w.name === "small") as WorkspaceView;
    expect(
      (await server.call("DELETE", `/api/v1/workspaces/${small.id}`, undefined, alice.token)).status,
    ).toBe(403);
    expect((await server.call("DELETE", `/api/v1/workspaces/${small.id}`)).status).toBe(204);
    await server.platform.workspaces.sync.pass();
    expect((await server.call("GET", `/api/v1/workspaces/${small.id}`)).status).toBe(404);
    const job = (await server.call("GET", `/api/v1/jobs/${small.jobId}`)).body as { job: { state: string } };
    expect(job.job.state).toBe("cancelled");
    const audit = (await server.call("GET", `/api/v1/audit?subjectType=workspace&subjectId=${small.id}`))
      .body as {
      events: Array<{ action: string }>;
    };
    expect(audit.events.map((e) => e.action)).toEqual(
      expect.arrayContaining(["workspace.created", "workspace.deleted", "workspace.home_deleted"]),
    );
    const dev1 = list.workspaces.find((w) => w.name === "dev1") as WorkspaceView;
    expect(
      (await server.call("DELETE", "/api/v1/workspaces/dev1?keepHome=true", undefined, alice.token)).status,
    ).toBe(204);
    await server.platform.workspaces.sync.pass();
    const kept = (await server.call("GET", `/api/v1/audit?subjectType=workspace&subjectId=${dev1.id}`))
      .body as {
      events: Array<{ action: string }>;
    };
    expect(kept.events.map((e) => e.action)).toContain("workspace.removed");
    expect(kept.events.map((e) => e.action)).not.toContain("workspace.home_deleted");
  });
});
