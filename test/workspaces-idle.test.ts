import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getJob, SMALL, startJobServer, submit, waitForState } from "./jobs-helpers.js";
import { waitFor } from "./support/processes.js";
import type { TestServer } from "./support/server.js";
import {
  addKey,
  connectionOf,
  createUser,
  knownHostsFor,
  showWorkspace,
  ssh,
  sshArgs,
  type TestUser,
  waitForWorkspace,
  type WorkspaceView,
} from "./workspaces-helpers.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function auditActions(server: TestServer, id: string): Promise<string[]> {
  const page = (await server.call("GET", `/api/v1/audit?subjectType=workspace&subjectId=${id}`)).body as {
    events: Array<{ action: string }>;
  };
  return page.events.map((event) => event.action);
}

/**
 * Idle culling that sees SSH sessions (issue #12): an open session keeps a workspace past its idle timeout;
 * once it closes the workspace is stopped and its GPUs go to a queued job. The maximum lifetime warns the
 * open terminals, then stops the workspace.
 */
describe("workspace idle culling and lifetime (real sshd, real ssh)", () => {
  let server: TestServer;
  let alice: TestUser;
  let workspace: WorkspaceView;

  beforeAll(async () => {
    server = await startJobServer("sqlite", { MLOPS_GPUS: "h100:2", MLOPS_WORKSPACE_REPORT_SECONDS: "1" });
    alice = await createUser(server, "alice");
    await addKey(server, alice);
    const created = await server.call(
      "POST",
      "/api/v1/workspaces",
      { name: "idle", resources: { gpus: 2, ...SMALL, memoryMiB: 1024 }, idleTimeout: "6s" },
      alice.token,
    );
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    workspace = await waitForWorkspace(server, (created.body as WorkspaceView).id, "running", alice.token);
  }, 90_000);

  afterAll(async () => {
    await server?.stop();
  });

  it("an open SSH session keeps it; after it closes it is stopped and a queued job gets its GPUs", async () => {
    const job = await submit(server, { command: ["sh", "-c", "sleep 30"], resources: { gpus: 2, ...SMALL } });
    await waitFor(
      async () => ((await getJob(server, job.id)).job.stateReason.includes("wait") ? true : undefined),
      10_000,
      "the job to wait for the workspace's GPUs",
    );
    const connection = await connectionOf(server, workspace.id, alice.token);
    const session = ssh(sshArgs(connection, alice.keyFile, knownHostsFor(connection)), "sleep 13");
    // Twice the idle timeout with the session open (and nothing running in it): still running.
    await sleep(12_000);
    const during = await showWorkspace(server, workspace.id, alice.token);
    expect(during.state).toBe("running");
    expect((during as WorkspaceView & { sessions: number }).sessions).toBeGreaterThan(0);
    expect((await getJob(server, job.id)).job.state).toBe("queued");
    expect((await session).code).toBe(0);

    const stopped = await waitForWorkspace(server, workspace.id, "stopped", alice.token, 20_000);
    expect(stopped.stateReason).toMatch(/idle/);
    await waitForState(server, job.id, "running", 20_000);
    expect(await auditActions(server, workspace.id)).toContain("workspace.stopped_idle");
    const metrics = (await server.call("GET", "/metrics")).body as string;
    expect(metrics).toMatch(/^mlops_workspace_idle_stops_total 1$/m);
    await server.call("POST", `/api/v1/jobs/${job.id}/cancel`);
    await waitForState(server, job.id, "cancelled", 20_000);
  }, 60_000);

  it("the maximum lifetime is announced on the open terminals, then the workspace stops", async () => {
    // Its own workspace with a long idle timeout: under load an SSH client can take longer than the first
    // workspace's 6 s idle timeout to log in, and an idle stop must not pre-empt the lifetime under test.
    const limits = await server.call("PUT", "/api/v1/projects/default/workspace-limits", {
      maxLifetime: "30s",
    });
    expect(limits.status, JSON.stringify(limits.body)).toBe(200);
    const created = await server.call(
      "POST",
      "/api/v1/workspaces",
      { name: "lifetime", resources: { gpus: 1, ...SMALL, memoryMiB: 1024 }, idleTimeout: "1h" },
      alice.token,
    );
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const lifetime = await waitForWorkspace(
      server,
      (created.body as WorkspaceView).id,
      "running",
      alice.token,
      30_000,
    );
    const connection = await connectionOf(server, lifetime.id, alice.token);
    const child = spawn(
      "ssh",
      ["-tt", ...sshArgs(connection, alice.keyFile, knownHostsFor(connection)), "sleep 60"],
      {
        stdio: ["pipe", "pipe", "pipe"],
      },
    );
    let terminal = "";
    child.stdout.on("data", (d) => {
      terminal += d.toString();
    });
    const ended = new Promise<number | null>((resolve) => child.on("close", resolve));
    try {
      await waitFor(
        async () => (terminal.includes("maximum lifetime") ? true : undefined),
        40_000,
        "the warning",
      );
    } catch (err) {
      const shown = await showWorkspace(server, lifetime.id, alice.token);
      const logs = await server.call("GET", `/api/v1/jobs/${shown.jobId}/logs`);
      console.log(JSON.stringify(terminal), await auditActions(server, lifetime.id), shown, logs.body);
      throw err;
    }
    expect(terminal).toMatch(/\*\*\* mlops: workspace lifetime reaches its maximum lifetime/);
    const stopped = await waitForWorkspace(server, lifetime.id, "stopped", alice.token, 40_000);
    expect(stopped.stateReason).toMatch(/maximum lifetime/);
    await ended;
    const actions = await auditActions(server, lifetime.id);
    expect(actions).toEqual(expect.arrayContaining(["workspace.idle_warned", "workspace.stopped_lifetime"]));
  }, 150_000);
});
