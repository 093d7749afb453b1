import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachDatabase } from "./support/databases.js";
import { waitFor } from "./support/processes.js";
import type { TestServer } from "./support/server.js";
import {
  FIXTURES_DIR,
  getJob,
  logsOf,
  SMALL,
  startJobServer,
  submit,
  uploadCode,
  waitForState,
} from "./jobs-helpers.js";

/** Live processes whose command line contains `marker` (zombies excluded). */
function processesWith(marker: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, "utf8");
      const state = readFileSync(`/proc/${name}/stat`, "utf8").split(") ")[1]?.[0];
      if (cmdline.includes(marker) && state !== "Z") found.push(Number(name));
    } catch {
      // gone while we looked
    }
  }
  return found;
}

/**
 * Misbehaving workloads (test/fixtures/workloads) through the whole platform: each ends in the right
 * state, frees its GPU, leaves no process behind; retries, timeouts, cancel and the sandbox.
 */
describeEachDatabase("jobs with misbehaving workloads", (kind) => {
  let server: TestServer;
  let code: string;

  beforeAll(async () => {
    server = await startJobServer(kind, { MLOPS_GPUS: "h100:4", MLOPS_JOB_STOP_GRACE_SECONDS: "1" });
    code = await uploadCode(server, FIXTURES_DIR);
  });
  afterAll(async () => {
    await server?.stop();
  });

  const gpuJob = (name: string, command: string[], extra: Record<string, unknown> = {}) =>
    submit(server, { name, command, codeDigest: code, resources: { ...SMALL, gpus: 1 }, ...extra });

  it("crash, hang past its timeout, garbage, silence, forked children, retries: right end state, GPUs freed", async () => {
    const marker = `${Math.floor(200000 + Math.random() * 700000)}`;
    const crash = await gpuJob("crash", ["sh", "crash.sh"]);
    const retried = await gpuJob("crash-retried", ["sh", "crash.sh"], { maxRetries: 2 });
    const hang = await gpuJob("hang-timeout", ["sh", "hang-ignore-term.sh"], { timeoutSeconds: 1 });
    const garbage = await gpuJob("garbage", ["sh", "garbage.sh"]);
    const silent = await gpuJob("silent", ["sh", "silent.sh"]);
    const fork = await gpuJob("fork", ["sh", "fork-orphans.sh", marker]);

    const crashed = await waitForState(server, crash.id, "failed");
    expect(crashed.job.stateReason).toBe("exited with code 3");
    expect(crashed.replicas[0].exitCode).toBe(3);
    expect(await logsOf(server, crash.id, "?stream=stderr")).toContain("fatal: something broke");
    expect(await logsOf(server, crash.id, "?stream=stdout")).toBe("working...\n");

    const retriedEnd = await waitForState(server, retried.id, "failed", 30_000);
    expect(retriedEnd.job.attempt).toBe(2);
    expect(retriedEnd.replicas.map((r) => [r.attempt, r.exitCode])).toEqual([
      [0, 3],
      [1, 3],
      [2, 3],
    ]);
    const events = (await server.call("GET", `/api/v1/jobs/${retried.id}/events`)).body as {
      events: Array<{ to: string; reason: string }>;
    };
    expect(events.events.filter((e) => e.to === "queued").map((e) => e.reason)).toEqual([
      "submitted",
      "retry 1 of 2: exited with code 3",
      "retry 2 of 2: exited with code 3",
    ]);

    const hung = await waitForState(server, hang.id, "failed", 20_000);
    expect(hung.job.stateReason).toMatch(/^timed out after 1 s \(ended by SIGKILL\)/);
    expect(hung.replicas[0].end).toBe("timeout");

    const garbled = await waitForState(server, garbage.id, "succeeded");
    expect((await logsOf(server, garbage.id, "?stream=stdout")).length).toBeGreaterThan(1024 * 1024);
    const quiet = await waitForState(server, silent.id, "succeeded");
    expect(quiet.replicas[0].exitCode).toBe(0);
    expect(await logsOf(server, silent.id)).toBe("");

    await waitForState(server, fork.id, "succeeded");
    expect(await logsOf(server, fork.id)).toBe("forked\n");
    expect(processesWith(`sleep ${marker}`)).toEqual([]);
    expect(garbled.replicas[0].stdoutSha256).toMatch(/^[0-9a-f]{64}$/);

    const gpus = (await server.call("GET", "/api/v1/gpus")).body as { devices: Array<{ heldBy: unknown }> };
    expect(gpus.devices.filter((device) => device.heldBy !== null)).toEqual([]);
  }, 60_000);

  it("cancel: a queued job at once, a running one by stopping it", async () => {
    const running = await gpuJob("to-cancel", ["sh", "hang.sh"]);
    await waitForState(server, running.id, "running");
    const blockers = await Promise.all([1, 2, 3].map((i) => gpuJob(`blocker-${i}`, ["sh", "hang.sh"])));
    await Promise.all(blockers.map((job) => waitForState(server, job.id, "running")));
    const queued = await gpuJob("queued-cancel", ["true"]);
    const cancelQueued = await server.call("POST", `/api/v1/jobs/${queued.id}/cancel`);
    expect(cancelQueued.status).toBe(200);
    expect((cancelQueued.body as { state: string }).state).toBe("cancelled");

    const cancel = await server.call("POST", `/api/v1/jobs/${running.id}/cancel`);
    expect(cancel.status).toBe(200);
    expect((cancel.body as { cancelRequested: boolean }).cancelRequested).toBe(true);
    const cancelled = await waitForState(server, running.id, "cancelled");
    expect(cancelled.replicas[0].end).toBe("stopped");
    expect(cancelled.replicas[0].signal).toBe("SIGTERM");
    for (const job of blockers) await server.call("POST", `/api/v1/jobs/${job.id}/cancel`);
    await Promise.all(blockers.map((job) => waitForState(server, job.id, "cancelled")));
    const again = await server.call("POST", `/api/v1/jobs/${running.id}/cancel`);
    expect(again.status).toBe(409);
    const run = await server.platform.tracking.lookupRun(cancelled.job.runId!);
    expect(run?.info.status).toBe("KILLED");
    expect(run?.tags["mlops.job_id"]).toBe(running.id);
  }, 40_000);

  it("a job cannot read the platform's database file or another job's directory", async () => {
    // Still running while the others snoop: a finished job's dir is removed.
    const other = await submit(server, {
      name: "neighbour",
      command: ["sh", "-c", "echo secret > mine.txt; exec sleep 60"],
      codeDigest: code,
      resources: SMALL,
    });
    await waitForState(server, other.id, "running");
    const neighbourFile = path.join(server.dataDir, "jobs", other.id, "mine.txt");
    await waitFor(async () => (existsSync(neighbourFile) ? true : undefined), 10_000, "the neighbour's file");
    expect(readFileSync(neighbourFile, "utf8")).toBe("secret\n");
    const targets = [neighbourFile, path.join(server.dataDir, "jobs", other.id)];
    if (kind === "sqlite") targets.push(path.join(server.dataDir, "mlops.db"));
    for (const target of targets) {
      const job = await submit(server, {
        name: "snoop",
        command: ["sh", "-c", `cat "${target}" || ls "${target}" | grep . || exit 9`],
        resources: SMALL,
      });
      const ended = await waitForState(server, job.id, ["failed", "succeeded"]);
      const output = await logsOf(server, job.id);
      expect(ended.job.state, `${target}: ${output}`).toBe("failed");
      expect(output).not.toContain("secret");
      expect(output).not.toContain("SQLite format");
    }
    await server.call("POST", `/api/v1/jobs/${other.id}/cancel`);
  }, 30_000);

  it("a job over its memory limit fails instead of taking the machine", async () => {
    const job = await submit(server, {
      name: "memory-hog",
      command: ["/usr/bin/python3", "memory-hog.py"],
      codeDigest: code,
      resources: { cpu: 0.1, memoryMiB: 256 },
    });
    const ended = await waitForState(server, job.id, ["failed", "succeeded"], 30_000);
    expect(ended.job.state).toBe("failed");
    // A cgroup OOM-kills it; an rlimit makes its allocation fail (docs/security.md).
    const replica = (await getJob(server, job.id)).replicas[0];
    if (server.platform.runtime.describe().memoryLimit === "cgroup") expect(replica.signal).toBe("SIGKILL");
    else {
      expect(await logsOf(server, job.id)).toMatch(/MemoryError/);
      expect(replica.exitCode).toBe(1);
    }
  }, 40_000);
});
