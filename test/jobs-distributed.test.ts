import { readdirSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { readSse } from "../src/cli/commands/jobs-follow.js";
import { describeEachDatabase } from "./support/databases.js";
import { waitFor } from "./support/processes.js";
import type { TestServer } from "./support/server.js";
import { getJob, logsOf, startJobServer, submit, waitForState } from "./jobs-helpers.js";

/** Host pids whose command line contains `marker` (zombies excluded). */
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

const heldGpus = async (server: TestServer) => {
  const view = (await server.call("GET", "/api/v1/gpus")).body as { devices: Array<{ heldBy: unknown }> };
  return view.devices.filter((device) => device.heldBy !== null).length;
};

const PRINT_RANK =
  'echo "rank=$RANK local=$LOCAL_RANK world=$WORLD_SIZE node=$NODE_RANK cvd=$CUDA_VISIBLE_DEVICES ' +
  'master=$MASTER_ADDR:$MASTER_PORT replica=$MLOPS_REPLICA_INDEX"; echo "err-$RANK" >&2';

/**
 * Distributed jobs through the API on the local runtime (real sandbox, real processes, declared GPUs):
 * one replica per rank with its own devices and the torchrun environment, gangs that cannot fit wait
 * with a reason, one rank's death stops the gang and frees everything, per-rank and interleaved logs.
 */
describeEachDatabase("distributed jobs", (kind) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startJobServer(kind, { MLOPS_GPUS: "h100:4", MLOPS_JOB_STOP_GRACE_SECONDS: "1" });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("1 node x 4 ranks x 1 GPU: four processes, four distinct CUDA_VISIBLE_DEVICES, one rendezvous", async () => {
    const job = await submit(server, {
      name: "ddp-4",
      command: ["sh", "-c", PRINT_RANK],
      nodes: 1,
      procsPerNode: 4,
      resources: { gpus: 4, gpuType: "h100", cpu: 0.4, memoryMiB: 1024 },
    });
    expect(job).toMatchObject({ replicas: 4, distributed: { nodes: 1, procsPerNode: 4 } });
    const done = await waitForState(server, job.id, ["succeeded", "failed"]);
    expect(done.job.state, done.job.stateReason).toBe("succeeded");
    expect(done.replicas.map((r) => [r.replicaIndex, r.gpuUuids])).toEqual([
      [0, ["SIM-h100-0"]],
      [1, ["SIM-h100-1"]],
      [2, ["SIM-h100-2"]],
      [3, ["SIM-h100-3"]],
    ]);
    const lines: string[] = [];
    for (let rank = 0; rank < 4; rank++) {
      const out = await logsOf(server, job.id, `?rank=${rank}&stream=stdout`);
      expect(out).not.toMatch(/\[rank/); // one rank's view is its plain output
      lines.push(out.trim());
    }
    const parsed = lines.map((line) => Object.fromEntries(line.split(" ").map((kv) => kv.split("="))));
    expect(parsed.map((env) => env.cvd)).toEqual(["0", "1", "2", "3"]);
    expect(parsed.map((env) => [env.rank, env.local, env.world, env.node, env.replica])).toEqual([
      ["0", "0", "4", "0", "0"],
      ["1", "1", "4", "0", "1"],
      ["2", "2", "4", "0", "2"],
      ["3", "3", "4", "0", "3"],
    ]);
    expect(new Set(parsed.map((env) => env.master)).size).toBe(1);
    expect(parsed[0].master).toMatch(/^127\.0\.0\.1:\d+$/);
    // All ranks interleaved (the default for a job with several ranks), each line prefixed.
    const all = await logsOf(server, job.id);
    for (let rank = 0; rank < 4; rank++) {
      expect(all).toContain(`[rank ${rank}] rank=${rank} local=${rank}`);
      expect(all).toContain(`[rank ${rank}] err-${rank}`);
    }
    expect(all.trim().split("\n")).toHaveLength(8);
    expect(await heldGpus(server)).toBe(0);
    const missing = await server.call("GET", `/api/v1/jobs/${job.id}/logs?rank=4`);
    expect(missing.status).toBe(400);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/mlops_job_queue_wait_seconds_count\{gpu_type="h100"\} [1-9]/);
    expect(metrics).toMatch(/mlops_job_time_to_start_seconds_count\{gpu_type="h100"\} [1-9]/);
  }, 40_000);

  it("follows all ranks live over SSE, interleaved line by line with the rank prefix", async () => {
    const script =
      'for i in 1 2 3; do echo "tick $i of $RANK"; sleep 0.3; done; printf "no newline at the end $RANK"';
    const job = await submit(server, {
      name: "ddp-follow",
      command: ["sh", "-c", script],
      nodes: 2,
      procsPerNode: 1,
      resources: { cpu: 0.1, memoryMiB: 256 },
    });
    const response = await fetch(`${server.url}/api/v1/jobs/${job.id}/logs?follow=1`, {
      headers: { authorization: `Bearer ${server.adminToken}`, accept: "text/event-stream" },
    });
    expect(response.status).toBe(200);
    let text = "";
    let end: { state: string } | undefined;
    for await (const message of readSse(response.body as unknown as AsyncIterable<Uint8Array>)) {
      const payload = JSON.parse(message.data) as { text?: string; rank?: number; state: string };
      if (message.event === "log") {
        expect(payload.text).toMatch(new RegExp(`^\\[rank ${payload.rank}\\] [^\\n]*\\n$`));
        text += payload.text;
      }
      if (message.event === "end") end = payload;
    }
    expect(end?.state).toBe("succeeded");
    for (const rank of [0, 1]) {
      for (const i of [1, 2, 3]) expect(text).toContain(`[rank ${rank}] tick ${i} of ${rank}\n`);
      expect(text).toContain(`[rank ${rank}] no newline at the end ${rank}\n`);
    }
  }, 30_000);

  it("a gang node larger than any node is accepted and waits, saying so; cancel frees it", async () => {
    const big = await submit(server, {
      name: "too-wide",
      command: ["true"],
      nodes: 1,
      procsPerNode: 5,
      resources: { gpus: 5, gpuType: "h100", cpu: 0.5, memoryMiB: 500 },
    });
    const reason =
      "cannot run on the current inventory: needs 5 h100 GPUs on one node, the largest node has 4";
    expect(big.state).toBe("queued");
    expect(big.stateReason).toBe(reason);
    // A scheduling pass keeps it waiting with the same reason, and lets a smaller job past it.
    const small = await submit(server, {
      command: ["true"],
      resources: { gpus: 1, cpu: 0.1, memoryMiB: 64 },
    });
    await waitForState(server, small.id, "succeeded");
    const still = await getJob(server, big.id);
    expect(still.job).toMatchObject({ state: "queued", stateReason: reason });
    expect((await server.call("POST", `/api/v1/jobs/${big.id}/cancel`)).status).toBe(200);
    await waitForState(server, big.id, "cancelled");
  }, 30_000);

  it("killing rank 1 stops rank 0, fails the job, frees its GPUs and leaves no process", async () => {
    const marker = `rank-victim-${Math.floor(100000 + Math.random() * 800000)}`;
    const job = await submit(server, {
      name: marker,
      // exec: the marker is in the workload process's own command line.
      command: ["sh", "-c", `exec sh -c 'echo started $RANK; while :; do sleep 0.2; done' ${marker}`],
      nodes: 1,
      procsPerNode: 2,
      resources: { gpus: 2, gpuType: "h100", cpu: 0.2, memoryMiB: 256 },
    });
    const running = await waitForState(server, job.id, "running");
    expect(await heldGpus(server)).toBe(2);
    const rank1 = running.replicas.find((replica) => replica.replicaIndex === 1)!;
    expect(rank1.pid).toBeGreaterThan(1);
    await waitFor(
      async () => ((await logsOf(server, job.id, "?rank=1")).includes("started 1") ? true : undefined),
      10_000,
      "rank 1 to print",
    );
    expect(processesWith(marker).length).toBeGreaterThanOrEqual(2);
    // `job show` data: each running rank with its own live sample (CPU cores, resident memory).
    const shown = await getJob(server, job.id);
    const usage = shown.replicas.map((replica) => (replica as { usage?: { memoryBytes?: number } }).usage);
    expect(usage.map((sample) => (sample?.memoryBytes ?? 0) > 0)).toEqual([true, true]);
    process.kill(rank1.pid!, "SIGKILL");
    const failed = await waitForState(server, job.id, ["failed", "succeeded", "cancelled"]);
    expect(failed.job.state).toBe("failed");
    expect(failed.job.stateReason).toMatch(/^rank 1 killed by SIGKILL/);
    const byRank = failed.replicas.map((r) => [r.replicaIndex, r.end, r.signal]);
    expect(byRank).toEqual([
      [0, "stopped", expect.any(String)],
      [1, "exited", "SIGKILL"],
    ]);
    expect(await heldGpus(server)).toBe(0);
    await waitFor(async () => (processesWith(marker).length === 0 ? true : undefined), 5_000, "no process");
  }, 40_000);

  it("refuses malformed distributed requests with 400 and creates nothing", async () => {
    const before = ((await server.call("GET", "/api/v1/jobs?limit=500")).body as { jobs: unknown[] }).jobs
      .length;
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [
        { procsPerNode: 4, resources: { gpus: 2 } },
        /resources.gpus \(2 per node\) must divide evenly among procsPerNode \(4\)/,
      ],
      [{ nodes: 2, distributed: { nodes: 1, procsPerNode: 1 } }, /disagree/],
      [{ nodes: 0 }, /nodes/],
      [{ procsPerNode: 2, network: "none" }, /needs a network/],
      [{ procsPerNode: 2, env: { RANK: "3" } }, /RANK are set by the platform/],
      [{ kind: "workspace" }, /additional properties/],
      [{ ports: [{ name: "ssh" }] }, /additional properties/],
    ];
    for (const [body, message] of cases) {
      const response = await server.call("POST", "/api/v1/jobs", { command: ["true"], ...body });
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(JSON.stringify(response.body)).toMatch(message);
    }
    const after = ((await server.call("GET", "/api/v1/jobs?limit=500")).body as { jobs: unknown[] }).jobs
      .length;
    expect(after).toBe(before);
  });
});
