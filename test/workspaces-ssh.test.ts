import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getJob, logsOf, SMALL, startJobServer, submit, waitForState } from "./jobs-helpers.js";
import { runCliProcess } from "./support/cli.js";
import { waitFor } from "./support/processes.js";
import type { TestServer } from "./support/server.js";
import {
  addKey,
  type Connection,
  connectionOf,
  createUser,
  generateKey,
  knownHostsFor,
  showWorkspace,
  ssh,
  sshArgs,
  type TestUser,
  waitForWorkspace,
  type WorkspaceView,
} from "./workspaces-helpers.js";

/**
 * Issue #12, done-when: a workspace created through the API runs a real sshd in the real sandbox; the real
 * OpenSSH client logs in with a generated key, finds torch and its declared GPUs, and its home survives
 * stop/start; another user's key and password logins are refused; its GPUs count on the job scheduler.
 */
describe("workspaces over SSH (real sshd, real ssh, bubblewrap)", () => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let workspace: WorkspaceView;
  let connection: Connection;
  let knownHosts: string;

  beforeAll(async () => {
    server = await startJobServer("sqlite", { MLOPS_GPUS: "h100:4", MLOPS_WORKSPACE_REPORT_SECONDS: "1" });
    alice = await createUser(server, "alice");
    bob = await createUser(server, "bob");
    await addKey(server, alice);
    await addKey(server, bob);
    const created = await server.call(
      "POST",
      "/api/v1/workspaces",
      { name: "dev1", resources: { gpus: 2, gpuType: "h100", ...SMALL, memoryMiB: 2048 } },
      alice.token,
    );
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    workspace = await waitForWorkspace(server, (created.body as WorkspaceView).id, "running", alice.token);
    connection = await connectionOf(server, workspace.id, alice.token);
    knownHosts = knownHostsFor(connection);
  }, 90_000);

  afterAll(async () => {
    await server?.stop();
  });

  it("logs in with the owner's key: torch, the declared GPUs, the tracking env, a writable home", async () => {
    expect(connection.user).toBe("alice");
    const result = await ssh(
      sshArgs(connection, alice.keyFile, knownHosts),
      'python3 -c "import torch; print(\'torch\', torch.__version__)" && echo "CUDA=$CUDA_VISIBLE_DEVICES" && echo "TRACKING=$MLFLOW_TRACKING_URI" && echo "PROJECT=$MLOPS_PROJECT" && test -n "$MLOPS_TOKEN" && echo token-set && id -un && echo persisted > ~/notes.txt && pwd',
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^torch \d/m);
    expect(result.stdout).toContain("CUDA=0,1\n");
    expect(result.stdout).toContain(`TRACKING=${server.url}`);
    expect(result.stdout).toContain("PROJECT=default\n");
    expect(result.stdout).toContain("token-set\n");
    expect(result.stdout).toContain("alice\n/home/alice\n");
    // The launcher took the host key out of the environment before it exec'd sshd: no sshd process has it.
    const environ = await ssh(
      sshArgs(connection, alice.keyFile, knownHosts),
      'n=0; for p in /proc/[0-9]*; do [ "$(cat $p/comm)" = sshd ] && grep -qs "PRIVATE KEY" $p/environ && n=$((n+1)); done; echo "found=$n"; ps -e -o comm= | sort | uniq -c | tr -s " "',
    );
    expect(environ.stdout, environ.stderr).toContain("found=0\n");
    expect(environ.stdout).toMatch(/ sshd\n/);
    const metrics = (await server.call("GET", "/metrics")).body as string;
    expect(metrics).toMatch(/^mlops_workspaces_running 1$/m);
    expect(metrics).toMatch(/^mlops_workspace_gpus_held 2$/m);
  });

  it("`mlops run submit` from a session submits into the workspace's project; a job's token cannot", async () => {
    const inside = await ssh(
      sshArgs(connection, alice.keyFile, knownHosts),
      "mlops --json run submit --name from-workspace -- sh -c 'echo hi'",
    );
    expect(inside.code, inside.stderr).toBe(0);
    const submitted = JSON.parse(inside.stdout) as { id: string };
    const made = (await server.call("GET", `/api/v1/jobs/${submitted.id}`)).body as {
      job: { projectId: string; createdBy?: string };
    };
    const own = (await server.call("GET", `/api/v1/jobs/${workspace.jobId}`)).body as {
      job: { projectId: string };
    };
    expect(made.job.projectId).toBe(own.job.projectId);
    expect(made.job.createdBy).toBe("alice");
    await waitForState(server, submitted.id, "succeeded");
    // The job it started carries a plain job token: that one may not submit (only a workspace's may).
    const script = [
      "import json, os, urllib.error, urllib.request",
      "body = json.dumps({'command': ['true']}).encode()",
      "headers = {'authorization': 'Bearer ' + os.environ['MLOPS_TOKEN'], 'content-type': 'application/json'}",
      "request = urllib.request.Request(os.environ['MLOPS_API_URL'] + '/api/v1/jobs', data=body, headers=headers)",
      "try:",
      "    print('status', urllib.request.urlopen(request).status)",
      "except urllib.error.HTTPError as err:",
      "    print('status', err.code)",
    ].join("\n");
    const fromJob = await submit(server, { command: ["python3", "-c", script], resources: SMALL });
    await waitForState(server, fromJob.id, "succeeded");
    expect(await logsOf(server, fromJob.id)).toContain("status 403");
  }, 60_000);

  it("refuses another user's key, password logins, and shows others no connection details", async () => {
    const asBob = await ssh(sshArgs(connection, bob.keyFile, knownHosts), "true");
    expect(asBob.code).toBe(255);
    expect(asBob.stderr).toMatch(/Permission denied/);
    const password = await ssh(
      sshArgs(connection, null, knownHosts, [
        "-o",
        "PreferredAuthentications=password,keyboard-interactive",
        "-o",
        "PubkeyAuthentication=no",
      ]),
      "true",
    );
    expect(password.code).toBe(255);
    expect(password.stderr).toMatch(/Permission denied \(publickey\)/);

    const bobConnection = await server.call(
      "GET",
      `/api/v1/workspaces/${workspace.id}/connection`,
      undefined,
      bob.token,
    );
    expect(bobConnection.status).toBe(403);
    const bobView = await showWorkspace(server, workspace.id, bob.token);
    expect(bobView.state).toBe("running");
    expect(bobView.connection).toBeUndefined();
    const bobStop = await server.call(
      "POST",
      `/api/v1/workspaces/${workspace.id}/stop`,
      undefined,
      bob.token,
    );
    expect(bobStop.status).toBe(403);
  });

  it("the CLI: ssh-key add/list, workspace ssh, and ssh-config entries the stock ssh client uses unchanged", async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), "mlops-ws-home-"));
    mkdirSync(path.join(home, ".ssh"), { mode: 0o700 });
    copyFileSync(alice.keyFile, path.join(home, ".ssh", "id_ed25519"));
    chmodSync(path.join(home, ".ssh", "id_ed25519"), 0o600);
    copyFileSync(`${alice.keyFile}.pub`, path.join(home, ".ssh", "id_ed25519.pub"));
    const env = {
      MLOPS_URL: server.url,
      MLOPS_TOKEN: alice.token,
      MLOPS_CONFIG_DIR: path.join(home, "mlops"),
      HOME: home,
    };

    const second = generateKey("alice-laptop");
    const added = await runCliProcess(["ssh-key", "add", `${second}.pub`, "--name", "laptop"], env);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toMatch(/added ssh-ed25519 key SHA256:/);
    const bad = await runCliProcess(["ssh-key", "add", second], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/private key/);
    const listed = await runCliProcess(["--json", "ssh-key", "list"], env);
    expect((JSON.parse(listed.stdout) as unknown[]).length).toBe(2);

    const shell = await runCliProcess(
      ["workspace", "ssh", "dev1", "--", "echo", "hello-from", "$(id -un)"],
      env,
    );
    expect(shell.code, shell.stderr).toBe(0);
    expect(shell.stdout).toBe("hello-from alice\n");

    const config = await runCliProcess(["workspace", "ssh-config"], env);
    expect(config.code, config.stderr).toBe(0);
    expect(config.stdout).toContain("Host mlops-dev1\n");
    expect(config.stdout).toContain(`  Port ${connection.port}\n`);
    expect(config.stdout).toContain("  User alice\n");
    expect(config.stdout).toContain(`  IdentityFile ${path.join(home, ".ssh", "id_ed25519")}\n`);
    expect(config.stdout).toContain("  StrictHostKeyChecking yes\n");
    const configFile = path.join(home, ".ssh", "config");
    writeFileSync(configFile, config.stdout);
    const viaConfig = await ssh(["-F", configFile, "-o", "BatchMode=yes", "mlops-dev1"], "echo via-config");
    expect(viaConfig.code, viaConfig.stderr).toBe(0);
    expect(viaConfig.stdout).toBe("via-config\n");
  }, 60_000);

  it("holds its GPUs on the scheduler: a 3-GPU job waits with a reason while it runs", async () => {
    const job = await submit(server, {
      command: ["sh", "-c", "sleep 60"],
      resources: { gpus: 3, gpuType: "h100", ...SMALL },
    });
    const waiting = await waitFor(
      async () => {
        const shown = await getJob(server, job.id);
        return shown.job.state === "queued" && /wait/i.test(shown.job.stateReason) ? shown : undefined;
      },
      15_000,
      "the 3-GPU job to wait with a reason",
    );
    expect(waiting.job.stateReason).toMatch(/3/);
    expect(waiting.job.stateReason).toMatch(/2/);
    const cancelled = await server.call("POST", `/api/v1/jobs/${job.id}/cancel`);
    expect(cancelled.status).toBeLessThan(300);
  });

  it("stop frees its GPUs and keeps the home; start brings back the same host key and the file", async () => {
    const stopped = await server.call(
      "POST",
      `/api/v1/workspaces/${workspace.id}/stop`,
      undefined,
      alice.token,
    );
    expect(stopped.status, JSON.stringify(stopped.body)).toBe(200);
    await waitForWorkspace(server, workspace.id, "stopped", alice.token);
    await waitForState(server, workspace.jobId as string, "cancelled");
    const gpus = (await server.call("GET", "/api/v1/gpus")).body as { devices: Array<{ heldBy: unknown }> };
    expect(gpus.devices.filter((device) => device.heldBy !== null)).toHaveLength(0);

    const started = await server.call(
      "POST",
      `/api/v1/workspaces/${workspace.id}/start`,
      undefined,
      alice.token,
    );
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    const running = await waitForWorkspace(server, workspace.id, "running", alice.token);
    expect(running.jobId).not.toBe(workspace.jobId);
    expect(running.hostKeyFingerprint).toBe(workspace.hostKeyFingerprint);
    const again = await connectionOf(server, workspace.id, alice.token);
    expect(again.hostPublicKey).toBe(connection.hostPublicKey);
    // StrictHostKeyChecking=yes against the pinned key: the host key is the same after the restart.
    const result = await ssh(sshArgs(again, alice.keyFile, knownHostsFor(again)), "cat ~/notes.txt");
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe("persisted\n");

    const audit = (await server.call("GET", `/api/v1/audit?subjectType=workspace&subjectId=${workspace.id}`))
      .body as { events: Array<{ action: string }> };
    const actions = audit.events.map((event) => event.action);
    expect(actions).toEqual(
      expect.arrayContaining(["workspace.created", "workspace.started", "workspace.stopped"]),
    );
  }, 60_000);
});
