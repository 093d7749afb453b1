import { cpSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateSyntheticDataset } from "../src/demo/synthetic-data.js";
import type { JobView, ReplicaView } from "./jobs-helpers.js";
import { runCliProcess } from "./support/cli.js";
import { REPO_ROOT, type ServerProcess, spawnServer, waitFor } from "./support/processes.js";
import { TEST_ADMIN_TOKEN } from "./support/server.js";
import { type SlurmCluster, startSlurmCluster } from "./support/slurm.js";

/**
 * Jobs through the platform's API with MLOPS_RUNTIME=slurm, on a real private Slurm cluster
 * (test/support/slurm.ts) and a real control-plane process (killed with SIGKILL and restarted in the last
 * case). The platform admits; Slurm places and runs. No skip under CI=true: a missing Slurm fails setup.
 */
let cluster: SlurmCluster;
let dataDir: string;
let server: ServerProcess;
let env: Record<string, string>;

async function call<T>(method: string, urlPath: string, body?: unknown): Promise<T> {
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
}

async function logs(id: string, query = ""): Promise<string> {
  const response = await fetch(`${server.url}/api/v1/jobs/${id}/logs${query}`, {
    headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
  });
  return response.text();
}

const show = (id: string) => call<{ job: JobView; replicas: ReplicaView[] }>("GET", `/api/v1/jobs/${id}`);

function waitForJob(id: string, states: string[], timeoutMs = 45_000) {
  return waitFor(
    async () => {
      const shown = await show(id);
      return states.includes(shown.job.state) ? shown : undefined;
    },
    timeoutMs,
    `job ${id} to reach ${states.join("|")}`,
  );
}

/** Slurm jobs of this cluster that still hold an allocation (pending, running, completing). */
async function activeSlurmJobs(): Promise<string[]> {
  return (await cluster.cli("squeue", ["-h", "-o", "%i"])).split("\n").filter((line) => line.trim() !== "");
}

beforeAll(async () => {
  cluster = await startSlurmCluster({ gpus: 4, gpuType: "h100" });
  dataDir = mkdtempSync(path.join(os.tmpdir(), "mlops-slurm-api-"));
  env = {
    MLOPS_DATA_DIR: dataDir,
    MLOPS_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    MLOPS_RUNTIME: "slurm",
    MLOPS_SLURM_CONF: cluster.conf,
    MLOPS_SLURM_WORK_DIR: cluster.workDir,
    MLOPS_SLURM_PARTITION: cluster.partition,
    MLOPS_CLUSTER_PYTHON: "/usr/bin/python3",
    MLOPS_LEASE_TTL_MS: "1500",
    MLOPS_JOB_STOP_GRACE_SECONDS: "1",
  };
  server = await spawnServer(env, 60_000);
}, 90_000);

afterAll(async () => {
  await server?.kill("SIGKILL");
  await cluster?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe("jobs on Slurm through the API (MLOPS_RUNTIME=slurm)", () => {
  it("runs a 1-GPU job on Slurm with Slurm's CUDA_VISIBLE_DEVICES; the inventory is Slurm's", async () => {
    const inventory = JSON.stringify(await call<Record<string, unknown>>("GET", "/api/v1/gpus"));
    for (const n of [0, 1, 2, 3]) expect(inventory).toContain(`SLURM-${cluster.nodeName}-h100-${n}`);
    const job = await call<JobView>("POST", "/api/v1/jobs", {
      name: "one-gpu",
      command: ["sh", "-c", 'echo "cvd=$CUDA_VISIBLE_DEVICES slurm=$SLURM_JOB_ID"'],
      resources: { cpu: 1, memoryMiB: 256, gpus: 1, gpuType: "h100" },
    });
    const done = await waitForJob(job.id, ["succeeded", "failed", "cancelled"]);
    expect(done.job.state, await logs(job.id)).toBe("succeeded");
    expect(await logs(job.id)).toMatch(/^cvd=0 slurm=\d+\n$/);
  }, 60_000);

  it("trains the example on Slurm (code through the shared work dir) and registers a model", async () => {
    const codeDir = mkdtempSync(path.join(os.tmpdir(), "mlops-slurm-train-"));
    try {
      const example = path.join(REPO_ROOT, "examples", "vision-classifier");
      for (const file of readdirSync(example).filter((name) => name.endsWith(".py"))) {
        cpSync(path.join(example, file), path.join(codeDir, file));
      }
      await generateSyntheticDataset({ outDir: path.join(codeDir, "data"), count: 120, seed: 7 });
      const args = ["--json", "run", "submit", "--code", codeDir, "--name", "train-on-slurm", "--cpu", "1"];
      const result = await runCliProcess(
        [
          ...args,
          "--wait",
          "--",
          "python",
          "train.py",
          "--data",
          "data",
          "--epochs",
          "2",
          "--register",
          "slurm-model",
        ],
        { MLOPS_URL: server.url, MLOPS_TOKEN: TEST_ADMIN_TOKEN },
      );
      expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
      const job = JSON.parse(result.stdout) as { id: string; state: string };
      expect(job.state, await logs(job.id)).toBe("succeeded");
      const { versions } = await call<{ versions: Array<{ version: number }> }>(
        "GET",
        "/api/v1/models/slurm-model/versions",
      );
      expect(versions).toHaveLength(1);
    } finally {
      rmSync(codeDir, { recursive: true, force: true });
    }
  }, 120_000);

  it("runs a 2-rank DDP (gloo) job as one allocation with 2 tasks whose ranks agree", async () => {
    const script = [
      "import os, torch, torch.distributed as dist",
      "dist.init_process_group('gloo')",
      "t = torch.tensor([float(dist.get_rank() + 1)])",
      "dist.all_reduce(t)",
      "print(f\"rank={dist.get_rank()} world={dist.get_world_size()} job={os.environ['SLURM_JOB_ID']} ntasks={os.environ['SLURM_NTASKS']} sum={t.item()}\")",
    ].join("\n");
    const job = await call<JobView>("POST", "/api/v1/jobs", {
      name: "ddp",
      command: ["python", "-c", script],
      nodes: 1,
      procsPerNode: 2,
      resources: { cpu: 2, memoryMiB: 1024, gpus: 2, gpuType: "h100" },
    });
    const done = await waitForJob(job.id, ["succeeded", "failed", "cancelled"], 60_000);
    const [rank0, rank1] = [await logs(job.id, "?rank=0"), await logs(job.id, "?rank=1")];
    expect(done.job.state, `${rank0}\n${rank1}`).toBe("succeeded");
    const slurmJob = /job=(\d+)/.exec(rank0)?.[1];
    expect(rank0.trim()).toBe(`rank=0 world=2 job=${slurmJob} ntasks=2 sum=3.0`);
    expect(rank1.trim()).toBe(`rank=1 world=2 job=${slurmJob} ntasks=2 sum=3.0`);
  }, 90_000);

  it("cancel ends the Slurm job: nothing of it is left in squeue", async () => {
    const job = await call<JobView>("POST", "/api/v1/jobs", {
      name: "to-cancel",
      command: ["sh", "-c", "echo $SLURM_JOB_ID; exec sleep 120"],
      resources: { cpu: 1, memoryMiB: 256, gpus: 1 },
    });
    await waitForJob(job.id, ["running"]);
    const slurmJob = await waitFor(
      async () => /\d+/.exec(await logs(job.id))?.[0],
      15_000,
      "the Slurm job id",
    );
    expect(await activeSlurmJobs()).toContain(slurmJob);
    await call("POST", `/api/v1/jobs/${job.id}/cancel`);
    expect((await waitForJob(job.id, ["cancelled", "failed", "succeeded"])).job.state).toBe("cancelled");
    await waitFor(async () => !(await activeSlurmJobs()).includes(slurmJob), 20_000, "the Slurm job to end");
  }, 60_000);

  it("a job's timeout ends it on Slurm: failed with a timeout, allocation gone", async () => {
    const job = await call<JobView>("POST", "/api/v1/jobs", {
      name: "times-out",
      command: ["sh", "-c", "echo $SLURM_JOB_ID; exec sleep 120"],
      resources: { cpu: 1, memoryMiB: 256, gpus: 0 },
      timeoutSeconds: 2,
    });
    const done = await waitForJob(job.id, ["cancelled", "failed", "succeeded"]);
    expect(done.job.state).toBe("failed");
    expect(done.replicas[0].end).toBe("timeout");
    const slurmJob = /\d+/.exec(await logs(job.id))?.[0] ?? "none";
    await waitFor(async () => !(await activeSlurmJobs()).includes(slurmJob), 20_000, "the Slurm job to end");
  }, 60_000);

  it("after the control plane is killed mid-job and restarted, the outcome is recorded once", async () => {
    const job = await call<JobView>("POST", "/api/v1/jobs", {
      name: "survives-restart",
      command: ["sh", "-c", "sleep 8; echo survived; exit 0"],
      resources: { cpu: 1, memoryMiB: 256, gpus: 1 },
    });
    await waitForJob(job.id, ["running"]);
    await server.kill("SIGKILL");
    server = await spawnServer(env, 60_000);
    const done = await waitForJob(job.id, ["succeeded", "failed", "cancelled"]);
    expect(done.job.state).toBe("succeeded");
    expect(await logs(job.id)).toBe("survived\n");
    const { events } = await call<{ events: Array<{ to: string }> }>("GET", `/api/v1/jobs/${job.id}/events`);
    expect(events.map((event) => event.to)).toEqual(["queued", "scheduled", "running", "succeeded"]);
  }, 90_000);
});
