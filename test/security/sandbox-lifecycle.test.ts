import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, expect, it } from "vitest";
import {
  type JobView,
  type ReplicaView,
  SMALL,
  startJobServer,
  submit,
  waitForState,
} from "../jobs-helpers.js";
import { runCliProcess } from "../support/cli.js";
import { describeEachDatabase } from "../support/databases.js";
import { type ServerProcess, spawnServer, waitFor } from "../support/processes.js";
import { TEST_ADMIN_TOKEN, type TestServer } from "../support/server.js";
import { describeSandboxed } from "./sandbox-support.js";

/**
 * The job sandbox around a job's life (docs/security.md): fail closed without bubblewrap, work dirs gone
 * when the job is over, and the token of a job that ended while no control plane ran revoked at
 * reconcile.
 */
const processes: ServerProcess[] = [];
const cleanups: Array<() => void> = [];
afterEach(async () => {
  for (const server of processes.splice(0)) await server.kill("SIGKILL");
  for (const cleanup of cleanups.splice(0)) cleanup();
});

async function call<T>(
  url: string,
  method: string,
  urlPath: string,
  body?: unknown,
  token = TEST_ADMIN_TOKEN,
) {
  const response = await fetch(url + urlPath, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
}

function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const showJob = (url: string, id: string) =>
  call<{ job: JobView; replicas: ReplicaView[] }>(url, "GET", `/api/v1/jobs/${id}`).then(
    (reply) => reply.body,
  );

it("fails closed: with no bwrap on PATH no job runs, and /readyz and `mlops gpus` say why; MLOPS_SANDBOX=none runs it", async () => {
  const noBwrap = tempDir("path-without-bwrap-");
  const base = { MLOPS_ADMIN_TOKEN: TEST_ADMIN_TOKEN, MLOPS_LEASE_TTL_MS: "1000", PATH: noBwrap };
  const closed = await spawnServer({ ...base, MLOPS_DATA_DIR: tempDir("mlops-failclosed-") });
  processes.push(closed);
  const ready = await call<Record<string, string>>(closed.url, "GET", "/readyz");
  expect(ready.status).toBe(200); // the API itself works
  expect(ready.body).toMatchObject({ status: "ready", sandbox: "unavailable" });
  expect(ready.body.sandboxWarning).toMatch(/JOB EXECUTION DISABLED.*bwrap/);
  const job = await call<JobView>(closed.url, "POST", "/api/v1/jobs", {
    command: ["sh", "-c", "echo ran"],
    resources: SMALL,
  });
  expect(job.status).toBe(201);
  const waiting = await waitFor(
    async () => {
      const shown = await showJob(closed.url, job.body.id);
      return shown.job.stateReason.includes("no working sandbox") ? shown : undefined;
    },
    15_000,
    "the job's wait reason",
  );
  expect(waiting.job.state).toBe("queued");
  expect(waiting.job.stateReason).toMatch(/MLOPS_SANDBOX=none/);
  expect(waiting.replicas).toEqual([]);
  const gpus = await runCliProcess(["gpus"], { MLOPS_URL: closed.url, MLOPS_TOKEN: TEST_ADMIN_TOKEN });
  expect(gpus.code, gpus.stderr).toBe(0);
  expect(gpus.stdout).toMatch(/sandbox: UNAVAILABLE — WARNING: no job will run/);

  const open = await spawnServer({
    ...base,
    MLOPS_DATA_DIR: tempDir("mlops-nosandbox-"),
    MLOPS_SANDBOX: "none",
  });
  processes.push(open);
  const warned = await call<Record<string, string>>(open.url, "GET", "/readyz");
  expect(warned.body).toMatchObject({ sandbox: "none" });
  expect(warned.body.sandboxWarning).toMatch(/JOBS RUN WITHOUT ISOLATION/);
  const ran = await call<JobView>(open.url, "POST", "/api/v1/jobs", {
    command: ["sh", "-c", "echo ran"],
    resources: SMALL,
  });
  await waitFor(
    async () => ((await showJob(open.url, ran.body.id)).job.state === "succeeded" ? true : undefined),
    20_000,
    "the unsandboxed job to succeed",
  );
  const loud = await runCliProcess(["gpus"], { MLOPS_URL: open.url, MLOPS_TOKEN: TEST_ADMIN_TOKEN });
  expect(loud.stdout).toMatch(/sandbox: NONE — WARNING: jobs are NOT isolated/);
}, 90_000);

describeSandboxed("security: job sandbox lifecycle", () => {
  describeEachDatabase("work dirs", (kind) => {
    let server: TestServer;
    afterEach(async () => {
      await server?.stop();
    });

    it("a job's dir is removed once the job is over (succeeded or failed)", async () => {
      server = await startJobServer(kind);
      const ok = await submit(server, {
        command: ["sh", "-c", "echo model > mlops-output/model.bin"],
        resources: SMALL,
      });
      const bad = await submit(server, { command: ["sh", "-c", "echo x > big; exit 3"], resources: SMALL });
      await waitForState(server, ok.id, "succeeded");
      await waitForState(server, bad.id, "failed");
      for (const id of [ok.id, bad.id]) {
        await waitFor(
          async () => (existsSync(path.join(server.dataDir, "jobs", id)) ? undefined : true),
          5_000,
          `job ${id}'s dir to be removed`,
        );
      }
    }, 40_000);
  });

  it("revokes the token of a job that ended while the control plane was down", async () => {
    const dataDir = tempDir("mlops-revoke-");
    const env = { MLOPS_DATA_DIR: dataDir, MLOPS_ADMIN_TOKEN: TEST_ADMIN_TOKEN, MLOPS_LEASE_TTL_MS: "1000" };
    const first = await spawnServer(env);
    processes.push(first);
    const job = await call<JobView>(first.url, "POST", "/api/v1/jobs", {
      command: ["sh", "-c", "sleep 3"],
      resources: SMALL,
    });
    await waitFor(
      async () => ((await showJob(first.url, job.body.id)).job.state === "running" ? true : undefined),
      15_000,
      "the job to run",
    );
    // The token as the workload has it (the runtime's env script, readable by root only).
    const script = readFileSync(
      path.join(dataDir, "runtime", "replicas", `${job.body.id}.a0.r0`, "env.sh"),
      "utf8",
    );
    const token = /^export MLOPS_TOKEN='([^']+)'$/m.exec(script)?.[1];
    expect(token).toBeDefined();
    expect((await call(first.url, "GET", `/api/v1/jobs/${job.body.id}`, undefined, token)).status).not.toBe(
      401,
    );
    await first.kill("SIGKILL");
    await new Promise((resolve) => setTimeout(resolve, 4000)); // the job ends while no control plane runs

    const second = await spawnServer(env);
    processes.push(second);
    await waitFor(
      async () => ((await showJob(second.url, job.body.id)).job.state === "succeeded" ? true : undefined),
      15_000,
      "the job to be reconciled",
    );
    await waitFor(
      async () =>
        (await call(second.url, "GET", `/api/v1/jobs/${job.body.id}`, undefined, token)).status === 401
          ? true
          : undefined,
      5_000,
      "the job's token to be refused",
    );
  }, 60_000);
});
