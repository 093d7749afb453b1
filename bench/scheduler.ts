import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadConfig } from "../src/config.js";
import { createJob } from "../src/jobs/job.js";
import { scheduleQueuedJobs } from "../src/jobs/scheduler.js";
import { syntheticScheduleInput } from "../test/support/synthetic-queue.js";
import { createPlatform, type Logger } from "../src/platform.js";
import { SqlJobStore } from "../src/store/repositories/jobs.js";

/**
 * Scheduler (docs/performance-targets.md): one scheduling pass over 10,000 queued jobs (target <= 50 ms), next to the pass
 * over a 1-job queue; and submit -> running on the local runtime (target p50 <= 200 ms), next to a bare
 * `child_process.spawn` of the same command. Also the whole loop pass (database read of the queue, the
 * pure pass, waiting-reason writes) over 10,000 queued jobs on SQLite.
 */
const QUEUE = 10_000;
const PASSES = 30;
const SUBMITS = 30;
const COMMAND = ["sleep", "0.05"];

const quiet: Logger = { info() {}, warn() {}, error() {} };

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function line(name: string, figure: number, baseline: number, unit: string, target: string): void {
  const ratio = baseline > 0 ? (figure / baseline).toFixed(1) : "-";
  process.stdout.write(
    `${name.padEnd(44)} ${figure.toFixed(2).padStart(9)} ${unit}   baseline ${baseline.toFixed(2).padStart(8)} ${unit}   x${ratio}   (${target})\n`,
  );
}

function timePasses(jobs: number): number[] {
  const input = syntheticScheduleInput({ jobs });
  for (let i = 0; i < 5; i++) scheduleQueuedJobs(input); // warm-up (JIT)
  const times: number[] = [];
  for (let i = 0; i < PASSES; i++) {
    const started = performance.now();
    scheduleQueuedJobs(input);
    times.push(performance.now() - started);
  }
  return times;
}

async function bareSpawn(): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < SUBMITS; i++) {
    const started = performance.now();
    const child = spawn(COMMAND[0], COMMAND.slice(1), { stdio: "ignore" });
    await new Promise<void>((resolve, reject) => {
      child.once("spawn", () => resolve());
      child.once("error", reject);
    });
    times.push(performance.now() - started);
    await new Promise((resolve) => child.once("exit", resolve));
  }
  return times;
}

async function platformFigures(
  dataDir: string,
): Promise<{ latencies: number[]; loopPass: number; sandbox: string }> {
  const adminToken = "bench-admin-token-0123456789abcdef";
  const config = loadConfig({
    env: { MLOPS_ADMIN_TOKEN: adminToken, MLOPS_GPUS: "h100:4", MLOPS_LOG_LEVEL: "silent" },
    flags: { dataDir, port: 0 },
  });
  const platform = await createPlatform(config, quiet);
  try {
    const principal = await platform.identity.authenticate(adminToken);
    platform.leader.start();
    for (let i = 0; i < 100 && !platform.leader.isHeld(); i++) await new Promise((r) => setTimeout(r, 20));
    for (const loop of platform.loops) loop.start();
    const store = new SqlJobStore(platform.store);
    const latencies: number[] = [];
    for (let i = 0; i < SUBMITS + 3; i++) {
      const job = await platform.jobs.submit(principal, {
        name: `bench-${i}`,
        command: COMMAND,
        resources: { cpu: 0.1, memoryMiB: 64, gpus: 1 },
      });
      let current = await store.getJob(job.id);
      while (current && (current.state === "queued" || current.state === "scheduled")) {
        await new Promise((resolve) => setImmediate(resolve));
        current = await store.getJob(job.id);
      }
      // The recorded times: submit (job created) -> the transition to running (replica started).
      if (i >= 3 && current?.startedAt)
        latencies.push(Date.parse(current.startedAt) - Date.parse(job.submittedAt));
    }
    for (const loop of platform.loops) await loop.stop();

    // The loop's pass over a large queue: 10,000 queued jobs that cannot all run.
    const project = await platform.identity.getProject(principal, "default");
    for (let i = 0; i < QUEUE; i++) {
      const job = createJob(
        {
          projectId: project.id,
          command: ["true"],
          resources: { cpu: 0.1, memoryMiB: 64, gpus: 1 + (i % 2) },
        },
        `queued-${i}`,
        new Date(Date.now() - QUEUE + i),
      );
      job.state = "queued";
      await store.insertJob(job, {
        at: Date.now(),
        from: null,
        to: "queued",
        attempt: 0,
        actor: "bench",
        reason: "submitted",
        details: {},
      });
    }
    const loop = platform.loops.find((candidate) => candidate.name === "job-scheduler") as unknown as {
      schedulePass(): Promise<string[]>;
    };
    // Not started: every pass is timed alone. The first pass writes waiting reasons (capped per pass).
    const passTimes: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      await loop.schedulePass();
      passTimes.push(performance.now() - started);
    }
    return {
      latencies,
      loopPass: percentile(passTimes.slice(1), 50),
      sandbox: platform.runtime.describe().sandbox,
    };
  } finally {
    await platform.close();
  }
}

export async function run(): Promise<void> {
  const big = timePasses(QUEUE);
  const small = timePasses(1);
  line(
    "scheduling pass, 10,000 queued jobs (p50)",
    percentile(big, 50),
    percentile(small, 50),
    "ms",
    "target <= 50 ms",
  );
  line(
    "scheduling pass, 10,000 queued jobs (max)",
    Math.max(...big),
    Math.max(...small),
    "ms",
    "baseline: 1-job queue",
  );

  const dataDir = mkdtempSync(path.join(os.tmpdir(), "mlops-bench-scheduler-"));
  try {
    const spawnTimes = await bareSpawn();
    const { latencies, loopPass, sandbox } = await platformFigures(dataDir);
    line(
      "submit -> running, local runtime (p50)",
      percentile(latencies, 50),
      percentile(spawnTimes, 50),
      "ms",
      "target <= 200 ms",
    );
    line(
      "submit -> running, local runtime (p95)",
      percentile(latencies, 95),
      percentile(spawnTimes, 95),
      "ms",
      `sandbox: ${sandbox}`,
    );
    line(
      "loop pass incl. SQLite, 10,000 queued (p50)",
      loopPass,
      percentile(big, 50),
      "ms",
      "baseline: the pure pass",
    );
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
