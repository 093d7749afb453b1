import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createTestDatabase, describePostgres, type TestDatabase } from "./support/databases.js";
import { type ServerProcess, spawnServer, waitFor } from "./support/processes.js";
import { TEST_ADMIN_TOKEN } from "./support/server.js";
import { type JobView, type ReplicaView, TERMINAL } from "./jobs-helpers.js";

/** Control planes as real processes: killed with SIGKILL mid-job, restarted, or two at once on PostgreSQL. */

interface Api {
  url: string;
  call<T>(method: string, urlPath: string, body?: unknown): Promise<T>;
}

function api(server: ServerProcess): Api {
  return {
    url: server.url,
    async call<T>(method: string, urlPath: string, body?: unknown): Promise<T> {
      const response = await fetch(server.url + urlPath, {
        method,
        headers: {
          authorization: `Bearer ${TEST_ADMIN_TOKEN}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      if (!response.ok) throw new Error(`${method} ${urlPath}: ${response.status} ${text}`);
      return (text ? JSON.parse(text) : undefined) as T;
    },
  };
}

const SMALL = { cpu: 0.1, memoryMiB: 128, gpus: 1 };

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
const show = (client: Api, id: string) =>
  client.call<{ job: JobView; replicas: ReplicaView[] }>("GET", `/api/v1/jobs/${id}`);

function waitForJob(client: Api, id: string, states: string[], timeoutMs = 30_000) {
  return waitFor(
    async () => {
      const shown = await show(client, id);
      return states.includes(shown.job.state) ? shown : undefined;
    },
    timeoutMs,
    `job ${id} to reach ${states.join("|")}`,
  );
}

const processes: ServerProcess[] = [];
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const server of processes.splice(0)) await server.kill("SIGKILL");
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

describe("control plane killed with SIGKILL while jobs run [sqlite]", () => {
  it("after a restart every job is reconciled: ended ones get their exit, lost ones fail, running ones finish", async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), "mlops-restart-"));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const env = {
      MLOPS_DATA_DIR: dataDir,
      MLOPS_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      MLOPS_GPUS: "h100:4",
      MLOPS_LEASE_TTL_MS: "1500",
      MLOPS_JOB_STOP_GRACE_SECONDS: "1",
    };
    const first = await spawnServer(env);
    processes.push(first);
    const a = api(first);
    const submit = (name: string, script: string) =>
      a.call<JobView>("POST", "/api/v1/jobs", { name, command: ["sh", "-c", script], resources: SMALL });
    const finishes = await submit("finishes-while-down", "sleep 2; echo done");
    const fails = await submit("fails-while-down", "sleep 2; exit 4");
    const lost = await submit("lost-while-down", "exec sleep 1000");
    const keeps = await submit("keeps-running", "sleep 6; echo survived");
    const queued = await submit("queued", "echo ran after the restart");
    for (const job of [finishes, fails, lost, keeps]) await waitForJob(a, job.id, ["running"], 15_000);
    expect((await show(a, queued.id)).job.state).toBe("queued");
    const keptPid = (await show(a, keeps.id)).replicas[0].pid;

    await first.kill("SIGKILL");
    // While no control plane runs, the "lost" job's supervisor dies too: its sandbox dies with it and
    // nobody records an exit.
    const replicaFile = (jobId: string, file: string) =>
      path.join(dataDir, "runtime", "replicas", `${jobId}.a0.r0`, file);
    const { supervisorPid } = JSON.parse(readFileSync(replicaFile(lost.id, "process.json"), "utf8")) as {
      supervisorPid: number;
    };
    process.kill(supervisorPid, "SIGKILL");
    // "Ended while down" must really have happened before the restart: wait for the supervisors' exit
    // records of the two short jobs (not a fixed sleep, which a loaded machine outlasts) and for the
    // killed supervisor to be gone.
    await waitFor(
      async () =>
        existsSync(replicaFile(finishes.id, "exit.json")) && existsSync(replicaFile(fails.id, "exit.json")),
      20_000,
      "the exit records of the jobs that end while no control plane runs",
    );
    await waitFor(async () => !isAlive(supervisorPid), 5_000, `supervisor ${supervisorPid} to die`);
    expect(existsSync(replicaFile(lost.id, "exit.json"))).toBe(false);
    expect(existsSync(replicaFile(keeps.id, "exit.json"))).toBe(false);

    const second = await spawnServer(env);
    processes.push(second);
    const b = api(second);
    const finished = await waitForJob(b, finishes.id, ["succeeded", "failed"]);
    expect(finished.job.state).toBe("succeeded");
    expect(finished.replicas[0].exitCode).toBe(0);
    expect(
      await (
        await fetch(`${b.url}/api/v1/jobs/${finishes.id}/logs`, {
          headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
        })
      ).text(),
    ).toBe("done\n");
    const failed = await waitForJob(b, fails.id, ["succeeded", "failed"]);
    expect(failed.job.state).toBe("failed");
    expect(failed.replicas[0].exitCode).toBe(4);
    const lostEnd = await waitForJob(b, lost.id, ["succeeded", "failed"]);
    expect(lostEnd.job.state).toBe("failed");
    expect(lostEnd.replicas[0].end).toBe("lost");
    expect(lostEnd.job.stateReason).toMatch(/lost track/);
    const kept = await waitForJob(b, keeps.id, ["succeeded", "failed"]);
    expect(kept.job.state).toBe("succeeded");
    // The same process ran on through the restart, and its exit was recorded by the new control plane.
    expect(kept.replicas[0].pid).toBe(keptPid);
    expect(kept.replicas[0].exitCode).toBe(0);
    const late = await waitForJob(b, queued.id, ["succeeded", "failed"]);
    expect(late.job.state).toBe("succeeded");

    const { jobs } = await b.call<{ jobs: JobView[] }>("GET", "/api/v1/jobs");
    expect(jobs.filter((job) => !TERMINAL.has(job.state))).toEqual([]);
    const gpus = await b.call<{ devices: Array<{ heldBy: unknown }> }>("GET", "/api/v1/gpus");
    expect(gpus.devices.every((device) => device.heldBy === null)).toBe(true);
    const events = await b.call<{ events: Array<{ to: string; reason: string }> }>(
      "GET",
      `/api/v1/jobs/${finishes.id}/events`,
    );
    expect(events.events.map((e) => e.to)).toEqual(["queued", "scheduled", "running", "succeeded"]);
  }, 90_000);
});

describePostgres("two control planes on one PostgreSQL schema", () => {
  let database: TestDatabase;

  it("never schedule a job twice, also when the leader is killed midway", async () => {
    database = await createTestDatabase("postgres");
    const dataDir = mkdtempSync(path.join(os.tmpdir(), "mlops-two-"));
    cleanups.push(async () => {
      rmSync(dataDir, { recursive: true, force: true });
      await database.cleanup();
    });
    // One machine, two control planes: same database, same data dir (runtime state, artifacts).
    const env = {
      DATABASE_URL: database.postgresUrl!,
      MLOPS_DATABASE_SCHEMA: database.schema!,
      MLOPS_DATA_DIR: dataDir,
      MLOPS_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      MLOPS_GPUS: "h100:2",
      MLOPS_LEASE_TTL_MS: "1500",
    };
    const one = await spawnServer(env);
    processes.push(one);
    const two = await spawnServer(env);
    processes.push(two);
    const clients = [api(one), api(two)];
    const leaderIndex = await waitFor(
      async () => {
        const states = await Promise.all(
          clients.map((c) => c.call<{ leader: boolean }>("GET", "/api/v1/status")),
        );
        const index = states.findIndex((s) => s.leader);
        return index >= 0 ? index + 1 : undefined;
      },
      10_000,
      "a leader",
    );
    const leader = leaderIndex - 1;
    const survivor = clients[1 - leader];
    const submitted: string[] = [];
    for (let i = 0; i < 8; i++) {
      const job = await clients[i % 2].call<JobView>("POST", "/api/v1/jobs", {
        name: `job-${i}`,
        command: ["sh", "-c", "echo ran; sleep 0.5"],
        resources: SMALL,
      });
      submitted.push(job.id);
    }
    await waitFor(
      async () => {
        const states = await Promise.all(submitted.map((id) => show(survivor, id)));
        return states.filter((s) => s.job.state === "succeeded").length >= 2;
      },
      40_000,
      "a few jobs to finish",
    );
    await processes[leader].kill("SIGKILL");
    for (let i = 0; i < 4; i++) {
      const job = await survivor.call<JobView>("POST", "/api/v1/jobs", {
        name: `late-${i}`,
        command: ["sh", "-c", "echo ran; sleep 0.2"],
        resources: SMALL,
      });
      submitted.push(job.id);
    }
    const finals = await Promise.all(submitted.map((id) => waitForJob(survivor, id, [...TERMINAL], 60_000)));
    for (const final of finals) {
      const { events } = await survivor.call<{
        events: Array<{ from: string | null; to: string; attempt: number }>;
      }>("GET", `/api/v1/jobs/${final.job.id}/events`);
      // The history is one chain: every transition starts where the previous one ended. A job claimed
      // twice would show two queued -> scheduled in a row; a replica started twice, two -> running.
      for (let i = 1; i < events.length; i++) {
        expect(events[i].from, `job ${final.job.id} event ${i}`).toBe(events[i - 1].to);
      }
      for (let attempt = 0; attempt <= final.job.attempt; attempt++) {
        expect(events.filter((e) => e.attempt === attempt && e.to === "running").length).toBeLessThanOrEqual(
          1,
        );
      }
      expect(final.replicas.filter((r) => r.state !== "ended")).toEqual([]);
    }
    const unsuccessful = finals
      .filter((f) => f.job.state !== "succeeded")
      .map((f) => ({ job: f.job.name, state: f.job.state, reason: f.job.stateReason, replicas: f.replicas }));
    expect(unsuccessful).toEqual([]);
    // No device was ever used by two replicas at overlapping times.
    const uses = finals.flatMap((f) =>
      f.replicas.map((r) => ({ gpu: r.gpuUuids[0], from: r.startedAt!, to: r.endedAt! })),
    );
    for (const a of uses) {
      for (const b of uses) {
        if (a === b || a.gpu !== b.gpu) continue;
        expect(a.to <= b.from || b.to <= a.from, `${a.gpu} used twice at once`).toBe(true);
      }
    }
  }, 120_000);
});
